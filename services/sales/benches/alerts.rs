//! What the alert job reads each run: the late open deals, from ranges of the open deals'
//! indexes, and each rep's new opportunities, counted in SQL. Measured at 20,000 and 200,000
//! opportunities (three years of them, the last 120 days' still open), on its first run (which
//! raises the late deals' alerts) and once nothing new is late (every run after), against the
//! reads the job made before, as statements, in the same run: every open deal with the last
//! visit of its history, and every opportunity created in 120 days, counted in Rust.
//!
//! `cargo bench -p crm-sales --bench alerts` (release build; SQLite, or PostgreSQL with
//! `CRM_BENCH_BACKEND=postgres` and `CRM_TEST_POSTGRES_URL`; other sizes with
//! `CRM_BENCH_OPPORTUNITIES`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_platform::clock::{Clock, SystemClock};
use crm_sales::domain::alerts::NewDealWindows;
use crm_sales::storage::reporting;
use crm_testkit::Backend;

const SIZES: [i64; 2] = [20_000, 200_000];
const DAY: i64 = 86_400_000_000;
/// Each step is timed this many times; the table shows the fastest.
const RUNS: usize = 5;

/// `n` opportunities of 200 reps created evenly over three years before `now`, the newest first:
/// those of the last 120 days open (a tenth past their close date, a third in their stage for
/// more than 30 days, a sixth past their stage's plan), the rest won or lost. Each has its stage
/// visit in the history.
async fn base(backend: Backend, n: i64, now: i64) -> (crm_testkit::TestDb, crm_storage::Db) {
    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_sales::Sales>(&db)
        .await
        .expect("migrating");
    let date = |days: i64| {
        crm_platform::time::naive_utc(now + days * DAY)
            .date()
            .format("%Y-%m-%d")
            .to_string()
    };
    let (past, future) = (date(-2), date(30));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1), \
         d AS (SELECT i, $2 - i * (1095 * {DAY} / $1) AS created_at FROM n), \
         o AS (SELECT i, created_at, CASE WHEN created_at > $2 - 120 * {DAY} THEN 1 ELSE 2 + i % 2 END AS status FROM d) \
         INSERT INTO opportunities (id, name, party_id, stage_code, amount_minor, currency_code, expected_close_date, \
         owner_id, status, version, created_at, closed_at, stage_entered_at, stage_plan) \
         SELECT 'opp-' || (10000000 + i), 'Deal ' || i, 'party-' || (i % 50000), \
         CASE WHEN status = 1 THEN CASE i % 4 WHEN 0 THEN 'prospecting' WHEN 1 THEN 'qualification' \
         WHEN 2 THEN 'proposal' ELSE 'negotiation' END WHEN status = 2 THEN 'closed_won' ELSE 'closed_lost' END, \
         100000, 'USD', CASE WHEN status = 1 AND i % 10 = 0 THEN '{past}' ELSE '{future}' END, \
         'rep-' || (i % 200), status, 1, created_at, CASE WHEN status = 1 THEN NULL ELSE created_at + 20 * {DAY} END, \
         CASE WHEN status = 1 THEN $2 - (i % 45) * {DAY} ELSE created_at END, \
         CASE WHEN status = 1 AND i % 6 = 0 THEN '{past}' WHEN status = 1 AND i % 6 = 3 THEN '{future}' ELSE '' END \
         FROM o"
    )))
    .bind(n)
    .bind(now)
    .execute(db.pool())
    .await
    .expect("opportunities");
    sqlx::query(
        "INSERT INTO stage_history (opportunity_id, seq, stage_code, entered_at, planned_leave_date) \
         SELECT id, 1, stage_code, stage_entered_at, stage_plan FROM opportunities",
    )
    .execute(db.pool())
    .await
    .expect("stage history");
    sqlx::query("ANALYZE").execute(db.pool()).await.expect("analyze");
    (test_db, db)
}

/// The fastest of [`RUNS`] runs of `step`, and what its last run returned.
async fn fastest<T>(mut step: impl AsyncFnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        out = Some(step().await);
        best = best.min(started.elapsed());
    }
    (best, out.expect("at least one run"))
}

