//! What reassigning every account to territories costs now that it runs in the background, a page
//! of 1,000 accounts per transaction, with each move written and announced: the job's rate at
//! 10,000 and 100,000 accounts, against the floor of one hand-written UPDATE that assigns the
//! same territories (no events, no pages), measured in the same run.
//!
//! `cargo bench -p crm-sales --bench reassignment` (release build; SQLite, or PostgreSQL with
//! `CRM_BENCH_BACKEND=postgres` and `CRM_TEST_POSTGRES_URL`).

use std::sync::Arc;
use std::time::Instant;

use crm_proto::sales::v1 as pb;
use crm_sales::storage::{org, reassignment};
use crm_testkit::Backend;

const SIZES: [i64; 2] = [10_000, 100_000];
const INDUSTRIES: [&str; 10] = [
    "banking",
    "insurance",
    "retail",
    "energy",
    "telecom",
    "health",
    "transport",
    "media",
    "education",
    "government",
];

/// A base of `n` accounts, an industry each, and a territory per two industries.
async fn base(backend: Backend, n: i64) -> (crm_testkit::TestDb, crm_storage::Db) {
    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_sales::Sales>(&db)
        .await
        .expect("migrating");
    let industries = INDUSTRIES
        .iter()
        .enumerate()
        .map(|(i, name)| format!("WHEN {i} THEN '{name}'"))
        .collect::<Vec<_>>()
        .join(" ");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO accounts (party_id, industry) \
         SELECT 'party-' || (10000000 + i), CASE i % 10 {industries} END FROM n"
    )))
    .bind(n)
    .execute(db.pool())
    .await
    .expect("accounts");
    let mut conn = db.pool().acquire().await.expect("a connection");
    for (i, pair) in INDUSTRIES.chunks(2).enumerate() {
        let mut t = pb::Territory {
            name: format!("Territory {i}"),
            industries: pair.iter().map(|s| s.to_string()).collect(),
            priority: 10 + i as i32,
            ..Default::default()
        };
        org::insert_territory(&mut conn, &mut t)
            .await
            .expect("a territory");
    }
    drop(conn);
    (test_db, db)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    println!("account reassignment ({backend:?}, 10 industries, 5 territories)");
    println!(
        "{:>10} {:>12} {:>10} {:>14} {:>16} {:>26}",
        "accounts", "moved", "job s", "job accounts/s", "one UPDATE s", "job / one UPDATE (time)"
    );
    for n in SIZES {
        let (_keep, db) = base(backend, n).await;
        let store = crm_platform::Store::new(
            db.clone(),
            Arc::default(),
            Arc::new(crm_platform::clock::SystemClock),
        );
        let mut conn = db.pool().acquire().await.expect("a connection");
        reassignment::request(&mut conn, store.now_micros())
            .await
            .expect("a request");
        drop(conn);
        let started = Instant::now();
        crm_sales::assignment::run_pending(&store).await.expect("the job");
        let job = started.elapsed();
        let mut conn = db.pool().acquire().await.expect("a connection");
        let run = reassignment::get(&mut conn).await.expect("the run");
        assert_eq!(run.evaluated, n, "every account once");
        assert!(run.finished_at.is_some());

        // The floor: the same assignment as one statement, on a copy of the accounts as they were.
        sqlx::query("UPDATE accounts SET territory_id = ''")
            .execute(&mut *conn)
            .await
            .expect("reset");
        let territories = org::territories(&mut conn).await.expect("territories");
        let cases = territories
            .iter()
            .flat_map(|t| {
                t.industries
                    .iter()
                    .map(move |industry| format!("WHEN '{industry}' THEN '{}'", t.id))
            })
            .collect::<Vec<_>>()
            .join(" ");
        let started = Instant::now();
        let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE accounts SET territory_id = CASE industry {cases} ELSE '' END WHERE status = 'active'"
        )))
        .execute(&mut *conn)
        .await
        .expect("one update")
        .rows_affected();
        let floor = started.elapsed();
        assert_eq!(moved as i64, n);
        println!(
            "{:>10} {:>12} {:>10.2} {:>14.0} {:>16.3} {:>25.1}x",
            n,
            run.reassigned,
            job.as_secs_f64(),
            n as f64 / job.as_secs_f64(),
            floor.as_secs_f64(),
            job.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
