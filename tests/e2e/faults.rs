//! Faults from outside, while customers are created through the API and their events consumed:
//! a service process killed with SIGKILL, nats-server killed for 30 s, the databases refusing
//! every connection for a while (as in a PostgreSQL restart or failover). Every acknowledged
//! write is kept once, each gets exactly one `party.created` on the stream, every consumer
//! applies it once, and nothing is dead-lettered. Each scenario prints its counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm::services::Service;
use crm_auth::Role;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, TestDb, TestNats, authed, eventually, token};
use futures::StreamExt as _;

use crate::support::{self, TestSuite};

const WRITES: usize = 600;
const CONCURRENCY: usize = 16;
const WAIT: Duration = Duration::from_secs(120);

/// Writes in flight: how many were acknowledged, and how many calls failed and were sent again.
#[derive(Clone, Default)]
struct Progress {
    acknowledged: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    /// The codes the failed calls got.
    codes: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl Progress {
    fn acknowledged(&self) -> usize {
        self.acknowledged.load(Ordering::SeqCst)
    }

    fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    fn codes(&self) -> Vec<String> {
        self.codes.lock().unwrap().iter().cloned().collect()
    }

    /// Waits until `n` writes were acknowledged.
    async fn reached(&self, n: usize) {
        eventually(WAIT, &format!("{n} written"), || async {
            (self.acknowledged() >= n).then_some(())
        })
        .await;
    }
}

/// Creates `n` parties, `concurrency` at a time, each with its own idempotency key and sent again
/// until it is acknowledged (as a client does after an error); returns their ids.
fn write(
    channel: tonic::transport::Channel,
    n: usize,
    concurrency: usize,
    progress: Progress,
) -> tokio::task::JoinHandle<Vec<String>> {
    let admin = token("admin-1", &[Role::Admin]);
    let writes = futures::stream::iter(0..n)
        .map(move |i| {
            let mut client = CustomersServiceClient::new(channel.clone());
            let (admin, progress) = (admin.clone(), progress.clone());
            async move {
                let request = customers::CreatePartyRequest {
                    party: Some(customers::Party {
                        kind: customers::PartyKind::Person as i32,
                        given_name: format!("Fault{i}"),
                        family_name: "Writer".into(),
                        ..Default::default()
                    }),
                    request_id: format!("fault-{i}"),
                };
                loop {
                    match client.create_party(authed(request.clone(), &admin)).await {
                        Ok(r) => {
                            progress.acknowledged.fetch_add(1, Ordering::SeqCst);
                            return r.into_inner().party.unwrap().id;
                        }
                        Err(status) => {
                            progress.failed.fetch_add(1, Ordering::SeqCst);
                            progress
                                .codes
                                .lock()
                                .unwrap()
                                .insert(format!("{:?}", status.code()));
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<String>>();
    tokio::spawn(writes)
}

/// The `ce-subject` (party id) of every `party.created` on the customers stream.
async fn created_events(js: &jetstream::Context) -> Vec<String> {
    let stream = js.get_stream("CRM_CUSTOMERS").await.unwrap();
    let total = stream
        .get_info()
        .await
        .map(|i| i.state.messages)
        .unwrap_or_default();
    let consumer = stream
        .create_consumer(pull::Config {
            // Published with the party it carries: `crm.customers.party.created.<id>`.
            filter_subject: "crm.customers.party.created.*".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pending = consumer.cached_info().num_pending;
    let mut messages = consumer
        .fetch()
        .max_messages(total as usize + 1)
        .messages()
        .await
        .unwrap();
    let mut subjects = Vec::new();
    while (subjects.len() as u64) < pending {
        let Some(Ok(m)) = messages.next().await else { break };
        subjects.push(m.headers.as_ref().unwrap().get("ce-subject").unwrap().to_string());
    }
    subjects
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

/// What the suite holds once everything settled after `acknowledged` writes: checked against
/// what must hold after any fault, and printed.
async fn assert_all_kept_and_applied_once(
    suite: &TestSuite,
    scenario: &str,
    acknowledged: &[String],
    failed: usize,
) {
    let customers_db = Db::connect(suite.database_url(Service::Customers), 2)
        .await
        .unwrap();
    eventually(WAIT, "the outbox published", || async {
        let unsent = count(
            &customers_db,
            "SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL",
        )
        .await;
        (unsent == 0).then_some(())
    })
    .await;
    let js = jetstream::new(suite.nats.client().await);
    let consumers = [
        (Service::Sales, "sales-customer-events", "accounts"),
        (Service::Servicedesk, "servicedesk-customer-events", "customers"),
        (Service::Marketing, "marketing-customer-events", "profiles"),
    ];
    let mut applied = Vec::new();
    for (service, consumer, copies) in consumers {
        eventually(WAIT, &format!("{consumer} caught up"), || async {
            support::caught_up(&js, "customers", consumer).await.then_some(())
        })
        .await;
        let db = Db::connect(suite.database_url(service), 2).await.unwrap();
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {copies} WHERE status = 'active'"
        )))
        .fetch_one(db.pool())
        .await
        .unwrap();
        let inbox = count(
            &db,
            "SELECT COUNT(*) FROM crm_inbox WHERE event_type = 'crm.customers.party.created.v1'",
        )
        .await;
        applied.push((service.name(), rows, inbox));
        db.close().await;
    }
    let mut created = created_events(&js).await;
    created.sort();
    let events = created.len();
    created.dedup();
    let mut expected = acknowledged.to_vec();
    expected.sort();
    let stored = count(
        &customers_db,
        "SELECT COUNT(*) FROM parties WHERE family_name = 'Writer'",
    )
    .await;
    let parked = match js.get_stream(crm_events::DLQ_STREAM).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or_default(),
        Err(_) => 0,
    };
    println!(
        "{scenario}: {} writes acknowledged ({failed} calls failed and were sent again); {stored} stored; \
         {events} party.created events for {} parties; applied (service, copies, inbox) {applied:?}; \
         {parked} dead letters",
        acknowledged.len(),
        created.len()
    );
    let n = acknowledged.len() as i64;
    assert_eq!(stored, n, "every acknowledged write kept, once");
    assert_eq!(created, expected, "a party.created for each acknowledged party");
    assert_eq!(events, acknowledged.len(), "and only one each");
    for (service, rows, inbox) in applied {
        assert_eq!(rows, n, "{service} copied every party");
        assert_eq!(inbox, n, "{service} applied each event once");
    }
    assert_eq!(parked, 0, "the fault parked nothing");
    customers_db.close().await;
}

/// nats-server killed for 30 s a third of the way into the writes, while the consumers work.
async fn writes_and_consumption_survive_a_broker_outage(backend: Backend) {
    const OUTAGE: Duration = Duration::from_secs(30);
    let mut suite = support::start(backend, support::gateway_settings()).await;
    let channel = crm_testkit::channel(suite.suite.addr(Service::Customers));
    let progress = Progress::default();
    let writer = write(channel, WRITES, CONCURRENCY, progress.clone());
    progress.reached(WRITES / 3).await;
    suite.nats.stop();
    let stopped_at = tokio::time::Instant::now();
    let written_before = progress.acknowledged();
    tokio::time::sleep_until(stopped_at + OUTAGE).await;
    let written_during = progress.acknowledged() - written_before;
    suite.nats.restart();
    let acknowledged = writer.await.unwrap();
    let scenario = format!(
        "broker outage of {} s, {written_during} writes during it",
        OUTAGE.as_secs()
    );
    assert_all_kept_and_applied_once(&suite, &scenario, &acknowledged, progress.failed()).await;
    assert!(written_during > 0, "some writes happened during the outage");
    assert_eq!(progress.failed(), 0, "writes do not need the broker");
    suite.shutdown().await;
}

/// The customers and sales databases refuse every connection for 5 s, their open connections
/// ended, a third of the way into the writes: the writes that fail meanwhile are refused with an
/// error and sent again, sales' consumer waits the outage out. (PostgreSQL only: SQLite is a file
/// of the process.)
async fn writes_and_consumption_survive_a_database_outage() {
    if !crm_testkit::postgres_available() {
        return;
    }
    let suite = support::start(Backend::Postgres, support::gateway_settings()).await;
    let channel = crm_testkit::channel(suite.suite.addr(Service::Customers));
    let progress = Progress::default();
    let writer = write(channel, WRITES, CONCURRENCY, progress.clone());
    progress.reached(WRITES / 3).await;
    let cut = [Service::Customers, Service::Sales].map(|s| suite.database_url(s).to_string());
    for url in &cut {
        crm_testkit::allow_connections(url, false).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    for url in &cut {
        crm_testkit::allow_connections(url, true).await;
    }
    let acknowledged = writer.await.unwrap();
    assert_all_kept_and_applied_once(&suite, "database outage of 5 s", &acknowledged, progress.failed())
        .await;
    assert!(progress.failed() > 0, "the outage refused some writes");
    assert_eq!(progress.codes(), ["Unavailable"], "refused as unavailable");
    suite.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_consumption_survive_a_database_outage_on_postgres() {
    crm_testkit::init_logging();
    writes_and_consumption_survive_a_database_outage().await;
}

/// `crm serve customers` on its own database and nats-server.
fn serve_customers(port: u16, db_url: &str, nats: &TestNats) -> crate::Process {
    let child = std::process::Command::new(crate::CRM)
        .args(["serve", "customers", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", db_url, "--nats-url", &nats.url()])
        .args(["--jwt-secret", crm_testkit::TEST_SECRET])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::Process(child)
}

/// 1,000 parties created 32 at a time, each with its idempotency key and sent again until it is
/// acknowledged (as a client does after an error), while the service is killed with SIGKILL a
/// third of the way in and started again: every party is stored once, and its `party.created`
/// is on the stream once (the relay sends a row again after a crash; the stream drops it).
async fn writes_survive_a_killed_service(backend: Backend) {
    const KILL_WRITES: usize = 1_000;
    let test_db = TestDb::new(backend);
    let nats = TestNats::start();
    let port = crate::free_port();
    let mut service = serve_customers(port, &test_db.url, &nats);
    crate::wait_serving(port).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    let progress = Progress::default();
    let writer = write(channel, KILL_WRITES, 32, progress.clone());
    progress.reached(KILL_WRITES / 3).await;
    let _ = service.0.kill(); // SIGKILL
    let _ = service.0.wait();
    let acknowledged_before_kill = progress.acknowledged();
    let mut service = serve_customers(port, &test_db.url, &nats);
    let mut ids = writer.await.unwrap();

    let db = Db::connect(&test_db.url, 2).await.unwrap();
    eventually(WAIT, "the outbox published", || async {
        let unsent = count(&db, "SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL").await;
        (unsent == 0).then_some(())
    })
    .await;
    let stored = count(&db, "SELECT COUNT(*) FROM parties").await;
    let js = jetstream::new(nats.client().await);
    let mut created = created_events(&js).await;
    created.sort();
    let events = created.len();
    created.dedup();
    ids.sort();
    println!(
        "SIGKILL after {acknowledged_before_kill} of {KILL_WRITES} writes: {} calls failed and were sent again; \
         {} parties acknowledged, {stored} stored, {events} party.created events for {} parties",
        progress.failed(),
        ids.len(),
        created.len()
    );
    assert!(progress.failed() > 0, "the kill interrupted writes");
    assert_eq!(stored, KILL_WRITES as i64, "each party stored once");
    assert_eq!(created, ids, "a party.created for each acknowledged party");
    assert_eq!(events, KILL_WRITES, "and only one each");
    db.close().await;
    assert!(service.terminate().success());
}

crm_testkit::backend_tests!(
    writes_and_consumption_survive_a_broker_outage,
    writes_survive_a_killed_service
);
