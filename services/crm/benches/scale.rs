//! The suite as its base grows: the same reads at 10,000 customers and at the full size, their
//! tail latencies side by side; each aggregate against one hand-written SQL statement over the
//! same tables; how fast each consumer works off a backlog on its own against a bare JetStream
//! consume and single-row upsert loop over the same events; model fitting and what it does to reads; memory. One run measures
//! everything it compares.
//!
//! For each size: a fresh database per service and a fresh nats-server, the whole suite in this
//! process, the synthetic base (see `common/synthetic.rs`: parties, two relationships and ten
//! orders per party, a case per two parties, an opportunity per five, 2,000 channel partners in
//! four levels with monthly targets, one order in twenty sold through them, a yearly quota per
//! rep) loaded with `crm import`, the consumers and the duplicate check job left to finish (and
//! on PostgreSQL the databases vacuumed, analysed and checkpointed, as autovacuum and time leave
//! them), then each read timed one call after another, and at the full size a mixed load run while
//! memory is sampled.
//!
//! `cargo bench -p crm --bench scale`. Environment: `CRM_BENCH_BACKEND` (`sqlite`, the default,
//! or `postgres` with `CRM_TEST_POSTGRES_URL`), `CRM_BENCH_PARTIES` (the full size: 100,000 on
//! SQLite, 1,000,000 on PostgreSQL), `CRM_BENCH_ORDERS_PER_PARTY` (10), `CRM_BENCH_DUPLICATE_WAIT`
//! (seconds to wait at most for the duplicate check job before the reads),
//! `CRM_BENCH_CATCH_UP_LIMIT` (seconds to wait at most for the consumers after each import),
//! `CRM_BENCH_MIXED_SECONDS` (how long the full size's mixed load runs while memory is sampled
//! each minute: 600).

#[path = "common/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;
#[path = "common/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use crm::services::Service;
use crm_auth::Role;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::gateway::v1 as gateway;
use crm_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use crm_proto::marketing::v1 as marketing;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::marketing::v1::prediction_service_client::PredictionServiceClient;
use crm_proto::partners::v1 as partners;
use crm_proto::partners::v1::partner_service_client::PartnerServiceClient;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::sales_org_service_client::SalesOrgServiceClient;
use crm_proto::sales::v1::sales_report_service_client::SalesReportServiceClient;
use crm_proto::servicedesk::v1 as desk;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, TestDb, authed};
use futures::StreamExt as _;
use prost::Message as _;
use sqlx::Row as _;

/// The allocator of the `crm` binary, so that the figures are those of the suite as shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Calls timed per read. A p99 is then the twentieth slowest call: of 500, the fifth slowest
/// moved between runs of the same code by more than the 1.5x the targets allow (GetParty 2.39x
/// in one run, 0.44x in the next).
const CALLS: usize = 2_000;
/// The small base every figure is compared with.
const SMALL: usize = 10_000;

/// Latencies of one read at one size, and its calls that failed (timed too: a call that ran
/// into its deadline took that long).
#[derive(Default, Clone)]
struct Timings {
    took: Vec<Duration>,
    failed: usize,
    first_failure: String,
}

impl Timings {
    fn of(took: Vec<Duration>) -> Self {
        Self {
            took,
            ..Default::default()
        }
    }

    /// " (n failed)" when calls failed, for the tables.
    fn failures(&self) -> String {
        if self.failed > 0 {
            format!(" ({} failed)", self.failed)
        } else {
            String::new()
        }
    }

    fn at(&self, p: f64) -> f64 {
        let mut sorted = self.took.clone();
        sorted.sort();
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// How long one read is timed at most: a read that takes seconds at volume is reported from
/// the calls made by then.
const BUDGET: Duration = Duration::from_secs(30);

/// Times `n` runs of `call` (after `n / 10` untimed ones), or as many as [`BUDGET`] allows
/// (the untimed ones too: eight untimed runs of a minute-long statement took eight minutes).
/// A failed call is counted and the run goes on: one read past its deadline at volume must not
/// lose the figures of every read after it.
async fn time<F, Fut, E>(n: usize, mut call: F) -> Timings
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut timings = Timings::default();
    let mut failed = |e: E| {
        if timings.failed == 0 {
            timings.first_failure = e.to_string();
        }
        timings.failed += 1;
    };
    let warming = Instant::now();
    for i in 0..n / 10 {
        if let Err(e) = call(i).await {
            failed(e);
        }
        if warming.elapsed() > BUDGET {
            break;
        }
    }
    let mut took = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let at = Instant::now();
        let outcome = call(i).await;
        took.push(at.elapsed());
        if let Err(e) = outcome {
            failed(e);
        }
        if started.elapsed() > BUDGET {
            break;
        }
    }
    timings.took = took;
    timings
}

/// Each section's own time in `n` more GetCustomer360 calls (the response carries them, in
/// whole milliseconds), to tell which service a slower whole comes from.
async fn customer360_sections(
    gateway: &GatewayServiceClient<tonic::transport::Channel>,
    token: &str,
    n: usize,
    request: impl Fn(usize) -> gateway::GetCustomer360Request,
) -> String {
    let mut sections: BTreeMap<i32, Vec<Duration>> = BTreeMap::new();
    let started = Instant::now();
    for i in 0..n {
        let response = gateway
            .clone()
            .get_customer360(authed(request(i), token))
            .await
            .expect("get_customer360")
            .into_inner();
        for status in response.statuses {
            let took = Duration::from_millis(u64::try_from(status.elapsed_ms).unwrap_or(0));
            sections.entry(status.section).or_default().push(took);
        }
        if started.elapsed() > BUDGET {
            break;
        }
    }
    let parts: Vec<String> = sections
        .into_iter()
        .map(|(section, took)| {
            let name = gateway::Section::try_from(section).map_or("?", |s| s.as_str_name());
            let took = Timings::of(took);
            format!("{name} p50 {:.0} ms, p99 {:.0} ms", took.at(0.5), took.at(0.99))
        })
        .collect();
    format!("GetCustomer360 by section: {}", parts.join("; "))
}

/// The aggregates and the hand-written statement each is compared with.
const AGGREGATES: [(&str, &str); 12] = [
    ("GetValuePyramid", "value pyramid as one SQL statement"),
    ("GetRfmCells", "RFM cells as one SQL statement"),
    ("GetFunnel", "funnel as one SQL statement"),
    ("GetForecast", "forecast as one SQL statement"),
    (
        "GetQuotaAttainment (a year)",
        "quota attainment as one SQL statement",
    ),
    (
        "GetPerformance by partner (a year)",
        "partner performance as one SQL statement",
    ),
    ("ListExceptions (a year)", "exceptions as one SQL statement"),
    (
        "GetServiceReport (a month)",
        "service report as one SQL statement",
    ),
    ("GetTierMigration (a year)", "tier migration as one SQL statement"),
    ("GetCohortRetention (12 cohorts)", "cohorts as one SQL statement"),
    ("GetBaseTrends (a year)", "base trends as one SQL statement"),
    ("GetPenetration", "penetration as one SQL statement"),
];

