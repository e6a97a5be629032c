//! Bulk import at volume, against loading the same rows into the same tables with multi-row
//! INSERTs, measured in one run:
//!
//! - a synthetic base (seeded): parties with realistic name frequencies (many share a surname,
//!   Chinese and Latin names), e-mail and phone, three years of creation dates; orders over three
//!   years with a long-tailed number of orders per customer, some cancelled or returned;
//! - the baseline: those parties written to a fresh customers database, and those orders to a
//!   fresh sales database, 500 rows per INSERT, each row with the (source, external id) key the
//!   import stores on it (so both fill the same unique index), nothing else;
//! - the import: `crm import parties` then `crm import orders` (the CLI's code, parsing the CSV
//!   files and streaming them to the services of a running suite);
//! - catching up: how long after each import every consumer (sales' accounts, the order ledger,
//!   marketing, partners, the service desk) had applied every event; the orders are imported
//!   once the parties' events are applied, so each import is measured with its own consumers.
//!
//! `cargo bench -p crm --bench import`. Environment: `CRM_BENCH_BACKEND` (`sqlite`, the default,
//! or `postgres` with `CRM_TEST_POSTGRES_URL`), `CRM_BENCH_PARTIES` and `CRM_BENCH_ORDERS`
//! (defaults 100,000 / 500,000 on SQLite, 1,000,000 / 5,000,000 on PostgreSQL).

#[path = "common/load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;
#[path = "common/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use std::time::Instant;

use crm::services::Service;
use crm_auth::Role;
use crm_storage::imports::{NewRowKey, RowKeys};
use crm_storage::{Arg, Db, SqlBuilder};
use crm_testkit::{Backend, TestDb};
use load::{caught_up, import, machine_busy_s, peak_rss_mb};
use synthetic::{Party, Rng, order, party, write_files};

/// The allocator of the `crm` binary, so that the figures are those of the suite as shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;

/// The import key a loaded row carries: its source, run, a content hash of the import's length
/// and its row number.
fn row_key(run: &str, row: usize) -> [Arg; 4] {
    let hash = format!(
        "{:032x}",
        (row as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834)
    );
    RowKeys::args(Some(&NewRowKey {
        source: "bench",
        run_id: run,
        content_hash: &hash,
        row: row as i64 + 1,
    }))
}

