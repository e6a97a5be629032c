//! The suite under a broker outage: nats-server is killed for 30 s while customers are being
//! created and their events consumed. Every acknowledged write is kept, each gets exactly one
//! `party.created` on the stream, every consumer applies it once, and nothing is dead-lettered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm::services::Service;
use crm_auth::Role;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, authed, eventually, token};
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

crm_testkit::backend_tests!(writes_and_consumption_survive_a_broker_outage);
