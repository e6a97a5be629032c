//! The customers service as its base grows: the same reads at 10,000 parties and at the full
//! size, their tail latencies side by side, the duplicate index's work, and the value pyramid
//! against one hand-written SQL statement over the same table, measured in one run.
//!
//! For each size: a fresh database and nats-server, the customers service on its own, the
//! synthetic base (see `common/synthetic.rs`) loaded with `crm import parties`, the duplicate
//! check job left to finish, then each read timed one call after another.
//!
//! `cargo bench -p crm --bench scale`. Environment: `CRM_BENCH_BACKEND` (`sqlite`, the default,
//! or `postgres` with `CRM_TEST_POSTGRES_URL`), `CRM_BENCH_PARTIES` (the full size: 100,000 on
//! SQLite, 1,000,000 on PostgreSQL), `CRM_BENCH_DUPLICATE_WAIT` (seconds to wait at most for the
//! duplicate check job before the reads).

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;
#[path = "common/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser as _;
use crm_auth::Role;
use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_testkit::{Backend, TestDb, TestNats, authed};
use sqlx::Row as _;

/// The allocator of the `crm` binary, so that the figures are those of the suite as shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Calls timed per read.
const CALLS: usize = 500;
/// The small base every figure is compared with.
const SMALL: usize = 10_000;

/// Latencies of one read at one size.
#[derive(Default, Clone)]
struct Timings(Vec<Duration>);

impl Timings {
    fn at(&self, p: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// How long one read is timed at most: a read that takes seconds at volume is reported from
/// the calls made by then.
const BUDGET: Duration = Duration::from_secs(30);

/// Times `n` runs of `call` (after `n / 10` untimed ones), or as many as [`BUDGET`] allows.
async fn time<F, Fut>(n: usize, mut call: F) -> Timings
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..n / 10 {
        call(i).await;
    }
    let mut out = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let at = Instant::now();
        call(i).await;
        out.push(at.elapsed());
        if started.elapsed() > BUDGET {
            break;
        }
    }
    Timings(out)
}

/// What one size measured: the timings of each read, by name.
#[derive(Default)]
struct Run {
    size: usize,
    reads: BTreeMap<&'static str, Timings>,
}

impl Run {
    /// Keeps a read's timings and prints them at once, so a run stopped early still reports.
    fn read(&mut self, what: &'static str, timings: Timings) {
        println!(
            "{}: {what}: p50 {:.2} ms, p99 {:.2} ms ({} calls)",
            self.size,
            timings.at(0.5),
            timings.at(0.99),
            timings.0.len()
        );
        self.reads.insert(what, timings);
    }

    /// Prints a figure of this size that is not a read.
    fn note(&self, note: String) {
        println!("{}: {note}", self.size);
    }
}

