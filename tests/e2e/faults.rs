//! Faults from outside: a service process killed with SIGKILL in the middle of concurrent
//! writes, and nats-server killed for 30 s while customers are created and their events
//! consumed. Every acknowledged write is kept, each gets exactly one `party.created` on the
//! stream, every consumer applies it once, and nothing is dead-lettered.

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

use crate::support;

const WRITES: usize = 600;
const CONCURRENCY: usize = 16;
const OUTAGE: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(120);

/// Creates `WRITES` parties, `CONCURRENCY` at a time, each with its own idempotency key;
/// returns the ids of those acknowledged.
async fn write(channel: tonic::transport::Channel, done: Arc<AtomicUsize>) -> Vec<String> {
    let admin = token("admin-1", &[Role::Admin]);
    futures::stream::iter(0..WRITES)
        .map(|i| {
            let (mut client, admin, done) = (
                CustomersServiceClient::new(channel.clone()),
                admin.clone(),
                done.clone(),
            );
            async move {
                let party = customers::Party {
                    kind: customers::PartyKind::Person as i32,
                    given_name: format!("Outage{i}"),
                    family_name: "Writer".into(),
                    ..Default::default()
                };
                let created = client
                    .create_party(authed(
                        customers::CreatePartyRequest {
                            party: Some(party),
                            request_id: format!("outage-{i}"),
                        },
                        &admin,
                    ))
                    .await;
                done.fetch_add(1, Ordering::SeqCst);
                created.ok().and_then(|r| r.into_inner().party).map(|p| p.id)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|id| async move { id })
        .collect()
        .await
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
            filter_subject: "crm.customers.party.created".into(),
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

async fn writes_and_consumption_survive_a_broker_outage(backend: Backend) {
    let mut suite = support::start(backend, support::gateway_settings()).await;
    let channel = crm_testkit::channel(suite.suite.addr(Service::Customers));
    let done = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(write(channel, done.clone()));

    eventually(WAIT, "a third written", || async {
        (done.load(Ordering::SeqCst) >= WRITES / 3).then_some(())
    })
    .await;
    suite.nats.stop();
    let stopped_at = tokio::time::Instant::now();
    let written_before = done.load(Ordering::SeqCst);
    tokio::time::sleep_until(stopped_at + OUTAGE).await;
    let written_during = done.load(Ordering::SeqCst) - written_before;
    suite.nats.restart();
    let acknowledged = writer.await.unwrap();

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
        "sales-customer-events",
        "servicedesk-customer-events",
        "marketing-customer-events",
    ];
    for consumer in consumers {
        eventually(WAIT, &format!("{consumer} caught up"), || async {
            support::caught_up(&js, "customers", consumer).await.then_some(())
        })
        .await;
    }
    let mut created = created_events(&js).await;
    created.sort();
    let events = created.len();
    created.dedup();
    let mut expected = acknowledged.clone();
    expected.sort();
    let stored = count(
        &customers_db,
        "SELECT COUNT(*) FROM parties WHERE family_name = 'Writer'",
    )
    .await;
    let mut applied = Vec::new();
    for (service, copies) in [
        (
            Service::Sales,
            "SELECT COUNT(*) FROM accounts WHERE status = 'active'",
        ),
        (
            Service::Servicedesk,
            "SELECT COUNT(*) FROM customers WHERE status = 'active'",
        ),
        (
            Service::Marketing,
            "SELECT COUNT(*) FROM profiles WHERE status = 'active'",
        ),
    ] {
        let db = Db::connect(suite.database_url(service), 2).await.unwrap();
        let rows = count(&db, copies).await;
        let inbox = count(
            &db,
            "SELECT COUNT(*) FROM crm_inbox WHERE event_type = 'crm.customers.party.created.v1'",
        )
        .await;
        applied.push((service.name(), rows, inbox));
        db.close().await;
    }
    let parked = match js.get_stream(crm_events::DLQ_STREAM).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or_default(),
        Err(_) => 0,
    };
    println!(
        "broker outage of {} s: {} writes acknowledged of {WRITES} ({written_during} during the outage); \
         {stored} stored; {events} party.created events for {} parties; applied (service, copies, inbox) {applied:?}; \
         {parked} dead letters",
        OUTAGE.as_secs(),
        acknowledged.len(),
        created.len()
    );
    assert_eq!(acknowledged.len(), WRITES, "writes do not need the broker");
    assert!(written_during > 0, "some writes happened during the outage");
    assert_eq!(stored, WRITES as i64, "every acknowledged write kept");
    assert_eq!(created, expected, "a party.created for each acknowledged party");
    assert_eq!(events, WRITES, "and only one each");
    for (service, rows, inbox) in applied {
        assert_eq!(rows, WRITES as i64, "{service} copied every party");
        assert_eq!(inbox, WRITES as i64, "{service} applied each event once");
    }
    assert_eq!(parked, 0, "an outage parks nothing");
    customers_db.close().await;
    suite.shutdown().await;
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
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let admin = token("admin-1", &[Role::Admin]);
    let (counted, retried) = (done.clone(), failed.clone());
    let writes = futures::stream::iter(0..KILL_WRITES)
        .map(move |i| {
            let mut client = CustomersServiceClient::new(channel.clone());
            let (admin, done, failed) = (admin.clone(), counted.clone(), retried.clone());
            async move {
                let request = customers::CreatePartyRequest {
                    party: Some(customers::Party {
                        kind: customers::PartyKind::Person as i32,
                        given_name: format!("Killed{i}"),
                        family_name: "Writer".into(),
                        ..Default::default()
                    }),
                    request_id: format!("kill-{i}"),
                };
                loop {
                    match client.create_party(authed(request.clone(), &admin)).await {
                        Ok(r) => {
                            done.fetch_add(1, Ordering::SeqCst);
                            return r.into_inner().party.unwrap().id;
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<String>>();
    let writer = tokio::spawn(writes);
    eventually(WAIT, "a third written", || async {
        (done.load(Ordering::SeqCst) >= KILL_WRITES / 3).then_some(())
    })
    .await;
    let _ = service.0.kill(); // SIGKILL
    let _ = service.0.wait();
    let acknowledged_before_kill = done.load(Ordering::SeqCst);
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
        failed.load(Ordering::SeqCst),
        ids.len(),
        created.len()
    );
    assert!(failed.load(Ordering::SeqCst) > 0, "the kill interrupted writes");
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
