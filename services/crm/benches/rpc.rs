//! What the suite's server stack costs per call, against a bare tonic server, with 64 calls in
//! flight over four connections, measured in one run:
//!
//! - a health check on a bare tonic server (the baseline every ratio below is taken against);
//! - the same health check through `crm serve customers` (tracing, deadline, served paths,
//!   authentication, access log);
//! - `GetParty` through `crm serve customers` on SQLite, and on PostgreSQL when
//!   `CRM_TEST_POSTGRES_URL` is set, each followed by the same read without the server (the
//!   service's storage call on a pool of the server's size, from this process), so that what
//!   the RPC path adds shows apart from what the database and its driver cost;
//! - on PostgreSQL, `CreateParty` against its transaction issued by sqlx directly (the party, its
//!   name search entries and blocking keys, the duplicate check's two reads and the links it
//!   keeps, the audit entry and the outbox row, on the suite's own tables).
//!
//! - the health check and `GetParty` on SQLite again with the server speaking TLS (a certificate of
//!   a CA of the bench's own), to show what TLS costs per call.
//!
//! Both servers run as processes of their own (the suite's is the release `crm` binary, logging
//! as it does in production, to a file), the load comes from this process.
//!
//! `cargo bench -p crm --bench rpc`. `CRM_BENCH_SECONDS` sets each measurement's length (5).

#[path = "common/serve.rs"]
mod serve;

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

use serve::{local_addr, ready};

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

/// `crm serve customers` on `database_url`, logging to a file in `logs`; over TLS when `tls`
/// names a directory with the server's `cert.pem` and `key.pem`.
async fn serve_customers(
    database_url: &str,
    nats: &TestNats,
    logs: &std::path::Path,
    tls: Option<&std::path::Path>,
) -> (Process, SocketAddr) {
    let addr = local_addr();
    let log = std::fs::File::create(logs.join(format!("customers-{}.log", addr.port()))).expect("a log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm"));
    command.args(["serve", "customers", "--listen", &addr.to_string()]);
    if let Some(dir) = tls {
        command.arg("--tls-cert").arg(dir.join("cert.pem"));
        command.arg("--tls-key").arg(dir.join("key.pem"));
    }
    let child = command
        .args(["--database-url", database_url, "--nats-url", &nats.url()])
        // Measured at full strength, not while the pool is still opening connections.
        .args(["--database-min-connections", "10"])
        .args(["--jwt-secret", crm_testkit::TEST_SECRET])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting crm serve customers");
    let process = Process(child);
    match tls {
        None => ready(addr).await,
        Some(dir) => {
            let ca = std::fs::read_to_string(dir.join("ca.pem")).expect("the CA");
            crm_testkit::eventually(Duration::from_secs(60), "the server to answer", || {
                let channel = tls_channels(addr, &ca).remove(0);
                async move {
                    HealthClient::new(channel)
                        .check(tonic_health::pb::HealthCheckRequest::default())
                        .await
                        .ok()
                }
            })
            .await;
        }
    }
    (process, addr)
}

/// Writes a server certificate for 127.0.0.1 (`cert.pem`, `key.pem`) and the CA that issued it
/// (`ca.pem`) to `dir`.
fn server_certificate(dir: &std::path::Path) {
    let ca = crm_tls::testing::TestCa::new();
    let issued = ca.issue(&["127.0.0.1"]);
    for (file, pem) in [
        ("cert.pem", &issued.cert_pem),
        ("key.pem", &issued.key_pem),
        ("ca.pem", &ca.cert_pem()),
    ] {
        std::fs::write(dir.join(file), pem).expect("a certificate file");
    }
}

