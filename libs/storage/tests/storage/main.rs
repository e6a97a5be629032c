//! Storage against real databases (SQLite and PostgreSQL).

use std::time::Duration;

mod migrations;
mod schema;
mod tls;

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

/// Waits until `db`'s pool holds `idle` idle connections (released connections return to the
/// pool in a task of their own).
async fn until_idle(db: &crm_storage::Db, idle: usize) {
    for _ in 0..500 {
        if db.pool().num_idle() == idle {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} idle connections, not {idle}", db.pool().num_idle());
}

/// A read connection is kept warm for the next read (the same session: its temporary table is
/// there), or handed to a read waiting for one; at most half of the pool is kept so; one out of
/// the pool past the recheck goes back to it; closing the database does not wait for warm ones.
async fn read_connections_are_kept_warm(backend: Backend) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await; // five connections: two may be warm
    let mut conn = db.read_conn().await.unwrap();
    sqlx::query("CREATE TEMP TABLE marker (x BIGINT)")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let session_kept = |mut conn: crm_storage::ReadConn| async move {
        sqlx::query("SELECT x FROM marker")
            .fetch_all(&mut *conn)
            .await
            .is_ok()
    };
    assert!(session_kept(db.read_conn().await.unwrap()).await);

    // Every connection out: the marked one is the first, a waiting read gets it.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(db.read_conn().await.unwrap());
    }
    let waiting = tokio::spawn({
        let db = db.clone();
        async move { session_kept(db.read_conn().await.unwrap()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    held.remove(0);
    assert!(
        waiting.await.unwrap(),
        "the waiting read was handed the warm connection"
    );
    drop(held);
    until_idle(&db, 3).await;

    tokio::time::sleep(crm_storage::RECHECK_AFTER).await;
    let conn = db.read_conn().await.unwrap();
    until_idle(&db, 4).await;
    drop(conn);
    tokio::time::timeout(Duration::from_secs(60), db.close())
        .await
        .expect("closing does not wait for warm connections");
}

backend_tests!(a_grown_table_is_analysed, read_connections_are_kept_warm);

/// A transaction left idle is ended by PostgreSQL after five minutes by default, and after the
/// limit an operator sets in the URL's options instead (the server ends it: the next statement
/// fails).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_transaction_is_ended() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let test_db = TestDb::new(Backend::Postgres);
    let db = test_db.connect().await;
    let default: String = sqlx::query_scalar("SELECT current_setting('idle_in_transaction_session_timeout')")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(default, "5min");
    db.close().await;

    let limited = crm_storage::Db::connect(
        &format!(
            "{}?options=-c%20idle_in_transaction_session_timeout%3D1s",
            test_db.url
        ),
        1,
    )
    .await
    .unwrap();
    let mut tx = limited.begin().await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = sqlx::query("SELECT 1").execute(&mut *tx).await;
    assert!(after.is_err(), "the idle transaction was ended by the server");
    drop(tx);
    limited.close().await;
}

/// A transaction begun for a call's remaining time has its statements cancelled by PostgreSQL
/// once they run past it; the next transaction on the same connection has no limit again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_calls_deadline_is_cancelled() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let test_db = TestDb::new(Backend::Postgres);
    // One connection, so that the second transaction runs where the first did.
    let db = crm_storage::Db::connect(&test_db.url, 1).await.unwrap();
    let mut tx = db.begin_within(Some(Duration::from_millis(200))).await.unwrap();
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(&mut *tx)
        .await
        .expect_err("cancelled at the limit");
    let code = err.as_database_error().and_then(|e| e.code()).unwrap_or_default();
    assert_eq!(code, "57014", "query_canceled: {err}");
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    let limit: String = sqlx::query_scalar("SELECT current_setting('statement_timeout')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(limit, "0", "the limit was the transaction's alone");
    tx.commit().await.unwrap();
    db.close().await;
}

/// A pool told to keep connections open opens them at start, before any work asks for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_opens_its_minimum_at_start() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let test_db = TestDb::new(Backend::Postgres);
    let name = test_db.url.rsplit('/').next().unwrap().to_string();
    let db = crm_storage::Db::connect_with(&test_db.url, 6, 4).await.unwrap();
    let admin = crm_storage::Db::connect(&std::env::var("CRM_TEST_POSTGRES_URL").unwrap(), 1)
        .await
        .unwrap();
    crm_testkit::eventually(Duration::from_secs(30), "four connections open", || async {
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
            .bind(&name)
            .fetch_one(admin.pool())
            .await
            .ok()?;
        (open >= 4).then_some(())
    })
    .await;
    admin.close().await;
    db.close().await;
}
