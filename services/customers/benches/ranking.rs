//! What re-ranking every rank costs now that its moves are staged by one statement and stored
//! 2,000 parties per transaction (RecomputeValueTiers, the full value sweep): the staging, the
//! longest page (the longest any transaction holds parties) and the whole, at 10,000 and 100,000
//! customers; against the moves of the same kind of change stored and announced in one
//! transaction, as before, measured in the same run.
//!
//! Each size ranks a new base (every rank moves from none), then again after 1,000 customers
//! contributed more (they pass most of the others: nearly every rank moves, a few tiers), then,
//! as the baseline, after the same 1,000 went back, in one transaction.
//!
//! `cargo bench -p crm-customers --bench ranking` (release build; SQLite, or PostgreSQL with
//! `CRM_BENCH_BACKEND=postgres` and `CRM_TEST_POSTGRES_URL`; other sizes with
//! `CRM_BENCH_PARTIES`, e.g. `1000000`).

use std::time::{Duration, Instant};

use crm_customers::ranking;
use crm_customers::storage::{parties, rankings};
use crm_platform::clock::{Clock, SystemClock};
use crm_testkit::Backend;

/// The base sizes measured unless `CRM_BENCH_PARTIES` names others (comma-separated).
const SIZES: [i64; 2] = [10_000, 100_000];

/// Customers whose contribution changes between two rankings.
const MOVERS: i64 = 1_000;

/// `n` active customers with contributions spread over 0..100,000 (one in ten without business).
async fn base(backend: Backend, n: i64) -> (crm_testkit::TestDb, crm_storage::Db) {
    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_customers::Customers>(&db)
        .await
        .expect("migrating");
    let mut conn = db.pool().acquire().await.expect("a connection");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO parties (id, kind, display_name, name_key, lifecycle_stage, status, currency_code, \
         version, created_at, updated_at, verified_at, window_revenue_minor, window_contribution_minor) \
         SELECT 'party-' || (10000000 + i), 1, 'P' || i, 'p' || i, 2, 1, 'USD', 1, 0, 0, 0, \
         CASE WHEN i % 10 = 0 THEN 0 ELSE 100 + (CAST(i AS BIGINT) * 7919) % 100003 END, \
         CASE WHEN i % 10 = 0 THEN 0 ELSE (CAST(i AS BIGINT) * 7919) % 100003 END FROM n",
    )
    .bind(n)
    .execute(&mut *conn)
    .await
    .expect("the base");
    if backend == Backend::Postgres {
        sqlx::query("ANALYZE")
            .execute(&mut *conn)
            .await
            .expect("statistics");
    }
    (test_db, db)
}

/// Sets the contribution of every `n / MOVERS`-th customer (`MOVERS` of them).
async fn contribute(db: &crm_storage::Db, n: i64, amount: i64) {
    sqlx::query(
        "UPDATE parties SET window_revenue_minor = $1 + 100, window_contribution_minor = $1 \
         WHERE CAST(SUBSTR(id, 7) AS BIGINT) % $2 = 0",
    )
    .bind(amount)
    .bind((n / MOVERS).max(1))
    .execute(db.pool())
    .await
    .expect("contributions");
}

/// The ranking just started, once its first step staged its moves.
async fn stage(db: &crm_storage::Db) -> rankings::Ranking {
    assert!(ranking::next_page(db, &SystemClock).await.expect("the staging"));
    let mut conn = db.pool().acquire().await.expect("a connection");
    let run = rankings::latest(&mut conn)
        .await
        .expect("the ranking")
        .expect("started");
    assert!(run.staged());
    run
}

/// One re-ranking a page at a time: (moves, staging, pages, longest page, whole).
async fn paged(db: &crm_storage::Db) -> (i64, Duration, usize, Duration, Duration) {
    let started = Instant::now();
    ranking::start(db, "bench", SystemClock.now_micros())
        .await
        .expect("a ranking");
    let run = stage(db).await;
    let staging = started.elapsed();
    let (mut pages, mut longest) = (0, Duration::ZERO);
    loop {
        let page = Instant::now();
        let more = ranking::next_page(db, &SystemClock).await.expect("a page");
        longest = longest.max(page.elapsed());
        pages += 1;
        if !more {
            break;
        }
    }
    (run.to_move, staging, pages, longest, started.elapsed())
}

/// The same kind of re-ranking with every move stored and announced in one transaction after
/// the staging: (moves, staging, that transaction).
async fn whole(db: &crm_storage::Db) -> (i64, Duration, Duration) {
    let now = SystemClock.now_micros();
    let started = Instant::now();
    ranking::start(db, "bench", now).await.expect("a ranking");
    let run = stage(db).await;
    let staging = started.elapsed();
    let started = Instant::now();
    let mut tx = db.begin().await.expect("a transaction");
    parties::store_staged_moves(&mut tx, "", "~")
        .await
        .expect("every move");
    let announced = crm_customers::value::announce_tier_moves(&mut tx, "bench", now, &run.run_id, "", None)
        .await
        .expect("announced");
    tx.commit().await.expect("committed");
    let took = started.elapsed();
    // Ended, so that the next size starts its own.
    let mut conn = db.pool().acquire().await.expect("a connection");
    rankings::advance(&mut conn, &run, "~", run.to_move, announced, Some(now))
        .await
        .expect("ended");
    (run.to_move, staging, took)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    let sizes = crm_testkit::bench::sizes("CRM_BENCH_PARTIES", &SIZES);
    println!("re-ranking every rank ({backend:?}; {MOVERS} customers contribute more between rankings)");
    println!(
        "{:>10} {:>18} {:>8} {:>10} {:>6} {:>11} {:>9} {:>22} {:>20}",
        "customers",
        "ranking",
        "moves",
        "staging s",
        "pages",
        "longest ms",
        "whole s",
        "one transaction s",
        "longest / one tx"
    );
    for n in sizes {
        let (_keep, db) = base(backend, n).await;
        let row =
            |what: &str,
             (moves, staging, pages, longest, all): (i64, Duration, usize, Duration, Duration)| {
                println!(
                    "{:>10} {:>18} {:>8} {:>10.2} {:>6} {:>11.1} {:>9.2}",
                    n,
                    what,
                    moves,
                    staging.as_secs_f64(),
                    pages,
                    longest.as_secs_f64() * 1000.0,
                    all.as_secs_f64()
                );
            };
        row("a new base", paged(&db).await);
        contribute(&db, n, 200_000).await;
        let after = paged(&db).await;
        row("after purchases", after);
        contribute(&db, n, 50).await;
        let (moves, staging, one) = whole(&db).await;
        println!(
            "{:>10} {:>18} {:>8} {:>10.2} {:>6} {:>11} {:>9} {:>22.2} {:>19.3}x",
            n,
            "one transaction",
            moves,
            staging.as_secs_f64(),
            "",
            "",
            "",
            one.as_secs_f64(),
            after.3.as_secs_f64() / one.as_secs_f64()
        );
    }
}