/// [`CONNECTIONS`] TLS connections to `addr`, trusting the CA `ca_pem`.
fn tls_channels(addr: SocketAddr, ca_pem: &str) -> Vec<Channel> {
    (0..CONNECTIONS)
        .map(|_| {
            let tls = tonic::transport::ClientTlsConfig::new()
                .domain_name("127.0.0.1")
                .ca_certificate(tonic::transport::Certificate::from_pem(ca_pem));
            tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
                .expect("an address")
                .tls_config(tls)
                .expect("a TLS configuration")
                .connect_lazy()
        })
        .collect()
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

/// GetParty of the party `id` over `connections`.
async fn get_party(connections: &[Channel], token: &Arc<String>, id: &str) -> Rate {
    let id = Arc::new(id.to_string());
    let token = token.clone();
    load(connections, move |channel, _| {
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

/// GetParty's read of the party `id` without the server: the service's own storage call on a
/// pool of the server's size (ten connections, the same warm read connections), in this
/// process. The difference to GetParty is what the RPC path adds around the database.
async fn read_directly(url: &str, id: &str) -> Rate {
    let db = crm_storage::Db::connect_with(url, 10, 10)
        .await
        .expect("connecting");
    let id = Arc::new(id.to_string());
    load(&[db], move |db, _| {
        let id = id.clone();
        async move {
            let mut conn = db.read_conn().await.expect("a connection");
            crm_customers::storage::parties::get(&mut conn, &id)
                .await
                .expect("the party")
                .expect("a party");
        }
    })
    .await
}

/// GetParty on `addr`, then its read without the server, on the database at `url`; prints both.
async fn get_party_and_read(
    addr: SocketAddr,
    url: &str,
    token: &Arc<String>,
    bare: &Rate,
    what: &str,
) -> Rate {
    let connections = channels(addr);
    let id = create_party(connections[0].clone(), token, "Bench Corp".into()).await;
    let read = get_party(&connections, token, &id).await;
    println!(
        "{}",
        read.line(&format!("GetParty, crm serve customers, {what}"), Some(bare))
    );
    let direct = read_directly(url, &id).await;
    println!(
        "{}",
        direct.line(&format!("GetParty's read without the server, {what}"), Some(bare))
    );
    println!(
        "  GetParty against its read without the server: {:.1}%",
        100.0 * read.calls_per_second / direct.calls_per_second
    );
    read
}

/// CreateParty's transaction issued by sqlx directly, against the suite's own schema in `url`:
/// the party, its name search entries and duplicate blocking keys (one multi-row statement
/// each), the two reads of the duplicate check (keys grown too common, then the holders of its
/// keys) and the links it keeps to the most similar holders (one statement), the audit entry
/// and the outbox row. The statements are written as CreateParty writes
/// them at best; the difference is what the service adds around them.
async fn same_transaction(url: &str) -> Rate {
    use crm_customers::domain::{duplicates as dup, party as rules};
    use crm_customers::storage::duplicates::to_ppm as ppm;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(url)
        .await
        .expect("connecting");
    load(&[pool], move |pool, n| async move {
        let party = crm_testkit::fixtures::organization(&company_name(n));
        let id = uuid::Uuid::now_v7().to_string();
        let name = rules::display_name(&party);
        let key = rules::name_key_of(&name);
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO parties (id, kind, display_name, name_key, given_name, family_name, organization_name, industry, \
             company_size, region_code, attributes, owner_id, team_id, source, birth_date, lifecycle_stage, \
             status, currency_code, version, created_at, updated_at, verified_at, external_id, import_source, \
             import_hash, import_run, import_row) \
             VALUES ($1, $2, $3, $4, '', '', $3, '', 0, '', '{}', '', '', '', '', 1, 1, 'USD', 1, $5, $5, $5, '', '', '', '', 0)",
        )
        .bind(&id)
        .bind(party.kind as i64)
        .bind(&name)
        .bind(&key)
        .bind(n as i64)
        .execute(&mut *tx)
        .await
        .expect("a party");
        let grams = rules::search_grams(&key);
        sqlx::query(
            "INSERT INTO party_search_grams (gram, name_key, party_id) \
             SELECT gram, $2, $3 FROM UNNEST($1::TEXT[]) AS gram ON CONFLICT DO NOTHING",
        )
        .bind(&grams)
        .bind(&key)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .expect("name search entries");
        let keys = dup::blocking_keys(&name);
        let normalized = dup::normalize_name(&name);
        sqlx::query(
            "INSERT INTO party_name_keys (name_key, party_id, name) \
             SELECT k, $2, $3 FROM UNNEST($1::TEXT[]) AS k ON CONFLICT DO NOTHING",
        )
        .bind(&keys)
        .bind(&id)
        .bind(&normalized)
        .execute(&mut *tx)
        .await
        .expect("blocking keys");
        sqlx::query("SELECT name_key FROM giant_name_keys WHERE name_key = ANY($1)")
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .expect("common keys");
        let holders: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, _)| {
                format!(
                    "SELECT v, party_id, name FROM (SELECT name_key AS v, party_id, name FROM party_name_keys \
                     WHERE name_key = ${} LIMIT 201) AS h{i}",
                    i + 1
                )
            })
            .collect();
        let mut holders = sqlx::query(sqlx::AssertSqlSafe(holders.join(" UNION ALL ")));
        for key in &keys {
            holders = holders.bind(key);
        }
        let holders = holders.fetch_all(&mut *tx).await.expect("key holders");
        // The links the check keeps: the most similar names among the holders, in one statement.
        let links = dup::strongest_name_links(
            holders
                .iter()
                .filter_map(|row| {
                    let other: String = sqlx::Row::get(row, "party_id");
                    let other_name: String = sqlx::Row::get(row, "name");
                    dup::name_link(&id, &normalized, &other, &other_name, dup::MIN_STORED_SIMILARITY)
                })
                .collect(),
        );
        if !links.is_empty() {
            let ids = |f: fn(&dup::Link) -> &String| links.iter().map(f).cloned().collect::<Vec<_>>();
            sqlx::query(
                "INSERT INTO duplicate_links (party_a, party_b, reason, score_ppm) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[]) ON CONFLICT DO NOTHING",
            )
            .bind(ids(|l| &l.a))
            .bind(ids(|l| &l.b))
            .bind(links.iter().map(|l| l.reason.code()).collect::<Vec<_>>())
            .bind(links.iter().map(|l| ppm(l.score)).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await
            .expect("duplicate links");
        }
        let fields = serde_json::json!({"kind": party.kind, "organization_name": name, "display_name": name});
        sqlx::query(
            "INSERT INTO audit_log (entity_type, entity_id, action, actor_id, at, changes) \
             VALUES ('party', $1, 'created', 'bench', $2, $3)",
        )
        .bind(&id)
        .bind(n as i64)
        .bind(fields.to_string())
        .execute(&mut *tx)
        .await
        .expect("an audit entry");
        let payload = prost::Message::encode_to_vec(&party);
        sqlx::query(
            "INSERT INTO crm_outbox (event_id, subject, event_type, source, event_subject, event_time, payload, \
             traceparent, created_at) VALUES ($1, 'crm.customers.party.created', 'crm.customers.party.created.v1', \
             'crm/customers', $2, '2026-01-01T00:00:00Z', $3, NULL, $4)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&id)
        .bind(payload)
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
    let (suite_sqlite, sqlite_addr) = serve_customers(&sqlite.url, &nats, logs.path(), None).await;

    println!("RPC path, {IN_FLIGHT} calls in flight over {CONNECTIONS} connections:");
    let bare = load(&channels(bare_addr), health).await;
    println!("{}", bare.line("health check, bare tonic (baseline)", None));
    let checked = load(&channels(sqlite_addr), health).await;
    println!(
        "{}",
        checked.line("health check, crm serve customers", Some(&bare))
    );
    let read = get_party_and_read(sqlite_addr, &sqlite.url, &token, &bare, "SQLite").await;
    drop(suite_sqlite);

    // The same two calls with the server speaking TLS.
    let certificates = tempfile::tempdir().expect("a certificate directory");
    server_certificate(certificates.path());
    let ca = std::fs::read_to_string(certificates.path().join("ca.pem")).expect("the CA");
    let (suite_tls, tls_addr) =
        serve_customers(&sqlite.url, &nats, logs.path(), Some(certificates.path())).await;
    let checked_tls = load(&tls_channels(tls_addr, &ca), health).await;
    println!(
        "{}",
        checked_tls.line("health check, crm serve customers, TLS", Some(&bare))
    );
    let tls_connections = tls_channels(tls_addr, &ca);
    let id = create_party(tls_connections[0].clone(), &token, "Bench Corp".into()).await;
    let read_tls = get_party(&tls_connections, &token, &id).await;
    println!(
        "{}",
        read_tls.line("GetParty, crm serve customers, SQLite, TLS", Some(&bare))
    );
    println!(
        "TLS against plain text: health check {:.1}%, GetParty {:.1}%",
        100.0 * checked_tls.calls_per_second / checked.calls_per_second,
        100.0 * read_tls.calls_per_second / read.calls_per_second
    );
    drop(suite_tls);

    if !crm_testkit::postgres_available() {
        return;
    }
    let postgres = TestDb::new(Backend::Postgres);
    drop(postgres.connect().await);
    let (_suite_postgres, postgres_addr) = serve_customers(&postgres.url, &nats, logs.path(), None).await;
    get_party_and_read(postgres_addr, &postgres.url, &token, &bare, "PostgreSQL").await;
    // The baseline first, on the same database: CreateParty then runs on the larger tables.
    let direct = same_transaction(&postgres.url).await;
    println!(
        "{}",
        direct.line("CreateParty's transaction by sqlx, PostgreSQL (baseline)", None)
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
    println!(
        "{}",
        created.line("CreateParty, crm serve customers, PostgreSQL", Some(&direct))
    );
}