/// The job's reads before: every open deal with its last stage visit, in Rust's hands to judge,
/// and every opportunity created in the 120 days, counted per rep in Rust.
async fn reads_before(
    conn: &mut crm_storage::Conn,
    today: &str,
    stalled_before: i64,
    now: i64,
) -> (usize, usize) {
    let deals = sqlx::query(
        "SELECT o.id, o.name, o.owner_id, o.stage_code, o.expected_close_date, h.entered_at, h.planned_leave_date \
         FROM opportunities o LEFT JOIN stage_history h ON h.opportunity_id = o.id \
         AND h.seq = (SELECT MAX(s.seq) FROM stage_history s WHERE s.opportunity_id = o.id) \
         WHERE o.status = $1 AND ((o.expected_close_date < $2 \
         AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dedupe_key = 'overdue:' || o.id || ':' || o.expected_close_date)) \
         OR (((COALESCE(h.planned_leave_date, '') <> '' AND h.planned_leave_date < $2) \
         OR (COALESCE(h.planned_leave_date, '') = '' AND (h.entered_at IS NULL OR h.entered_at < $3))) \
         AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dedupe_key = 'stalled:' || o.id || ':' || o.stage_code))) \
         ORDER BY o.id",
    )
    .bind(1_i64)
    .bind(today)
    .bind(stalled_before)
    .fetch_all(&mut *conn)
    .await
    .expect("the open deals")
    .len();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT owner_id, created_at FROM opportunities WHERE created_at > $1 AND created_at <= $2",
    )
    .bind(now - 120 * DAY)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .expect("the new opportunities");
    let mut per_rep: HashMap<String, (i64, i64)> = HashMap::new();
    for (rep, at) in rows {
        let counts = per_rep.entry(rep).or_default();
        if at > now - 30 * DAY {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }
    (deals, per_rep.len())
}

/// The job's reads now.
async fn reads_now(
    conn: &mut crm_storage::Conn,
    today: &str,
    stalled_before: i64,
    now: i64,
) -> (usize, usize) {
    let deals = reporting::alert_candidates(conn, today, stalled_before)
        .await
        .expect("the late deals")
        .len();
    let reps = reporting::new_deal_counts(conn, &NewDealWindows::ending(now))
        .await
        .expect("the counts")
        .len();
    (deals, reps)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    let sizes = crm_testkit::bench::sizes("CRM_BENCH_OPPORTUNITIES", &SIZES);
    println!("the alert job's reads ({backend:?}; 200 reps; fastest of {RUNS} runs)");
    println!(
        "{:>13} {:>6} {:>7} {:>11} {:>13} {:>11} {:>12} {:>13} {:>8}",
        "opportunities",
        "open",
        "raised",
        "first run s",
        "later run ms",
        "reads ms",
        "before ms",
        "late deals",
        "before / now"
    );
    for n in sizes {
        let now = SystemClock.now_micros();
        let (_keep, db) = base(backend, n, now).await;
        let store = crm_platform::Store::new(
            db.clone(),
            Arc::default(),
            crm_platform::clock::ManualClock::at(now),
        );
        let mut conn = db.pool().acquire().await.expect("a connection");
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM opportunities WHERE status = 1")
            .fetch_one(&mut *conn)
            .await
            .expect("a count");
        let started = Instant::now();
        let raised = crm_sales::alerts::run_once(&store)
            .await
            .expect("the first run")
            .len();
        let first = started.elapsed();
        let (later, again) =
            fastest(async || crm_sales::alerts::run_once(&store).await.expect("a run").len()).await;
        assert_eq!(again, 0, "nothing new is late");
        let today = crm_platform::time::naive_utc(now)
            .date()
            .format("%Y-%m-%d")
            .to_string();
        let stalled_before = now - 30 * DAY;
        let (reads, (late, reps)) =
            fastest(async || reads_now(&mut conn, &today, stalled_before, now).await).await;
        let (before, (late_before, reps_before)) =
            fastest(async || reads_before(&mut conn, &today, stalled_before, now).await).await;
        assert_eq!((late, reps), (late_before, reps_before), "the same answers");
        let checked: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM opportunities WHERE status = 1 AND (expected_close_date < $1 \
             OR (stage_plan > '' AND stage_plan < $1) OR (stage_plan = '' AND stage_entered_at < $2))",
        )
        .bind(&today)
        .bind(stalled_before)
        .fetch_one(&mut *conn)
        .await
        .expect("a count");
        println!(
            "{:>13} {:>6} {:>7} {:>11.3} {:>13.1} {:>11.1} {:>12.1} {:>13} {:>7.2}x",
            n,
            open,
            raised,
            first.as_secs_f64(),
            later.as_secs_f64() * 1e3,
            reads.as_secs_f64() * 1e3,
            before.as_secs_f64() * 1e3,
            checked,
            before.as_secs_f64() / reads.as_secs_f64()
        );
    }
}