/// The year the sales and channel reports cover: the synthetic base's clock stands near its end.
const REPORTED_YEAR: i32 = 2026;

/// The first instant (µs, UTC) of each month of the reported year and of the month after.
fn reported_months() -> Vec<i64> {
    (0..=12)
        .map(|i| {
            chrono::NaiveDate::from_ymd_opt(REPORTED_YEAR + i / 12, 1 + (i % 12) as u32, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("a month")
                .and_utc()
                .timestamp_micros()
        })
        .collect()
}

/// `CASE` giving the index of the reported month `column` falls in, `op` saying whether a month
/// ends before (`<`) or at (`<=`) the next one's first instant.
fn month_case(column: &str, op: &str) -> String {
    let bounds = reported_months();
    let mut case = String::from("CASE");
    for (i, end) in bounds.iter().enumerate().skip(1) {
        case.push_str(&format!(" WHEN {column} {op} {end} THEN {i}"));
    }
    case + " ELSE 99 END"
}

/// The customer base analysis of the reported year by hand, for the baselines: cohorts by the
/// month of the first purchase with the months they bought in; and each month's purchases,
/// spells of activity begun and ended (lost 365 days after the last purchase) and churn, with
/// the parties of each acquisition source, their buyers, new buyers and revenue.
fn analysis_baselines(backend: Backend) -> [String; 2] {
    // Keeps a window's rows a subquery of their own (see `trend_rows` in the customers service).
    let fence = match backend {
        Backend::Postgres => "OFFSET 0",
        Backend::Sqlite => "LIMIT -1",
    };
    let b = reported_months();
    let (first, last) = (b[0], b[12]);
    let counts = "status IN ('placed', 'fulfilled')";
    let cohorts = format!(
        "SELECT {} AS cohort, a.month, COUNT(*) AS customers FROM (SELECT party_id, MIN(placed_at) AS first_at \
         FROM party_orders WHERE {counts} GROUP BY party_id) f JOIN (SELECT DISTINCT party_id, {} AS month \
         FROM party_orders WHERE {counts} AND placed_at >= {first} AND placed_at < {last}) a ON a.party_id = f.party_id \
         WHERE f.first_at >= {first} AND f.first_at < {last} GROUP BY 1, a.month",
        month_case("f.first_at", "<"),
        month_case("placed_at", "<")
    );
    let year = 365 * 86_400_000_000_i64;
    let trends = format!(
        "SELECT 'month' AS part, CAST(bought AS TEXT) AS k, COUNT(*) AS a, COUNT(CASE WHEN px IS NULL THEN 1 END) AS b, \
         CAST(COALESCE(SUM(CASE WHEN currency_code = 'USD' THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS c, 0 AS d \
         FROM (SELECT px, amount_minor, currency_code, CASE WHEN x >= {first} AND x < {last} AND (px IS NULL OR px < {first}) THEN 1 ELSE 0 END \
         + 100 * (CASE WHEN x >= {first} AND x < {last} THEN {} ELSE 0 END) AS bought FROM (SELECT placed_at AS x, amount_minor, currency_code, \
         LAG(placed_at) OVER w AS px FROM party_orders WHERE {counts} AND placed_at <= {last} \
         WINDOW w AS (PARTITION BY party_id ORDER BY placed_at, order_id)) o {fence}) r GROUP BY bought \
         UNION ALL SELECT 'spell', CAST(k AS TEXT), COUNT(*), COUNT(CASE WHEN churned THEN 1 END), 0, 0 FROM (\
         SELECT 100 * (CASE WHEN px IS NOT NULL AND px + {year} >= x THEN 0 WHEN x <= {first} THEN 1 ELSE 1 + {} END) \
         + (CASE WHEN nx IS NOT NULL AND nx <= x + {year} THEN 0 WHEN x + {year} <= {first} THEN 1 ELSE 1 + {} END) AS k, \
         (nx IS NULL OR nx > x + {year} + 2678400000000) AS churned FROM (SELECT placed_at AS x, \
         LAG(placed_at) OVER w AS px, LEAD(placed_at) OVER w AS nx FROM party_orders WHERE {counts} AND placed_at <= {last} \
         WINDOW w AS (PARTITION BY party_id ORDER BY placed_at, order_id)) o {fence}) s GROUP BY k \
         UNION ALL SELECT 'source', p.source, COUNT(*), COUNT(m.party_id), COUNT(CASE WHEN m.first_at >= {first} THEN 1 END), \
         CAST(COALESCE(SUM(m.revenue), 0) AS BIGINT) FROM parties p LEFT JOIN (SELECT party_id, MIN(placed_at) AS first_at, \
         SUM(CASE WHEN placed_at >= {first} AND currency_code = 'USD' THEN amount_minor ELSE 0 END) AS revenue FROM party_orders \
         WHERE {counts} AND placed_at < {last} GROUP BY party_id HAVING MAX(placed_at) >= {first}) m ON m.party_id = p.id \
         WHERE p.status = 1 GROUP BY p.source",
        month_case("x", "<"),
        month_case("x", "<="),
        month_case(&format!("x + {year}"), "<="),
    );
    [cohorts, trends]
}

/// What one size measured: the timings of each read, by name.
#[derive(Default)]
struct Run {
    size: usize,
    reads: BTreeMap<&'static str, Timings>,
    notes: Vec<String>,
}

impl Run {
    /// Keeps a read's timings and prints them at once, so a run stopped early still reports.
    fn read(&mut self, what: &'static str, timings: Timings) {
        println!(
            "{}: {what}: p50 {:.2} ms, p99 {:.2} ms ({} calls)",
            self.size,
            timings.at(0.5),
            timings.at(0.99),
            timings.took.len()
        );
        if timings.failed > 0 {
            self.note(format!(
                "{what}: {} calls FAILED, the first with {}",
                timings.failed, timings.first_failure
            ));
        }
        self.reads.insert(what, timings);
    }

    /// Prints a figure of this size that is not a read, and keeps it for the summary.
    fn note(&mut self, note: String) {
        println!("{}: {note}", self.size);
        self.notes.push(note);
    }
}

/// How many records of each kind a base of `parties` has.
struct Sizes {
    parties: usize,
    orders: usize,
    more: synthetic::More,
}

impl Sizes {
    fn of(parties: usize) -> Self {
        let per_party = std::env::var("CRM_BENCH_ORDERS_PER_PARTY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        Sizes {
            parties,
            orders: parties * per_party,
            more: synthetic::More {
                relationships: parties * 2,
                cases: parties / 2,
                opportunities: parties / 5,
            },
        }
    }
}

/// Waits until the duplicate check job has checked every imported party, or for at most
/// `CRM_BENCH_DUPLICATE_WAIT` seconds (unlimited by default); how long it waited and how many
/// parties were still to check then.
async fn duplicate_job_done(db: &Db) -> (Duration, i64) {
    let limit = std::env::var("CRM_BENCH_DUPLICATE_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::MAX, Duration::from_secs);
    let started = Instant::now();
    // Whether any is left is one index probe; counting a million rows every poll would take
    // a good part of a core from the job it waits for.
    let count = |sql: &'static str| async move {
        let row = sqlx::query(sql)
            .fetch_one(db.pool())
            .await
            .expect("reading due checks");
        row.get::<i64, _>("n")
    };
    loop {
        let left = count("SELECT COUNT(*) AS n FROM (SELECT 1 FROM duplicate_check_due LIMIT 1) t").await;
        if left == 0 {
            return (started.elapsed(), 0);
        }
        if started.elapsed() >= limit {
            let due = count("SELECT COUNT(*) AS n FROM duplicate_check_due").await;
            return (started.elapsed(), due);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A bulk event consumers are timed on: the stream it is on, its subject, and its records as
/// (id, a text, a number), the row the bare loop upserts for each.
struct Bulk {
    stream: &'static str,
    subject: &'static str,
    rows: fn(&[u8]) -> Vec<BareRow>,
}

/// A record as the bare loop upserts it: an id, a text and a number.
type BareRow = (String, String, i64);

/// Imported orders: each order's id, party and status.
const ORDERS_IMPORTED: Bulk = Bulk {
    stream: "CRM_SALES",
    subject: "crm.sales.orders.imported",
    rows: |payload| {
        let event = sales::OrdersImported::decode(payload).expect("an order import event");
        event
            .orders
            .into_iter()
            .map(|o| (o.id, o.party_id, i64::from(o.status)))
            .collect()
    },
};

/// Imported parties: each party's id, name and status.
const PARTIES_IMPORTED: Bulk = Bulk {
    stream: "CRM_CUSTOMERS",
    subject: "crm.customers.parties.imported",
    rows: |payload| {
        let event = pb::PartiesImported::decode(payload).expect("a party import event");
        event
            .parties
            .into_iter()
            .map(|p| (p.id, p.display_name, i64::from(p.status)))
            .collect()
    },
};

/// The baseline of a consumer: the events of `bulk` from stream sequence `from` on, read with a
/// plain pull consumer, each record in them upserted with its own single-row statement, one
/// transaction and one ack per message. How many there were, and messages per second.
async fn bare_consumer_rate(
    backend: Backend,
    suite: &support::TestSuite,
    bulk: &Bulk,
    from: u64,
) -> (u64, f64) {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    let db = TestDb::new(backend);
    let pool = Db::connect(&db.url, 2).await.expect("the baseline database");
    sqlx::query("CREATE TABLE bare_rows (id TEXT PRIMARY KEY, other TEXT NOT NULL, status BIGINT NOT NULL)")
        .execute(pool.pool())
        .await
        .expect("the baseline table");
    let js = async_nats::jetstream::new(suite.nats.client().await);
    let stream = js.get_stream(bulk.stream).await.expect("the stream");
    let mut consumer = stream
        .create_consumer(pull::Config {
            filter_subject: bulk.subject.into(),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: from },
            ..Default::default()
        })
        .await
        .expect("a consumer");
    let messages = consumer.info().await.expect("the consumer's state").num_pending;
    let mut feed = consumer.messages().await.expect("messages");
    let upsert = match backend {
        Backend::Postgres => {
            "INSERT INTO bare_rows (id, other, status) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET other = excluded.other, status = excluded.status"
        }
        Backend::Sqlite => {
            "INSERT INTO bare_rows (id, other, status) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET other = excluded.other, status = excluded.status"
        }
    };
    let started = Instant::now();
    let mut done = 0;
    while done < messages {
        let Some(Ok(message)) = feed.next().await else {
            break;
        };
        let mut tx = pool.pool().begin().await.expect("a transaction");
        for (id, other, status) in (bulk.rows)(&message.payload) {
            sqlx::query(upsert)
                .bind(id)
                .bind(other)
                .bind(status)
                .execute(&mut *tx)
                .await
                .expect("an upsert");
        }
        tx.commit().await.expect("a commit");
        message.ack().await.expect("an ack");
        done += 1;
    }
    let rate = done as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    (messages, rate)
}

/// How fast each consumer of `bulk` works off a backlog of it on its own, against the bare loop
/// over the same events, also on its own: side by side, each would be charged for the others'
/// share of the two cores. The stream's consumers are paused while `import` loads more records
/// (new ones, into the base as it is) and `producer` relays their events; then each consumer
/// is resumed alone and timed until nothing is left to it, the suite settling before the next.
async fn consumer_rates(
    run: &mut Run,
    backend: Backend,
    suite: &support::TestSuite,
    bulk: &Bulk,
    producer: Service,
    import: impl Future<Output = String>,
) {
    use async_nats::jetstream::consumer::pull;
    let js = async_nats::jetstream::new(suite.nats.client().await);
    let mut stream = js.get_stream(bulk.stream).await.expect("the stream");
    let names: Vec<String> = stream
        .consumer_names()
        .filter_map(|n| async { n.ok() })
        .collect()
        .await;
    let until =
        async_nats::datetime::add_std_duration(async_nats::datetime::now(), Duration::from_secs(24 * 3600))
            .expect("a time to pause until");
    for name in &names {
        let paused = stream
            .pause_consumer(name, until)
            .await
            .expect("pausing a consumer");
        assert!(paused.paused, "{name} paused");
    }
    let from = stream.info().await.expect("the stream").state.last_sequence + 1;
    let imported = import.await;
    load::relayed(suite, producer).await;
    let backlog = load::backlogs(suite).await;
    let (events, bare) = bare_consumer_rate(backend, suite, bulk, from).await;
    run.note(format!(
        "{imported} with the consumers of {} paused: {events} events; \
         bare consume + single-row upsert loop over them: {bare:.1} events/s",
        bulk.stream
    ));
    let mut paused: Vec<String> = names.iter().map(|n| format!("{}/{n}", bulk.stream)).collect();
    for name in &names {
        let left = backlog
            .get(&format!("{}/{name}", bulk.stream))
            .copied()
            .unwrap_or_default();
        let mut consumer = stream
            .get_consumer::<pull::Config>(name)
            .await
            .expect("a consumer");
        let started = Instant::now();
        stream.resume_consumer(name).await.expect("resuming a consumer");
        // When the first events were acknowledged: the rate is taken from then on, as a
        // resumed consumer's first fetch waits out the pull request it had when paused.
        let mut first = None;
        loop {
            let info = consumer.info().await.expect("a consumer's state");
            let now_left = info.num_pending + info.num_ack_pending as u64;
            if now_left < left && first.is_none() {
                first = Some((started.elapsed(), left - now_left));
            }
            if now_left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match first {
            Some((at, done)) if done < left => {
                let rate = (left - done) as f64 / (started.elapsed() - at).as_secs_f64().max(1e-3);
                run.note(format!(
                    "consumer {name} alone: {left} events, {} after its first {done}: {rate:.1} events/s, \
                     {:.0}% of the bare loop",
                    left - done,
                    100.0 * rate / bare
                ));
            }
            Some(_) => run.note(format!(
                "consumer {name} alone: its {left} events applied in one batch"
            )),
            None => {}
        }
        paused.retain(|p| *p != format!("{}/{name}", bulk.stream));
        load::caught_up_but(suite, &paused).await;
    }
}

/// Ids of `table` spread evenly over it, about [`CALLS`] of them, the same ones at every size
/// relative to the base.
async fn spread_ids(db: &Db, sql: &'static str, total: usize) -> Vec<String> {
    sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .expect("ids")
        .iter()
        .step_by((total / CALLS).max(1))
        .map(|row| row.get("id"))
        .collect()
}

async fn measure(backend: Backend, parties: usize) -> Run {
    let sizes = Sizes::of(parties);
    let mut run = Run {
        size: parties,
        ..Run::default()
    };
    let dir = tempfile::tempdir().expect("a directory");
    synthetic::write_parties(dir.path(), sizes.parties);
    synthetic::write_orders(dir.path(), sizes.parties, sizes.orders, true);
    synthetic::write_more(dir.path(), sizes.parties, &sizes.more);
    synthetic::write_partners(dir.path(), REPORTED_YEAR);
    let suite = support::start(backend, support::gateway_settings()).await;
    // The consumer phase pauses consumers, which nats-server does from 2.11 on: an older
    // server times the pause out, well into the run.
    let version = suite.nats.client().await.server_info().version;
    assert!(
        crm_events::version_at_least(&version, (2, 11)),
        "nats-server {version} cannot pause consumers: the bench needs 2.11 or newer on PATH or in \
         CRM_NATS_SERVER (`source scripts/lib/tools.sh && ensure_nats_server` installs one)"
    );
    let rss_started = load::rss_mb();
    let admin = crm_testkit::token("bench", &[Role::Admin]);
    // A token per import: loading the full size takes longer than a token lasts.
    let steward = || crm_testkit::token("bench", &[Role::Admin, Role::DataSteward]);
    let url = |service| format!("http://{}", suite.suite.addr(service));
    let channel = |service| crm_testkit::channel(suite.suite.addr(service));

    ServiceDeskServiceClient::new(channel(Service::Servicedesk))
        .create_queue(authed(
            desk::CreateQueueRequest {
                queue: Some(desk::Queue {
                    name: "Support".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("the cases' queue");

    let file = |name: &str| dir.path().join(format!("{name}.csv"));
    let took = load::import("parties", &file("parties"), &url(Service::Customers), &steward()).await;
    run.note(format!(
        "parties imported in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        parties as f64 / took.as_secs_f64()
    ));
    load::caught_up(&suite).await;
    let customers_db = Db::connect(suite.database_url(Service::Customers), 2)
        .await
        .expect("the customers database");
    let (job, left) = duplicate_job_done(&customers_db).await;
    run.note(if left == 0 {
        format!("duplicate check job done {:.1} s after the import", job.as_secs_f64())
    } else {
        format!(
            "duplicate check job: {left} parties still to check {:.1} s after the import ({:.0} checked/s); reads measured while it runs",
            job.as_secs_f64(),
            (parties as i64 - left) as f64 / job.as_secs_f64()
        )
    });
    for (entity, service, count) in [
        ("relationships", Service::Customers, sizes.more.relationships),
        ("cases", Service::Servicedesk, sizes.more.cases),
        ("opportunities", Service::Sales, sizes.more.opportunities),
        ("partners", Service::Partners, synthetic::partner_count()),
        ("targets", Service::Partners, synthetic::target_count()),
    ] {
        let took = load::import(entity, &file(entity), &url(service), &steward()).await;
        run.note(format!(
            "{count} {entity} imported in {:.1} s ({:.0}/s)",
            took.as_secs_f64(),
            count as f64 / took.as_secs_f64()
        ));
    }
    load::caught_up(&suite).await;

    let took = load::import("orders", &file("orders"), &url(Service::Sales), &steward()).await;
    run.note(format!(
        "{} orders imported in {:.1} s ({:.0}/s)",
        sizes.orders,
        took.as_secs_f64(),
        sizes.orders as f64 / took.as_secs_f64()
    ));
    load::caught_up(&suite).await;
    // Each consumer on its own, over new parties and then new orders for the base as loaded.
    let extra = (parties / 20).clamp(20_000, 50_000);
    consumer_rates(
        &mut run,
        backend,
        &suite,
        &PARTIES_IMPORTED,
        Service::Customers,
        async {
            synthetic::write_party_range(dir.path(), "more-parties", parties..parties + extra);
            load::import(
                "parties",
                &file("more-parties"),
                &url(Service::Customers),
                &steward(),
            )
            .await;
            format!("{extra} more parties imported")
        },
    )
    .await;
    let extra = (sizes.orders / 50).clamp(50_000, 200_000);
    consumer_rates(
        &mut run,
        backend,
        &suite,
        &ORDERS_IMPORTED,
        Service::Sales,
        async {
            let numbers = sizes.orders..sizes.orders + extra;
            synthetic::write_order_range(dir.path(), "more-orders", parties, numbers, true);
            load::import("orders", &file("more-orders"), &url(Service::Sales), &steward()).await;
            format!("{extra} more orders imported")
        },
    )
    .await;
    let rss_loaded = load::rss_mb();
    if backend == Backend::Postgres {
        settle(&suite).await;
    }

    let ids = spread_ids(
        &customers_db,
        "SELECT id FROM parties ORDER BY external_id",
        parties,
    )
    .await;
    let desk_db = Db::connect(suite.database_url(Service::Servicedesk), 2)
        .await
        .expect("the service desk database");
    let case_ids = spread_ids(&desk_db, "SELECT id FROM cases ORDER BY id", sizes.more.cases).await;
    let (ids, case_ids) = (&ids, &case_ids);
    // Tokens last an hour, and loading the full size takes longer: the reads get a fresh one.
    let admin = crm_testkit::token("bench", &[Role::Admin]);
    let token = &admin;
    let customers = CustomersServiceClient::new(channel(Service::Customers));
    let gateway = GatewayServiceClient::new(suite.gateway());
    let marketing = MarketingServiceClient::new(channel(Service::Marketing));
    let predictions = PredictionServiceClient::new(channel(Service::Marketing));
    let reports = SalesReportServiceClient::new(channel(Service::Sales));
    let service_desk = ServiceDeskServiceClient::new(channel(Service::Servicedesk));
    let channels = PartnerServiceClient::new(channel(Service::Partners));

    // The reps in one team of one department, and a quota for each for the year, so that
    // attainment adds up the year's orders.
    let org = SalesOrgServiceClient::new(channel(Service::Sales));
    let department = org
        .clone()
        .create_department(authed(
            sales::CreateDepartmentRequest {
                department: Some(sales::Department {
                    name: "Sales".into(),
                    ..Default::default()
                }),
            },
            token,
        ))
        .await
        .expect("a department")
        .into_inner()
        .department
        .expect("a department");
    let team = org
        .clone()
        .create_team(authed(
            sales::CreateTeamRequest {
                team: Some(sales::Team {
                    name: "Field".into(),
                    department_id: department.id,
                    manager_user_id: "manager".into(),
                    ..Default::default()
                }),
            },
            token,
        ))
        .await
        .expect("a team")
        .into_inner()
        .team
        .expect("a team");
    for rep in 0..synthetic::REPS {
        let rep = sales::Rep {
            user_id: format!("rep-{rep}"),
            display_name: format!("Rep {rep}"),
            team_id: team.id.clone(),
            active: true,
        };
        org.clone()
            .upsert_rep(authed(sales::UpsertRepRequest { rep: Some(rep) }, token))
            .await
            .expect("a rep");
    }
    for rep in 0..synthetic::REPS {
        let quota = sales::Quota {
            owner_kind: sales::QuotaOwnerKind::Rep as i32,
            owner_id: format!("rep-{rep}"),
            period: REPORTED_YEAR.to_string(),
            product_line: String::new(),
            amount: Some(Money {
                amount_minor: 2_000_000_00,
                currency_code: "USD".into(),
            }),
        };
        org.clone()
            .set_quota(authed(sales::SetQuotaRequest { quota: Some(quota) }, token))
            .await
            .expect("a quota");
    }

    // Sends `request(i)` with `call` on a clone of `client`; failures are counted.
    macro_rules! timed {
        ($n:expr, $client:expr, $method:ident, $request:expr) => {
            time($n, |i| {
                let mut client = $client.clone();
                let request = $request(i);
                async move { client.$method(authed(request, token)).await.map(|_| ()) }
            })
            .await
        };
    }

    let get_party = |i: usize| pb::GetPartyRequest {
        id: ids[i % ids.len()].clone(),
    };
    run.read("GetParty", timed!(CALLS, customers, get_party, get_party));
    let search = |query: String| pb::SearchPartiesRequest {
        query,
        page_size: 20,
        ..Default::default()
    };
    // The generator gives 70% of parties customer<n>@example.com and half +886 9<n>.
    run.read(
        "SearchParties by e-mail",
        timed!(CALLS, customers, search_parties, |i| search(format!(
            "customer{}@example.com",
            i * 7
        ))),
    );
    run.read(
        "SearchParties by phone",
        timed!(CALLS, customers, search_parties, |i| search(format!(
            "+886 9{:08}",
            i * 7
        ))),
    );
    run.read(
        "SearchParties by a common name",
        timed!(CALLS, customers, search_parties, |_| search("美玲".into())),
    );
    run.read(
        "SearchParties by a name nobody has",
        timed!(CALLS / 10, customers, search_parties, |i| search(format!(
            "Nobody{i}"
        ))),
    );
    run.read(
        "ListParties, page 1 (50)",
        timed!(CALLS, customers, list_parties, |_| pb::ListPartiesRequest {
            page_size: 50,
            ..Default::default()
        }),
    );
    run.read(
        "ListParties tagged vip, page 1 (50)",
        timed!(CALLS, customers, list_parties, |_| pb::ListPartiesRequest {
            page_size: 50,
            tag: "vip".into(),
            ..Default::default()
        }),
    );
    run.read(
        "FindDuplicates of one party",
        timed!(CALLS, customers, find_duplicates, |i: usize| {
            pb::FindDuplicatesRequest {
                party_id: ids[i % ids.len()].clone(),
                ..Default::default()
            }
        }),
    );
    let customer360 = |i: usize| gateway::GetCustomer360Request {
        party_id: ids[i % ids.len()].clone(),
        ..Default::default()
    };
    run.read(
        "GetCustomer360",
        timed!(CALLS, gateway, get_customer360, customer360),
    );
    run.note(customer360_sections(&gateway, token, CALLS / 4, customer360).await);
    run.read(
        "ScreenPop",
        timed!(CALLS, gateway, screen_pop, |i: usize| gateway::ScreenPopRequest {
            phone: format!("+886 9{:08}", i * (parties / CALLS).max(1)),
            ..Default::default()
        }),
    );
    run.read(
        "GetProfile",
        timed!(CALLS, marketing, get_profile, |i: usize| {
            marketing::GetProfileRequest {
                party_id: ids[i % ids.len()].clone(),
            }
        }),
    );
    run.read(
        "IdentifyCaller",
        timed!(CALLS, service_desk, identify_caller, |i: usize| {
            desk::IdentifyCallerRequest {
                phone: format!("+886 9{:08}", i * (parties / CALLS).max(1)),
            }
        }),
    );
    run.read(
        "GetCase",
        timed!(CALLS, service_desk, get_case, |i: usize| desk::GetCaseRequest {
            id: case_ids[i % case_ids.len()].clone(),
        }),
    );
    run.read(
        "ListCases open, page 1 (50)",
        timed!(CALLS, service_desk, list_cases, |_| desk::ListCasesRequest {
            open_only: true,
            page_size: 50,
            ..Default::default()
        }),
    );
    run.read(
        "ListCases of one customer",
        timed!(CALLS, service_desk, list_cases, |i: usize| {
            desk::ListCasesRequest {
                party_id: ids[i % ids.len()].clone(),
                page_size: 50,
                ..Default::default()
            }
        }),
    );

    // Fitting the models of the whole base (a job the call starts and GetFitJob follows), and
    // GetParty while it runs.
    let fit = {
        let mut predictions = predictions.clone();
        let token = admin.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut fit = predictions
                .fit_models(authed(marketing::FitModelsRequest::default(), &token))
                .await
                .expect("FitModels")
                .into_inner();
            while fit.job.as_ref().expect("a job").state == marketing::FitJobState::Running as i32 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let id = fit.job.expect("a job").id;
                fit = predictions
                    .get_fit_job(authed(marketing::GetFitJobRequest { id }, &token))
                    .await
                    .expect("GetFitJob")
                    .into_inner()
                    .result
                    .expect("a result");
            }
            (started.elapsed(), fit.job.expect("a job"))
        })
    };
    let mut during = Vec::new();
    let mut i = 0;
    while !fit.is_finished() {
        let at = Instant::now();
        customers
            .clone()
            .get_party(authed(get_party(i), token))
            .await
            .expect("GetParty");
        during.push(at.elapsed());
        i += 1;
    }
    let (fit_took, job) = fit.await.expect("the fit");
    run.note(format!(
        "FitModels: {} customers, job {:?} in {:.1} s{}",
        job.customers,
        marketing::FitJobState::try_from(job.state).unwrap_or_default(),
        fit_took.as_secs_f64(),
        if job.error.is_empty() {
            String::new()
        } else {
            format!(" ({})", job.error)
        }
    ));
    run.read("GetParty while FitModels runs", Timings::of(during));
    // A customer without purchases has no prediction: NOT_FOUND is their answer.
    run.read(
        "GetPrediction",
        time(CALLS, |i| {
            let mut predictions = predictions.clone();
            let request = marketing::GetPredictionRequest {
                party_id: ids[i % ids.len()].clone(),
                ..Default::default()
            };
            async move {
                match predictions.get_prediction(authed(request, token)).await {
                    Err(status) if status.code() != tonic::Code::NotFound => Err(status),
                    _ => Ok(()),
                }
            }
        })
        .await,
    );

    // Aggregates, each against one statement over the same tables.
    run.read(
        "GetValuePyramid",
        timed!(CALLS / 25, customers, get_value_pyramid, |_| {
            pb::GetValuePyramidRequest {}
        }),
    );
    run.read(
        "GetRfmCells",
        timed!(CALLS / 25, marketing, get_rfm_cells, |_| {
            marketing::GetRfmCellsRequest::default()
        }),
    );
    run.read(
        "GetFunnel",
        timed!(CALLS / 25, reports, get_funnel, |_| {
            sales::GetFunnelRequest::default()
        }),
    );
    run.read(
        "GetForecast",
        timed!(CALLS / 25, reports, get_forecast, |_| {
            sales::GetForecastRequest::default()
        }),
    );
    run.read(
        "GetQuotaAttainment (a year)",
        timed!(CALLS / 25, reports, get_quota_attainment, |_| {
            sales::GetQuotaAttainmentRequest {
                period: REPORTED_YEAR.to_string(),
                ..Default::default()
            }
        }),
    );
    for (what, dimension) in [
        ("GetPerformance by partner (a year)", partners::Dimension::Partner),
        (
            "GetPerformance by category (a year)",
            partners::Dimension::ProductCategory,
        ),
        ("GetPerformance by product (a year)", partners::Dimension::Product),
        ("GetPerformance by month (a year)", partners::Dimension::Period),
        ("GetPerformance by region (a year)", partners::Dimension::Region),
    ] {
        run.read(
            what,
            timed!(CALLS / 25, channels, get_performance, |_| {
                partners::GetPerformanceRequest {
                    period: REPORTED_YEAR.to_string(),
                    dimension: dimension as i32,
                    ..Default::default()
                }
            }),
        );
    }
    run.read(
        "ListExceptions (a year)",
        timed!(CALLS / 25, channels, list_exceptions, |_| {
            partners::ListExceptionsRequest {
                period: REPORTED_YEAR.to_string(),
                page_size: 100,
                ..Default::default()
            }
        }),
    );
    run.read(
        "GetServiceReport (a month)",
        timed!(CALLS / 25, service_desk, get_service_report, |_| {
            desk::GetServiceReportRequest {
                period: "2026-10".into(),
                ..Default::default()
            }
        }),
    );
    // The customer base analysis: aggregates over the whole order ledger, the slowest of them
    // timed while they run within the call's deadline (a call that fails is reported, not
    // fatal to the run).
    let months = reported_months();
    let analysis_reads: [(&'static str, Box<dyn Fn() -> _>); 4] = [
        (
            "GetTierMigration (a year)",
            Box::new(|| {
                let mut customers = customers.clone();
                let request = pb::GetTierMigrationRequest {
                    from_time: Some(crm_platform::time::timestamp(months[0])),
                    to_time: Some(crm_platform::time::timestamp(months[12])),
                };
                Box::pin(async move {
                    customers
                        .get_tier_migration(authed(request, token))
                        .await
                        .map(|_| ())
                }) as std::pin::Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + '_>>
            }),
        ),
        (
            "GetCohortRetention (12 cohorts)",
            Box::new(|| {
                let mut customers = customers.clone();
                let request = pb::GetCohortRetentionRequest {
                    from_month: format!("{REPORTED_YEAR}-01"),
                    months: 12,
                };
                Box::pin(async move {
                    customers
                        .get_cohort_retention(authed(request, token))
                        .await
                        .map(|_| ())
                })
            }),
        ),
        (
            "GetBaseTrends (a year)",
            Box::new(|| {
                let mut customers = customers.clone();
                let request = pb::GetBaseTrendsRequest {
                    period: REPORTED_YEAR.to_string(),
                };
                Box::pin(async move {
                    customers
                        .get_base_trends(authed(request, token))
                        .await
                        .map(|_| ())
                })
            }),
        ),
        (
            "GetPenetration",
            Box::new(|| {
                let mut customers = customers.clone();
                Box::pin(async move {
                    customers
                        .get_penetration(authed(pb::GetPenetrationRequest {}, token))
                        .await
                        .map(|_| ())
                })
            }),
        ),
    ];
    for (what, call) in &analysis_reads {
        run.read(what, time(CALLS / 25, |_| call()).await);
    }
    let [cohorts_sql, trends_sql] = analysis_baselines(backend);
    let tier_sql = format!(
        "SELECT COALESCE(a.tier, '') AS from_tier, b.tier AS to_tier, COUNT(*) AS parties FROM (SELECT party_id, \
         MAX(CASE WHEN from_at <= {} THEN from_at END) AS fa, MAX(from_at) AS ta FROM tier_history \
         WHERE from_at <= {} GROUP BY party_id) x LEFT JOIN tier_history a ON a.party_id = x.party_id AND a.from_at = x.fa \
         JOIN tier_history b ON b.party_id = x.party_id AND b.from_at = x.ta GROUP BY COALESCE(a.tier, ''), b.tier",
        months[0], months[12]
    );
    let analysis_baselines: [(&'static str, Service, String); 4] = [
        ("tier migration as one SQL statement", Service::Customers, tier_sql),
        ("cohorts as one SQL statement", Service::Customers, cohorts_sql),
        ("base trends as one SQL statement", Service::Customers, trends_sql),
        (
            "penetration as one SQL statement",
            Service::Customers,
            "SELECT 'region' AS by, region_code AS k, COUNT(CASE WHEN lifecycle_stage IN (2, 3, 4) THEN 1 END) AS customers, \
             COUNT(CASE WHEN lifecycle_stage = 1 THEN 1 END) AS prospects, COUNT(CASE WHEN lifecycle_stage = 5 THEN 1 END) AS lost \
             FROM parties WHERE status = 1 GROUP BY region_code UNION ALL SELECT 'industry', industry, \
             COUNT(CASE WHEN lifecycle_stage IN (2, 3, 4) THEN 1 END), COUNT(CASE WHEN lifecycle_stage = 1 THEN 1 END), \
             COUNT(CASE WHEN lifecycle_stage = 5 THEN 1 END) FROM parties WHERE status = 1 GROUP BY industry"
                .to_string(),
        ),
    ];
    let baselines: [(&'static str, Service, &str); 8] = [
        (
            "value pyramid as one SQL statement",
            Service::Customers,
            "SELECT tier, COUNT(*) AS customers, CAST(SUM(lifetime_revenue_minor) AS BIGINT) AS revenue \
             FROM parties WHERE status = 1 GROUP BY tier",
        ),
        (
            "RFM cells as one SQL statement",
            Service::Marketing,
            "SELECT r, f, m, COUNT(*) AS customers, CAST(SUM(total_minor) AS BIGINT) AS revenue FROM \
             (SELECT f.total_minor, NTILE(5) OVER (ORDER BY f.last_day, f.party_id) AS r, \
             NTILE(5) OVER (ORDER BY f.orders, f.party_id) AS f, \
             NTILE(5) OVER (ORDER BY f.total_minor, f.party_id) AS m \
             FROM customer_figures f WHERE f.currency_code = 'USD' \
             AND f.party_id IN (SELECT party_id FROM profiles WHERE status = 'active')) s GROUP BY r, f, m",
        ),
        (
            "funnel as one SQL statement",
            Service::Sales,
            // Per stage: the deals in it, those that ever visited it, and the time spent there.
            "SELECT 'now:' || stage_code AS k, COUNT(*) AS n, CAST(SUM(amount_minor) AS BIGINT) AS s \
             FROM opportunities WHERE currency_code = 'USD' GROUP BY stage_code \
             UNION ALL SELECT 'reached:' || h.stage_code, COUNT(DISTINCT h.opportunity_id), 0 \
             FROM stage_history h JOIN opportunities o ON o.id = h.opportunity_id \
             WHERE o.currency_code = 'USD' GROUP BY h.stage_code \
             UNION ALL SELECT 'visits:' || h.stage_code, COUNT(*), \
             CAST(SUM((COALESCE(h.left_at, 1795428000000000) - h.entered_at) / 1000000) AS BIGINT) \
             FROM stage_history h JOIN opportunities o ON o.id = h.opportunity_id \
             WHERE o.currency_code = 'USD' GROUP BY h.stage_code",
        ),
        (
            "forecast as one SQL statement",
            Service::Sales,
            // The open deals by the month they are expected to close, each weighted by its
            // stage's probability.
            "SELECT SUBSTR(o.expected_close_date, 1, 7) AS month, COUNT(*) AS n, \
             CAST(SUM(o.amount_minor) AS BIGINT) AS pipeline, \
             CAST(SUM((o.amount_minor * s.win_probability_bps + 5000) / 10000) AS BIGINT) AS weighted \
             FROM opportunities o JOIN pipeline_stages s ON s.code = o.stage_code \
             WHERE s.is_won = 0 AND s.is_lost = 0 AND o.currency_code = 'USD' \
             GROUP BY SUBSTR(o.expected_close_date, 1, 7)",
        ),
        (
            "quota attainment as one SQL statement",
            Service::Sales,
            // Orders placed in 2026 (in microseconds), placed or fulfilled, by owner.
            "SELECT owner_id, currency_code, CAST(SUM(total_minor) AS BIGINT) AS attained FROM orders \
             WHERE placed_at >= 1767225600000000 AND placed_at < 1798761600000000 AND status IN (1, 2) \
             GROUP BY owner_id, currency_code",
        ),
        (
            "partner performance as one SQL statement",
            Service::Partners,
            // 2026's sell-through and targets of each top-level partner's whole tree.
            "WITH RECURSIVE tree (id, root) AS (SELECT id, id FROM partners WHERE parent_id = '' \
             UNION ALL SELECT p.id, t.root FROM partners p JOIN tree t ON p.parent_id = t.id) \
             SELECT 'actual:' || t.root AS k, CAST(SUM(s.amount_minor) AS BIGINT) AS n \
             FROM sell_through s JOIN tree t ON t.id = s.partner_id WHERE s.currency_code = 'USD' \
             AND s.sold_on >= '2026-01-01' AND s.sold_on < '2027-01-01' GROUP BY t.root \
             UNION ALL SELECT 'target:' || t.root, CAST(SUM(g.amount_minor) AS BIGINT) \
             FROM targets g JOIN tree t ON t.id = g.partner_id \
             WHERE g.currency_code = 'USD' AND g.period LIKE '2026%' GROUP BY t.root",
        ),
        (
            "exceptions as one SQL statement",
            Service::Partners,
            // The partner x month x category cells of 2026 under 80% of their target, each
            // month's sales read from the partner's index (a join with the year's sales added up
            // per cell is planned as a nested loop on PostgreSQL and takes seconds).
            "SELECT partner_id, period, product_category, amount_minor, actual FROM (\
             SELECT g.partner_id, g.period, g.product_category, g.amount_minor, \
             CAST(COALESCE((SELECT SUM(s.amount_minor) FROM sell_through s WHERE s.partner_id = g.partner_id \
             AND s.sold_on >= g.period || '-01' AND s.sold_on < g.period || '-32' \
             AND s.currency_code = 'USD' AND s.product_category = g.product_category), 0) AS BIGINT) AS actual \
             FROM targets g WHERE g.currency_code = 'USD' AND g.period >= '2026-01' AND g.period < '2027') c \
             WHERE actual * 10000 < amount_minor * 8000 ORDER BY partner_id, period",
        ),
        (
            "service report as one SQL statement",
            Service::Servicedesk,
            // October 2026 in microseconds: the month's cases by channel and type with their
            // targets met, times and ratings; the open cases by agent and age.
            "SELECT 'month:' || CAST(channel AS TEXT) || ':' || CAST(type AS TEXT) AS k, COUNT(*) AS n, \
             CAST(SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS resolved, \
             CAST(SUM(CASE WHEN first_response_at <= response_due_at THEN 1 ELSE 0 END) AS BIGINT) AS responded_in_time, \
             CAST(SUM(CASE WHEN resolved_at <= resolution_due_at THEN 1 ELSE 0 END) AS BIGINT) AS resolved_in_time, \
             CAST(SUM(first_response_at - opened_at) AS BIGINT) AS response, \
             CAST(SUM(resolved_at - opened_at) AS BIGINT) AS resolution, \
             CAST(SUM(CASE WHEN satisfaction > 0 THEN satisfaction ELSE 0 END) AS BIGINT) AS rating \
             FROM cases WHERE opened_at >= 1790812800000000 AND opened_at < 1793491200000000 \
             GROUP BY channel, type \
             UNION ALL SELECT 'open:' || agent_id, COUNT(*), \
             CAST(SUM(CASE WHEN opened_at < 1795428000000000 - 86400000000 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN opened_at < 1795428000000000 - 259200000000 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN opened_at < 1795428000000000 - 604800000000 THEN 1 ELSE 0 END) AS BIGINT), 0, 0, 0 \
             FROM cases WHERE resolved_at IS NULL GROUP BY agent_id",
        ),
    ];
    let analysis_baselines = analysis_baselines
        .iter()
        .map(|(what, service, sql)| (*what, *service, sql.as_str()));
    for (what, service, sql) in baselines.into_iter().chain(analysis_baselines) {
        let db = Db::connect(suite.database_url(service), 1)
            .await
            .expect("a database");
        let pool = db.pool().clone();
        let timings = time(CALLS / 25, |_| {
            let (pool, sql) = (pool.clone(), sql.to_string());
            async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&pool)
                    .await
                    .map(|_| ())
            }
        })
        .await;
        run.read(what, timings);
        db.close().await;
    }

    // Last, as it adds parties.
    let new_party = |i: usize| {
        let mut rng = synthetic::Rng(0xc0ff_ee00 + i as u64);
        let p = synthetic::party(&mut rng, parties + i);
        let mut party = crm_testkit::fixtures::person(p.given, p.family);
        if !p.phone.is_empty() {
            party.contact_points.push(crm_testkit::fixtures::contact(
                pb::ContactPointKind::Phone,
                &p.phone,
            ));
        }
        pb::CreatePartyRequest {
            party: Some(party),
            request_id: String::new(),
        }
    };
    run.read(
        "CreateParty (with its duplicate check)",
        timed!(CALLS, customers, create_party, new_party),
    );
    run.note(format!(
        "resident memory of the suite (all services and the gateway in this process): {rss_started:.0} MB started, {rss_loaded:.0} MB loaded, {:.0} MB after the reads; peak {:.0} MB",
        load::rss_mb(),
        load::peak_rss_mb()
    ));

    // Memory under a steady mixed load: four callers, each cycling through reads of every
    // service (the 360 reaches them all) and a create, whose events every consumer applies.
    let mixed = mixed_load_duration(parties);
    if !mixed.is_zero() {
        let until = Instant::now() + mixed;
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let caller = |worker: usize| {
            let (mut customers, mut gateway, mut service_desk) =
                (customers.clone(), gateway.clone(), service_desk.clone());
            let calls = &calls;
            async move {
                let mut i = worker;
                while Instant::now() < until {
                    let id = ids[(i * 7919) % ids.len()].clone();
                    let ok = match i % 5 {
                        0 => customers
                            .get_party(authed(pb::GetPartyRequest { id }, token))
                            .await
                            .is_ok(),
                        1 => {
                            let query = format!("customer{}@example.com", i * 13);
                            customers
                                .search_parties(authed(search(query), token))
                                .await
                                .is_ok()
                        }
                        2 => {
                            let request = gateway::GetCustomer360Request {
                                party_id: id,
                                ..Default::default()
                            };
                            gateway.get_customer360(authed(request, token)).await.is_ok()
                        }
                        3 => {
                            let request = desk::ListCasesRequest {
                                party_id: id,
                                page_size: 20,
                                ..Default::default()
                            };
                            service_desk.list_cases(authed(request, token)).await.is_ok()
                        }
                        _ => customers
                            .create_party(authed(new_party(CALLS + i), token))
                            .await
                            .is_ok(),
                    };
                    assert!(ok, "a call of the mixed load failed");
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += 4;
                }
            }
        };
        let sampler = async {
            let mut samples = vec![load::rss_mb()];
            while Instant::now() < until {
                tokio::time::sleep(
                    Duration::from_secs(60).min(until.saturating_duration_since(Instant::now())),
                )
                .await;
                samples.push(load::rss_mb());
            }
            samples
        };
        let (samples, _) = tokio::join!(sampler, futures::future::join_all((0..4).map(caller)));
        let minutes: Vec<String> = samples.iter().map(|mb| format!("{mb:.0}")).collect();
        run.note(format!(
            "resident memory over {} s of mixed load ({} calls: GetParty, SearchParties, GetCustomer360, ListCases, CreateParty by four callers), each minute: {} MB",
            mixed.as_secs(),
            calls.load(std::sync::atomic::Ordering::Relaxed),
            minutes.join(", ")
        ));
    }
    customers_db.close().await;
    desk_db.close().await;
    // Stopped before its databases go, so that it does not keep retrying into the next size.
    suite.shutdown().await;
    run
}

/// Leaves each service's PostgreSQL database as a running deployment has it some time after a
/// load: vacuumed and analysed (what autovacuum does; the machine measured runs without it) and
/// checkpointed. Otherwise the reads at the full size pay for the load: each first read of a
/// page written by it sets its hint bits, and the checkpoint of the load's gigabytes competes
/// with them for the disk. Prints how long it took.
async fn settle(suite: &support::TestSuite) {
    let started = Instant::now();
    for service in Service::DOMAINS {
        let db = Db::connect(suite.database_url(service), 1)
            .await
            .expect("a database");
        for statement in ["VACUUM (ANALYZE)", "CHECKPOINT"] {
            sqlx::query(statement).execute(db.pool()).await.expect(statement);
        }
        db.close().await;
    }
    println!(
        "  databases vacuumed, analysed and checkpointed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// How long the mixed load runs at a size: `CRM_BENCH_MIXED_SECONDS` at the full size (600 by
/// default), none at the small one.
fn mixed_load_duration(parties: usize) -> Duration {
    if parties <= SMALL {
        return Duration::ZERO;
    }
    let seconds = std::env::var("CRM_BENCH_MIXED_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(seconds)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // The suite's own log, when asked for (e.g. `RUST_LOG=warn`), on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let backend = crm_testkit::bench::backend();
    let default = match backend {
        Backend::Postgres => 1_000_000,
        Backend::Sqlite => 100_000,
    };
    let large = std::env::var("CRM_BENCH_PARTIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    println!("the suite at scale on {backend:?}: {SMALL} and {large} customers, {CALLS} calls per read");
    let small = measure(backend, SMALL).await;
    let full = measure(backend, large).await;
    println!();
    println!("| read | p50 / p99 at {SMALL} (ms) | p50 / p99 at {large} (ms) | p99 ratio |");
    println!("|---|---|---|---|");
    for (what, at_small) in &small.reads {
        let at_full = &full.reads[what];
        println!(
            "| {what} | {:.2} / {:.2}{} | {:.2} / {:.2}{} | {:.2}x |",
            at_small.at(0.5),
            at_small.at(0.99),
            at_small.failures(),
            at_full.at(0.5),
            at_full.at(0.99),
            at_full.failures(),
            at_full.at(0.99) / at_small.at(0.99).max(1e-6)
        );
    }
    println!();
    println!("| aggregate at {large} | p50 (ms) | one SQL statement, p50 (ms) | ratio |");
    println!("|---|---|---|---|");
    for (aggregate, baseline) in AGGREGATES {
        let (a, b) = (&full.reads[aggregate], &full.reads[baseline]);
        println!(
            "| {aggregate} | {:.2}{} | {:.2}{} | {:.2}x |",
            a.at(0.5),
            a.failures(),
            b.at(0.5),
            b.failures(),
            a.at(0.5) / b.at(0.5).max(1e-6)
        );
    }
    let idle = full.reads["GetParty"].at(0.99);
    let busy = full.reads["GetParty while FitModels runs"].at(0.99);
    println!(
        "\nGetParty p99 at {large} while FitModels runs: {busy:.2} ms against {idle:.2} ms idle ({:.2}x)",
        busy / idle.max(1e-6)
    );
    for run in [&small, &full] {
        println!("\nat {}:", run.size);
        for note in &run.notes {
            println!("- {note}");
        }
    }
}