/// The baseline: the same parties written with multi-row INSERTs into a fresh customers
/// database (parties, contact points, tags), nothing else. Rows per second.
async fn baseline_parties(backend: Backend, parties: usize) -> f64 {
    let db = TestDb::new(backend);
    crm::services::migrate(Service::Customers, &db.url).await.unwrap();
    let pool = Db::connect(&db.url, 2).await.unwrap();
    let mut rng = Rng(0x5eed_cafe_f00d);
    let run = crm_storage::imports::new_run_id();
    let started = Instant::now();
    let mut n = 0;
    while n < parties {
        let chunk: Vec<(String, Party)> = (n..(n + BATCH).min(parties))
            .map(|i| (uuid::Uuid::now_v7().to_string(), party(&mut rng, i)))
            .collect();
        n += chunk.len();
        let mut tx = pool.begin().await.unwrap();
        SqlBuilder::insert_rows(
            &format!("parties (id, kind, display_name, name_key, given_name, family_name, source, lifecycle_stage, status, \
             currency_code, version, created_at, updated_at, verified_at, external_id, {})",
            RowKeys::COLUMNS
        ),
            chunk.iter().enumerate().map(|(i, (id, p))| {
                let name = format!("{} {}", p.given, p.family);
                [
                    Arg::from(id.as_str()),
                    Arg::Int(1),
                    Arg::from(name.clone()),
                    Arg::from(name.to_lowercase()),
                    Arg::from(p.given),
                    Arg::from(p.family),
                    Arg::from("bench"),
                    Arg::Int(1),
                    Arg::Int(1),
                    Arg::from("USD"),
                    Arg::Int(1),
                    Arg::Int(p.created * 1_000_000),
                    Arg::Int(p.created * 1_000_000),
                    Arg::Int(p.created * 1_000_000),
                    Arg::from(p.external_id.as_str()),
                ]
                .into_iter()
                .chain(row_key(&run, n - chunk.len() + i))
            }),
        )
        .build()
        .execute(&mut tx)
        .await
        .unwrap();
        let points: Vec<(String, &str, i64, String)> = chunk
            .iter()
            .flat_map(|(id, p)| {
                [(1, &p.email), (2, &p.phone)]
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(move |(kind, v)| (uuid::Uuid::now_v7().to_string(), id.as_str(), kind, v.clone()))
            })
            .collect();
        if !points.is_empty() {
            SqlBuilder::insert_rows(
                "contact_points (id, party_id, kind, value, normalized, label, is_primary, position)",
                points.iter().map(|(id, party, kind, value)| {
                    [
                        Arg::from(id.as_str()),
                        Arg::from(*party),
                        Arg::Int(*kind),
                        Arg::from(value.as_str()),
                        Arg::from(value.to_lowercase()),
                        Arg::from(""),
                        Arg::Int(1),
                        Arg::Int(*kind - 1),
                    ]
                }),
            )
            .build()
            .execute(&mut tx)
            .await
            .unwrap();
        }
        let tags: Vec<&str> = chunk
            .iter()
            .filter(|(_, p)| p.vip)
            .map(|(id, _)| id.as_str())
            .collect();
        if !tags.is_empty() {
            SqlBuilder::insert_rows(
                "party_tags (party_id, tag)",
                tags.iter().map(|id| [Arg::from(*id), Arg::from("vip")]),
            )
            .build()
            .execute(&mut tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let rate = parties as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    rate
}

/// The baseline for orders: the same orders written with multi-row INSERTs into a fresh sales
/// database. Rows per second.
async fn baseline_orders(backend: Backend, parties: usize, orders: usize) -> f64 {
    let db = TestDb::new(backend);
    crm::services::migrate(Service::Sales, &db.url).await.unwrap();
    let pool = Db::connect(&db.url, 2).await.unwrap();
    let mut rng = Rng(0x0bad_5eed_1234);
    let run = crm_storage::imports::new_run_id();
    let started = Instant::now();
    let mut n = 0;
    while n < orders {
        let chunk: Vec<_> = (n..(n + BATCH).min(orders))
            .map(|i| order(&mut rng, i, parties))
            .collect();
        n += chunk.len();
        let mut tx = pool.begin().await.unwrap();
        SqlBuilder::insert_rows(
            &format!(
                "orders (id, party_id, lines, currency_code, total_minor, status, placed_at, version, status_at, \
                 external_id, {})",
                RowKeys::COLUMNS
            ),
            chunk.iter().enumerate().map(|(i, (id, who, placed, amount, status, at))| {
                let status = match *status {
                    "cancelled" => 3,
                    "returned" => 4,
                    _ => 2,
                };
                [
                    Arg::from(uuid::Uuid::now_v7().to_string()),
                    Arg::from(who.as_str()),
                    Arg::from("[]"),
                    Arg::from("USD"),
                    Arg::Int(*amount),
                    Arg::Int(status),
                    Arg::Int(placed * 1_000_000),
                    Arg::Int(1),
                    Arg::Int(at * 1_000_000),
                    Arg::from(id.as_str()),
                ]
                .into_iter()
                .chain(row_key(&run, n - chunk.len() + i))
            }),
        )
        .build()
        .execute(&mut tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let rate = orders as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    let (default_parties, default_orders) = match backend {
        Backend::Postgres => (1_000_000, 5_000_000),
        Backend::Sqlite => (100_000, 500_000),
    };
    let size = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let parties = size("CRM_BENCH_PARTIES", default_parties);
    let orders = size("CRM_BENCH_ORDERS", default_orders);
    println!("bulk import on {backend:?}: {parties} parties, {orders} orders");
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    write_files(dir.path(), parties, orders);
    println!("files written in {:.1} s", started.elapsed().as_secs_f64());

    let base_parties = baseline_parties(backend, parties).await;
    println!("baseline parties: {base_parties:.0} rows/s");
    let busy = machine_busy_s();
    let base_orders = baseline_orders(backend, parties, orders).await;
    let base_orders_cpu = machine_busy_s() - busy;
    println!("baseline orders:  {base_orders:.0} rows/s ({base_orders_cpu:.1} core-s busy)");

    let suite = support::start(backend, support::gateway_settings()).await;
    let token = crm_testkit::token("bench", &[Role::DataSteward]);
    let customers = format!("http://{}", suite.suite.addr(Service::Customers));
    let sales = format!("http://{}", suite.suite.addr(Service::Sales));
    let rss_before = peak_rss_mb();
    // Each figure is printed as soon as it is known, so a run stopped early still reports.
    let parties_took = import("parties", &dir.path().join("parties.csv"), &customers, &token).await;
    println!("parties imported in {:.1} s", parties_took.as_secs_f64());
    let catching = Instant::now();
    caught_up(&suite).await;
    let parties_caught = catching.elapsed();
    println!("consumers caught up {:.1} s later", parties_caught.as_secs_f64());
    let rss_parties = peak_rss_mb();
    let busy = machine_busy_s();
    let orders_took = import("orders", &dir.path().join("orders.csv"), &sales, &token).await;
    let orders_cpu = machine_busy_s() - busy;
    println!(
        "orders imported in {:.1} s ({orders_cpu:.1} core-s busy)",
        orders_took.as_secs_f64()
    );
    let busy = machine_busy_s();
    let catching = Instant::now();
    caught_up(&suite).await;
    let orders_caught = catching.elapsed();
    let caught_cpu = machine_busy_s() - busy;
    println!(
        "consumers caught up {:.1} s later ({caught_cpu:.1} core-s busy)",
        orders_caught.as_secs_f64()
    );
    let rss_orders = peak_rss_mb();

    let parties_rate = parties as f64 / parties_took.as_secs_f64();
    let orders_rate = orders as f64 / orders_took.as_secs_f64();
    println!();
    println!("| figure | import | baseline (multi-row INSERT) | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| parties | {parties_rate:.0} rows/s ({:.1} s) | {base_parties:.0} rows/s | {:.0}% | >= 50% |",
        parties_took.as_secs_f64(),
        100.0 * parties_rate / base_parties
    );
    println!(
        "| orders | {orders_rate:.0} rows/s ({:.1} s) | {base_orders:.0} rows/s | {:.0}% | >= 50% |",
        orders_took.as_secs_f64(),
        100.0 * orders_rate / base_orders
    );
    for (what, caught, took) in [
        ("parties", parties_caught, parties_took),
        ("orders", orders_caught, orders_took),
    ] {
        println!(
            "| consumers caught up after the {what} import | {:.1} s | import {:.1} s | {:.2}x | <= 2x |",
            caught.as_secs_f64(),
            took.as_secs_f64(),
            caught.as_secs_f64() / took.as_secs_f64()
        );
    }
    // Both targets together bound the work: the import may last twice the baseline and the
    // catching up twice the import, so everything must fit in 6x the baseline's time on the
    // machine's cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let base_orders_s = orders as f64 / base_orders;
    println!(
        "| machine busy for the orders, import + catching up | {:.0} core-s ({orders_cpu:.0} + {caught_cpu:.0}) | baseline {base_orders_cpu:.0} core-s | {:.1}x | <= {:.0} core-s ({cores:.0} cores x 6 x {base_orders_s:.1} s) |",
        orders_cpu + caught_cpu,
        (orders_cpu + caught_cpu) / base_orders_cpu.max(0.01),
        cores * 6.0 * base_orders_s
    );
    println!(
        "| peak resident memory (suite + importer) | {rss_before:.0} MB before, {rss_parties:.0} MB after parties, {rss_orders:.0} MB after orders | | | flat |"
    );
}