/// Waits until the duplicate check job has checked every imported party, or for at most
/// `CRM_BENCH_DUPLICATE_WAIT` seconds (unlimited by default); how long it waited and how many
/// parties were still to check then.
async fn duplicate_job_done(db: &crm_storage::Db) -> (Duration, i64) {
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

async fn measure(backend: Backend, parties: usize) -> Run {
    let mut run = Run {
        size: parties,
        ..Run::default()
    };
    let nats = TestNats::start();
    let db = TestDb::new(backend);
    let service =
        crm_testkit::start::<crm_customers::Customers>(&db.url, nats.client().await, |_, _| {}).await;
    let token = crm_testkit::token("bench", &[Role::Admin]);
    let steward = crm_testkit::token("bench", &[Role::DataSteward]);

    let dir = tempfile::tempdir().expect("a directory");
    synthetic::write_files(dir.path(), parties, 0);
    let cli = crm::cli::Cli::parse_from([
        "crm",
        "import",
        "parties",
        dir.path().join("parties.csv").to_str().expect("a path"),
        "--url",
        &service.url(),
        "--token",
        &steward,
        "--source",
        "bench",
    ]);
    let started = Instant::now();
    crm::cli::run(cli).await.expect("importing");
    let took = started.elapsed();
    run.note(format!(
        "import {:.1} s ({:.0} parties/s)",
        took.as_secs_f64(),
        parties as f64 / took.as_secs_f64()
    ));
    let (job, left) = duplicate_job_done(&service.db).await;
    run.note(if left == 0 {
        format!("duplicate check job done {:.1} s after the import", job.as_secs_f64())
    } else {
        format!(
            "duplicate check job: {left} parties still to check {:.1} s after the import ({:.0} checked/s); reads measured while it runs",
            job.as_secs_f64(),
            (parties as i64 - left) as f64 / job.as_secs_f64()
        )
    });

    // Parties spread over the whole base, the same ones at every size relative to it.
    let ids: Vec<String> = sqlx::query("SELECT id FROM parties ORDER BY external_id")
        .fetch_all(service.db.pool())
        .await
        .expect("party ids")
        .iter()
        .step_by((parties / CALLS).max(1))
        .map(|row| row.get("id"))
        .collect();
    let client = CustomersServiceClient::new(service.channel());
    let token = &token;
    let ids = &ids;

    run.read(
        "GetParty",
        time(CALLS, |i| {
            let mut client = client.clone();
            async move {
                let id = ids[i % ids.len()].clone();
                client
                    .get_party(authed(pb::GetPartyRequest { id }, token))
                    .await
                    .expect("GetParty");
            }
        })
        .await,
    );
    let search = |query: fn(usize) -> String| {
        let client = client.clone();
        move |i: usize| {
            let mut client = client.clone();
            let query = query(i);
            async move {
                client
                    .search_parties(authed(
                        pb::SearchPartiesRequest {
                            query,
                            page_size: 20,
                            ..Default::default()
                        },
                        token,
                    ))
                    .await
                    .expect("SearchParties");
            }
        }
    };
    // The generator gives 70% of parties customer<n>@example.com and half +886 9<n>.
    run.read(
        "SearchParties by e-mail",
        time(CALLS, search(|i| format!("customer{}@example.com", i * 7))).await,
    );
    run.read(
        "SearchParties by phone",
        time(CALLS, search(|i| format!("+886 9{:08}", i * 7))).await,
    );
    run.read(
        "SearchParties by a common name",
        time(CALLS, search(|_| "美玲".to_string())).await,
    );
    run.read(
        "SearchParties by a name nobody has",
        time(CALLS / 10, search(|i| format!("Nobody{i}"))).await,
    );
    for (what, tag) in [
        ("ListParties, page 1 (50)", ""),
        ("ListParties tagged vip, page 1 (50)", "vip"),
    ] {
        let timings = time(CALLS, |_| {
            let mut client = client.clone();
            let request = pb::ListPartiesRequest {
                page_size: 50,
                tag: tag.into(),
                ..Default::default()
            };
            async move {
                client
                    .list_parties(authed(request, token))
                    .await
                    .expect("ListParties");
            }
        })
        .await;
        run.read(what, timings);
    }
    run.read(
        "FindDuplicates of one party",
        time(CALLS, |i| {
            let mut client = client.clone();
            async move {
                client
                    .find_duplicates(authed(
                        pb::FindDuplicatesRequest {
                            party_id: ids[i % ids.len()].clone(),
                            ..Default::default()
                        },
                        token,
                    ))
                    .await
                    .expect("FindDuplicates");
            }
        })
        .await,
    );
    run.read(
        "CreateParty (with its duplicate check)",
        time(CALLS, |i| {
            let mut client = client.clone();
            async move {
                let mut rng = synthetic::Rng(0xc0ff_ee00 + i as u64);
                let p = synthetic::party(&mut rng, parties + i);
                let mut party = crm_testkit::fixtures::person(p.given, p.family);
                if !p.phone.is_empty() {
                    party.contact_points.push(crm_testkit::fixtures::contact(
                        pb::ContactPointKind::Phone,
                        &p.phone,
                    ));
                }
                client
                    .create_party(authed(
                        pb::CreatePartyRequest {
                            party: Some(party),
                            request_id: String::new(),
                        },
                        token,
                    ))
                    .await
                    .expect("CreateParty");
            }
        })
        .await,
    );
    run.read(
        "GetValuePyramid",
        time(CALLS / 25, |_| {
            let mut client = client.clone();
            async move {
                client
                    .get_value_pyramid(authed(pb::GetValuePyramidRequest {}, token))
                    .await
                    .expect("GetValuePyramid");
            }
        })
        .await,
    );
    // Baseline: the customers per stored tier and their revenue, one statement.
    let pool = service.db.pool().clone();
    run.read(
        "value pyramid as one SQL statement (baseline)",
        time(CALLS / 25, |_| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "SELECT tier, COUNT(*) AS customers, CAST(SUM(lifetime_revenue_minor) AS BIGINT) AS revenue \
                     FROM parties WHERE status = 1 GROUP BY tier",
                )
                .fetch_all(&pool)
                .await
                .expect("the baseline");
            }
        })
        .await,
    );
    drop(service);
    run
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = match std::env::var("CRM_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let default = match backend {
        Backend::Postgres => 1_000_000,
        Backend::Sqlite => 100_000,
    };
    let large = std::env::var("CRM_BENCH_PARTIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    println!("customers at scale on {backend:?}: {SMALL} and {large} parties, {CALLS} calls per read");
    let small = measure(backend, SMALL).await;
    let full = measure(backend, large).await;
    println!();
    println!("| read | p50 / p99 at {SMALL} (ms) | p50 / p99 at {large} (ms) | p99 ratio |");
    println!("|---|---|---|---|");
    for (what, at_small) in &small.reads {
        let at_full = &full.reads[what];
        println!(
            "| {what} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2}x |",
            at_small.at(0.5),
            at_small.at(0.99),
            at_full.at(0.5),
            at_full.at(0.99),
            at_full.at(0.99) / at_small.at(0.99).max(1e-6)
        );
    }
    let pyramid = full.reads["GetValuePyramid"].at(0.5);
    let baseline = full.reads["value pyramid as one SQL statement (baseline)"].at(0.5);
    println!(
        "\nGetValuePyramid at {large}: {pyramid:.1} ms against {baseline:.1} ms for the baseline statement ({:.1}x)",
        pyramid / baseline.max(1e-6)
    );
}
