//! What finding the exception cells costs: the partners' monthly targets of this year, each
//! month's sales against the share expected by now. Measured at 200 and 2,000 partners (a target
//! a month each, twenty sales a month; one partner in three sells under target): every exception
//! as one statement (the aggregate's baseline); ListExceptions' first page, worst first, against
//! the first page by key as it was before; every page walked by key as the exception job walks
//! them (500 cells a page, a batch of partners at a time) against the walk before, whose every
//! page figured every partner's cells; and the job itself (its first run announces every cell, a
//! later run none). All in the same run.
//!
//! `cargo bench -p crm-partners --bench exceptions` (release build; SQLite, or PostgreSQL with
//! `CRM_BENCH_BACKEND=postgres` and `CRM_TEST_POSTGRES_URL`; other sizes with
//! `CRM_BENCH_PARTNERS`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_calendar::{Period, PeriodKind};
use crm_partners::domain::performance as rules;
use crm_partners::storage::partners::Reach;
use crm_partners::storage::performance::{self as figures, EVERY_PARTNER, ExceptionCell, Order, Under};
use crm_platform::clock::{Clock, SystemClock};
use crm_testkit::Backend;

const SIZES: [i64; 2] = [200, 2_000];
/// The threshold the service uses by default (80%).
const THRESHOLD: i32 = 8_000;
/// A page of ListExceptions (100, and one more to know there are more).
const FIRST_PAGE: i64 = 101;
/// A page of the exception job.
const JOB_PAGE: i64 = 500;

/// `n` partners (ids of one length), each with a target of 1,000,000 a month for every month of
/// `year` and twenty sales a month: 50,000 each, or 20,000 for one partner in three.
async fn base(backend: Backend, n: i64, year: &str) -> (crm_testkit::TestDb, crm_storage::Db) {
    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_partners::Partners>(&db)
        .await
        .expect("migrating");
    let numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1), \
                   mo(m) AS (SELECT 1 UNION ALL SELECT m + 1 FROM mo WHERE m < 12), \
                   k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < 20)";
    let two = |column: &str| format!("CASE WHEN {column} < 10 THEN '0' || {column} ELSE '' || {column} END");
    let (month, day) = (two("m"), two("j"));
    for statement in [
        format!(
            "{numbers} INSERT INTO partners (id, name, type, status, operating_model, version, created_at) \
             SELECT 'p' || (100000000 + i), 'Partner ' || i, 1, 1, 1, 1, 0 FROM n"
        ),
        format!(
            "{numbers} INSERT INTO targets (partner_id, period, product_category, product_id, amount_minor, \
             currency_code, quantity) SELECT 'p' || (100000000 + i), '{year}-' || {month}, '', '', 1000000, 'USD', 0 \
             FROM n, mo"
        ),
        format!(
            "{numbers} INSERT INTO sell_through (source_key, partner_id, product_id, product_category, region_code, \
             quantity, amount_minor, currency_code, sold_on, source, source_ref) \
             SELECT 's' || (100000000 + i) || '-' || m || '-' || j, 'p' || (100000000 + i), '', '', '', 1, \
             CASE WHEN i % 3 = 0 THEN 20000 ELSE 50000 END, 'USD', '{year}-' || {month} || '-' || {day}, 1, '' \
             FROM n, mo, k"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(n)
            .execute(db.pool())
            .await
            .expect("the base");
    }
    sqlx::query("ANALYZE").execute(db.pool()).await.expect("analyze");
    (test_db, db)
}

/// Walks every page of [`JOB_PAGE`] cells with `next` (the cells after a key): how many cells.
async fn walk(mut next: impl AsyncFnMut(Option<String>) -> Vec<ExceptionCell>) -> usize {
    let mut after: Option<String> = None;
    let mut cells = 0;
    loop {
        let page = next(after.clone()).await;
        cells += page.len();
        if (page.len() as i64) < JOB_PAGE {
            return cells;
        }
        after = page
            .last()
            .map(|c| rules::exception_key(&c.partner_id, &c.month, &c.category, &c.product_id));
    }
}

/// How long `step` takes, and what it returned.
async fn timed<T>(step: impl AsyncFnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let out = step().await;
    (started.elapsed(), out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    let sizes = crm_testkit::bench::sizes("CRM_BENCH_PARTNERS", &SIZES);
    let now = SystemClock.now_micros();
    let today = crm_platform::time::naive_utc(now).date();
    let year = Period::containing(PeriodKind::Year, today);
    let months = rules::exception_months(&year, today);
    let under = Under {
        reach: Reach::All,
        months: &months,
        currency: "USD",
        threshold_bps: THRESHOLD,
    };
    println!("exception cells of {} ({backend:?}; ms)", year.code());
    println!(
        "{:>8} {:>7} {:>10} {:>10} {:>16} {:>11} {:>11} {:>11} {:>10} {:>10} {:>10}",
        "partners",
        "targets",
        "sales",
        "exceptions",
        "one statement",
        "first page",
        "(by key)",
        "every page",
        "(before)",
        "job first",
        "job later"
    );
    for n in sizes {
        let (_keep, db) = base(backend, n, &year.code()).await;
        let mut conn = db.pool().acquire().await.expect("a connection");
        let (statement, all) = timed(async || {
            figures::exception_cells(&mut conn, &under, EVERY_PARTNER, Order::ByKey(None), i64::MAX)
                .await
                .expect("every exception")
                .len()
        })
        .await;
        let (first, page) = timed(async || {
            figures::exceptions(&mut conn, &under, Order::WorstFirst(None), FIRST_PAGE)
                .await
                .expect("a page")
        })
        .await;
        let (first_before, page_before) = timed(async || {
            figures::exception_cells(&mut conn, &under, EVERY_PARTNER, Order::ByKey(None), FIRST_PAGE)
                .await
                .expect("a page")
        })
        .await;
        assert_eq!(page.len(), page_before.len(), "a full first page");
        let (walked, cells) = timed(async || {
            walk(async |after| {
                figures::exceptions(&mut conn, &under, Order::ByKey(after.as_deref()), JOB_PAGE)
                    .await
                    .expect("a page")
            })
            .await
        })
        .await;
        let (walked_before, cells_before) = timed(async || {
            walk(async |after| {
                figures::exception_cells(
                    &mut conn,
                    &under,
                    EVERY_PARTNER,
                    Order::ByKey(after.as_deref()),
                    JOB_PAGE,
                )
                .await
                .expect("a page")
            })
            .await
        })
        .await;
        assert_eq!((cells, cells_before), (all, all), "every exception, walked");
        drop(conn);
        let store = crm_platform::Store::new(db.clone(), Arc::default(), Arc::new(SystemClock));
        let (job_first, ()) = timed(async || {
            crm_partners::exceptions::run_once(&store, THRESHOLD)
                .await
                .expect("the job")
        })
        .await;
        let (job_later, ()) = timed(async || {
            crm_partners::exceptions::run_once(&store, THRESHOLD)
                .await
                .expect("the job")
        })
        .await;
        println!(
            "{:>8} {:>7} {:>10} {:>10} {:>16.1} {:>11.1} {:>11.1} {:>11.1} {:>10.1} {:>10.1} {:>10.1}",
            n,
            n * 12,
            n * 12 * 20,
            all,
            ms(statement),
            ms(first),
            ms(first_before),
            ms(walked),
            ms(walked_before),
            ms(job_first),
            ms(job_later)
        );
    }
}
