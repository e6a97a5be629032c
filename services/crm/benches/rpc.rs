//! What the suite's server stack costs per call, against a bare tonic server, with 64 calls in
//! flight over four connections, measured in one run:
//!
//! - a health check on a bare tonic server (the baseline every ratio below is taken against);
//! - the same health check through `crm serve customers` (tracing, deadline, served paths,
//!   authentication, rate limit, access log);
//! - `GetParty` through `crm serve customers` on SQLite, and on PostgreSQL when
//!   `CRM_TEST_POSTGRES_URL` is set;
//! - on PostgreSQL, `CreateParty` against the same number of rows written by sqlx directly (a
//!   party, its name key, an audit entry and an outbox row in one transaction per call).
//!
//! Both servers run as processes of their own (the suite's is the release `crm` binary, logging
//! as it does in production, to a file), the load comes from this process.
//!
//! `cargo bench -p crm --bench rpc`. `CRM_BENCH_SECONDS` sets each measurement's length (5).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_auth::Role;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_storage::Backend;
use crm_testkit::{TestDb, TestNats, authed};
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

/// The allocator of the `crm` binary, so that the client costs what it would against the suite.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Calls in flight at any time.
const IN_FLIGHT: usize = 64;
/// HTTP/2 connections the calls share.
const CONNECTIONS: usize = 4;
/// Set in the child process that serves the bare baseline.
const BARE_SERVER: &str = "CRM_BENCH_BARE_SERVER";

fn main() {
    if let Ok(addr) = std::env::var(BARE_SERVER) {
        bare_server(addr.parse().expect("an address"));
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench());
}

/// A tonic server with the health service and nothing else.
fn bare_server(addr: SocketAddr) {
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(async move {
            let (_reporter, health) = tonic_health::server::health_reporter();
            tonic::transport::Server::builder()
                .add_service(health)
                .serve(addr)
                .await
                .expect("serving");
        });
}

/// Throughput and tail latency of one load run.
struct Rate {
    calls_per_second: f64,
    p99: Duration,
}

impl Rate {
    fn line(&self, what: &str, baseline: Option<&Rate>) -> String {
        let ratio = baseline.map_or(String::new(), |b| {
            format!(
                "   {:>5.1}% of baseline",
                100.0 * self.calls_per_second / b.calls_per_second
            )
        });
        format!(
            "{what:<48} {:>9.0} calls/s   p99 {:>7.2} ms{ratio}",
            self.calls_per_second,
            self.p99.as_secs_f64() * 1000.0
        )
    }
}

/// Runs `call` with [`IN_FLIGHT`] calls in flight over `connections` for the configured time
/// (after a one-second warm-up) and returns the rate of successful calls.
async fn load<C, F, Fut>(connections: &[C], call: F) -> Rate
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let seconds: u64 = std::env::var("CRM_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let call = Arc::new(call);
    let warm_until = Instant::now() + Duration::from_secs(1);
    let until = warm_until + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for worker in 0..IN_FLIGHT {
        let channel = connections[worker % connections.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            loop {
                let started = Instant::now();
                if started >= until {
                    break;
                }
                call(channel.clone(), (worker as u64) << 32 | n).await;
                n += 1;
                if started >= warm_until {
                    latencies.push(started.elapsed());
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a load task"));
    }
    latencies.sort();
    Rate {
        calls_per_second: latencies.len() as f64 / seconds as f64,
        p99: latencies[(latencies.len() - 1) * 99 / 100],
    }
}

fn channels(addr: SocketAddr) -> Vec<Channel> {
    (0..CONNECTIONS).map(|_| crm_testkit::channel(addr)).collect()
}

async fn health(channel: Channel, _: u64) {
    let response = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("a health check");
    assert_eq!(response.into_inner().status, 1, "serving");
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the server at `addr` answers health checks.
async fn ready(addr: SocketAddr) {
    crm_testkit::eventually(Duration::from_secs(60), "the server to answer", || async move {
        HealthClient::new(crm_testkit::channel(addr))
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .ok()
    })
    .await;
}

fn local_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], crm_testkit::free_port()))
}

/// `crm serve customers` on `database_url`, logging to a file in `logs`.
async fn serve_customers(
    database_url: &str,
    nats: &TestNats,
    logs: &std::path::Path,
) -> (Process, SocketAddr) {
    let addr = local_addr();
    let log = std::fs::File::create(logs.join(format!("customers-{}.log", addr.port()))).expect("a log file");
    let child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(["serve", "customers", "--listen", &addr.to_string()])
        .args(["--database-url", database_url, "--nats-url", &nats.url()])
        .args(["--jwt-secret", crm_testkit::TEST_SECRET])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting crm serve customers");
    let process = Process(child);
    ready(addr).await;
    (process, addr)
}

/// A company name for call `n`: two made-up words and a legal form, so that names share words
/// the way a real base's do (a name's word is shared by about one party in 5,000, its legal form
/// by one in four).
fn company_name(n: u64) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ne", "ta", "ri", "so", "vu", "pe", "da", "xi", "bo", "gu", "ze", "fa", "hu", "ja",
        "qo", "wy", "cy",
    ];
    const FORMS: [&str; 4] = ["Ltd", "GmbH", "Inc", "SA"];
    // A multiplicative hash spreads consecutive calls over the vocabulary.
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let word = |bits: u64| -> String {
        let mut w: String = (0..3)
            .map(|i| SYLLABLES[((bits >> (5 * i)) % 20) as usize])
            .collect();
        w[..1].make_ascii_uppercase();
        w
    };
    format!(
        "{} {} {}",
        word(h >> 4),
        word(h >> 24),
        FORMS[(h >> 60) as usize % 4]
    )
}

