//! Storage against real databases (SQLite and PostgreSQL).

use std::time::Duration;

mod migrations;

use crm_storage::{Arg, SqlBuilder, statistics};
use crm_testkit::{Backend, TestDb, backend_tests};

/// A table grown by a bulk load is analysed (PostgreSQL), once per doubling, so that prepared
/// lookups are not left with a plan made for an empty table.
async fn a_grown_table_is_analysed(backend: Backend) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    sqlx::query("CREATE TABLE items (id BIGINT PRIMARY KEY)")
        .execute(db.pool())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    for chunk in (0..2000i64).collect::<Vec<_>>().chunks(500) {
        SqlBuilder::insert_rows("items (id)", chunk.iter().map(|id| [Arg::Int(*id)]))
            .build()
            .execute(&mut tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    if backend == Backend::Sqlite {
        // SQLite's planner uses the index without statistics.
        assert!(!statistics::analyze_if_grown(&mut conn, "items").await.unwrap());
        return;
    }
    // Counts reach other sessions once the inserting one reports them (within seconds).
    let mut analysed = false;
    for _ in 0..300 {
        if statistics::analyze_if_grown(&mut conn, "items").await.unwrap() {
            analysed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(analysed, "2,000 new rows were never analysed");
    let rows: f64 = sqlx::query_scalar(
        "SELECT CAST(reltuples AS DOUBLE PRECISION) FROM pg_class WHERE relname = 'items'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(rows, 2000.0);
    // Nothing changed since: not analysed again.
    assert!(!statistics::analyze_if_grown(&mut conn, "items").await.unwrap());
}

backend_tests!(a_grown_table_is_analysed);