async fn create_party(channel: Channel, token: &str, name: String) -> String {
    CustomersServiceClient::new(channel)
        .create_party(authed(
            customers::CreatePartyRequest {
                party: Some(crm_testkit::fixtures::organization(&name)),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("CreateParty")
        .into_inner()
        .party
        .expect("the party")
        .id
}

/// GetParty of one party, through the suite on `backend`.
async fn get_party(addr: SocketAddr, token: &Arc<String>) -> Rate {
    let id = Arc::new(create_party(crm_testkit::channel(addr), token, "Bench Corp".into()).await);
    let token = token.clone();
    load(&channels(addr), move |channel, _| {
        let request = authed(customers::GetPartyRequest { id: id.to_string() }, &token);
        async move {
            CustomersServiceClient::new(channel)
                .get_party(request)
                .await
                .expect("GetParty");
        }
    })
    .await
}

/// The rows CreateParty writes, written by sqlx directly: one transaction per call.
async fn direct_inserts(db: &TestDb) -> Rate {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(&db.url)
        .await
        .expect("connecting");
    for ddl in [
        "CREATE TABLE bench_parties (id TEXT PRIMARY KEY, name TEXT NOT NULL, data JSONB NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE bench_name_keys (name_key TEXT NOT NULL, party_id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (name_key, party_id))",
        "CREATE TABLE bench_audit (id BIGSERIAL PRIMARY KEY, entity_id TEXT NOT NULL, action TEXT NOT NULL, fields JSONB NOT NULL, at BIGINT NOT NULL)",
        "CREATE TABLE bench_outbox (id BIGSERIAL PRIMARY KEY, subject TEXT NOT NULL, payload BYTEA NOT NULL, created_at BIGINT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(&pool).await.expect("a bench table");
    }
    load(&[pool], move |pool, n| async move {
        let id = uuid::Uuid::now_v7().to_string();
        let name = company_name(n);
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO bench_parties (id, name, data, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(&name)
            .bind(sqlx::types::Json(
                serde_json::json!({"kind": "organization", "name": name}),
            ))
            .bind(n as i64)
            .execute(&mut *tx)
            .await
            .expect("a party");
        sqlx::query("INSERT INTO bench_name_keys (name_key, party_id, name) VALUES ($1, $2, $3)")
            .bind(name.to_lowercase())
            .bind(&id)
            .bind(&name)
            .execute(&mut *tx)
            .await
            .expect("a name key");
        sqlx::query("INSERT INTO bench_audit (entity_id, action, fields, at) VALUES ($1, 'created', $2, $3)")
            .bind(&id)
            .bind(sqlx::types::Json(serde_json::json!({"name": name})))
            .bind(n as i64)
            .execute(&mut *tx)
            .await
            .expect("an audit entry");
        sqlx::query(
            "INSERT INTO bench_outbox (subject, payload, created_at) VALUES ('crm.customers.party', $1, $2)",
        )
        .bind(name.as_bytes())
        .bind(n as i64)
        .execute(&mut *tx)
        .await
        .expect("an outbox row");
        tx.commit().await.expect("commit");
    })
    .await
}

async fn bench() {
    let logs = tempfile::tempdir().expect("a log directory");
    let token = Arc::new(crm_testkit::token("bench", &[Role::Admin]));
    let bare_addr = local_addr();
    let _bare = Process(
        Command::new(std::env::current_exe().expect("this bench"))
            .env(BARE_SERVER, bare_addr.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting the bare server"),
    );
    ready(bare_addr).await;

    let nats = TestNats::start();
    let sqlite = TestDb::new(Backend::Sqlite);
    let (suite_sqlite, sqlite_addr) = serve_customers(&sqlite.url, &nats, logs.path()).await;

    println!("RPC path, {IN_FLIGHT} calls in flight over {CONNECTIONS} connections:");
    let bare = load(&channels(bare_addr), health).await;
    println!("{}", bare.line("health check, bare tonic (baseline)", None));
    let checked = load(&channels(sqlite_addr), health).await;
    println!(
        "{}",
        checked.line("health check, crm serve customers", Some(&bare))
    );
    let read = get_party(sqlite_addr, &token).await;
    println!(
        "{}",
        read.line("GetParty, crm serve customers, SQLite", Some(&bare))
    );
    drop(suite_sqlite);

    if !crm_testkit::postgres_available() {
        return;
    }
    let postgres = TestDb::new(Backend::Postgres);
    drop(postgres.connect().await);
    let (_suite_postgres, postgres_addr) = serve_customers(&postgres.url, &nats, logs.path()).await;
    let read = get_party(postgres_addr, &token).await;
    println!(
        "{}",
        read.line("GetParty, crm serve customers, PostgreSQL", Some(&bare))
    );
    let created = {
        let token = token.clone();
        load(&channels(postgres_addr), move |channel, n| {
            let token = token.clone();
            async move {
                create_party(channel, &token, company_name(n)).await;
            }
        })
        .await
    };
    let scratch = TestDb::new(Backend::Postgres);
    drop(scratch.connect().await);
    let direct = direct_inserts(&scratch).await;
    println!(
        "{}",
        direct.line("the same rows by sqlx, PostgreSQL (baseline)", None)
    );
    println!(
        "{}",
        created.line("CreateParty, crm serve customers, PostgreSQL", Some(&direct))
    );
}
