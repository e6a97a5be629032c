//! Events out of order and more than once: every event delivered three times, stale ones after
//! newer ones and after an erasure or a merge. Each read model ends at the newest state of each
//! record, an erased record stays erased, an order's status only moves forward, and every
//! event's effect counts once.

use std::time::Duration;

use async_nats::jetstream;
use crm::services::Service;
use crm_auth::Role;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::sales::v1 as sales;
use crm_storage::Db;
use crm_testkit::{Backend, authed, eventually, token};

use crate::support::{self, TestSuite};

const WAIT: Duration = Duration::from_secs(60);

/// How often each event is delivered.
const DELIVERIES: usize = 3;

/// One event as a producer committed it: its id stays the same however often it is delivered.
struct Sent {
    domain: &'static str,
    name: &'static str,
    key: String,
    id: String,
    payload: Vec<u8>,
}

fn event(domain: &'static str, name: &'static str, key: &str, payload: &impl prost::Message) -> Sent {
    Sent {
        domain,
        name,
        key: key.into(),
        id: uuid::Uuid::now_v7().to_string(),
        payload: payload.encode_to_vec(),
    }
}

/// Publishes `events` in order, then all of them again, `DELIVERIES` times in all. Each
/// delivery is a new stream message (its own `Nats-Msg-Id`) carrying the same event id, as a
/// producer's retry after the duplicate window or a replay would be.
async fn deliver(suite: &TestSuite, events: &[Sent]) {
    let js = jetstream::new(suite.nats.client().await);
    for delivery in 0..DELIVERIES {
        for e in events {
            let new = crm_events::NewEvent::new(e.domain, e.name, e.key.clone(), &());
            let cloud = crm_events::CloudEvent {
                id: e.id.clone(),
                event_type: new.event_type,
                source: new.source,
                subject: e.key.clone(),
                time: chrono::Utc::now().to_rfc3339(),
                traceparent: None,
                sequence: None,
                data: e.payload.clone().into(),
            };
            let mut headers = cloud.to_headers();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!("{}:{delivery}", e.id).as_str(),
            );
            js.publish_with_headers(new.nats_subject, headers, cloud.data.clone())
                .await
                .expect("publish")
                .await
                .expect("stream ack");
        }
    }
}

fn party(id: &str, name: &str, version: i64) -> customers::Party {
    customers::Party {
        id: id.into(),
        kind: customers::PartyKind::Person as i32,
        display_name: name.into(),
        given_name: name.into(),
        etag: version.to_string(),
        ..Default::default()
    }
}

fn created(id: &str, name: &str, version: i64) -> Sent {
    let payload = customers::PartyCreated {
        party: Some(party(id, name, version)),
    };
    event("customers", "party.created", id, &payload)
}

fn updated(id: &str, name: &str, version: i64) -> Sent {
    let payload = customers::PartyUpdated {
        party: Some(party(id, name, version)),
        changed_fields: vec!["given_name".into()],
    };
    event("customers", "party.updated", id, &payload)
}

fn erased(id: &str, version: i64) -> Sent {
    let payload = customers::PartyErased {
        party_id: id.into(),
        version,
    };
    event("customers", "party.erased", id, &payload)
}

fn order(id: &str, party_id: &str, status: sales::OrderStatus) -> Sent {
    let order = sales::Order {
        id: id.into(),
        party_id: party_id.into(),
        total: Some(crm_proto::common::v1::Money {
            amount_minor: 25_00,
            currency_code: "USD".into(),
        }),
        status: status as i32,
        place_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - 86_400,
            nanos: 0,
        }),
        ..Default::default()
    };
    match status {
        sales::OrderStatus::Cancelled => event(
            "sales",
            "order.cancelled",
            id,
            &sales::OrderCancelled { order: Some(order) },
        ),
        sales::OrderStatus::Fulfilled => event(
            "sales",
            "order.fulfilled",
            id,
            &sales::OrderFulfilled { order: Some(order) },
        ),
        _ => event(
            "sales",
            "order.placed",
            id,
            &sales::OrderPlaced { order: Some(order) },
        ),
    }
}

/// (party, name, status, version) rows of a party copy.
type CopyRow = (String, String, String, i64);

async fn copies(db: &Db, table: &str) -> Vec<CopyRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT party_id, display_name, status, version FROM {table} \
         WHERE party_id IN ('a', 'b', 'c', 'd', 'z') ORDER BY party_id"
    )))
    .fetch_all(db.pool())
    .await
    .unwrap_or_default()
}

async fn registered_party(suite: &TestSuite) -> customers::Party {
    let admin = token("admin-1", &[Role::Admin]);
    let party = customers::Party {
        kind: customers::PartyKind::Person as i32,
        given_name: "Rae".into(),
        family_name: "Buyer".into(),
        ..Default::default()
    };
    CustomersServiceClient::new(suite.gateway())
        .create_party(authed(
            customers::CreatePartyRequest {
                party: Some(party),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("creating a party")
        .into_inner()
        .party
        .expect("the party")
}

async fn stale_and_repeated_events_leave_the_newest_state(backend: Backend) {
    let suite = support::start(backend, support::gateway_settings()).await;
    let rae = registered_party(&suite).await.id;

    // Across four parties, in this order: A's newest state first and its older ones after it; B
    // created then erased, then an older update; C erased before its creation arrives; D merged
    // into A, then an older update of D; Z last.
    let merged = customers::PartyMerged {
        survivor_id: "a".into(),
        merged_ids: vec!["d".into()],
        merged_versions: [("d".to_string(), 3)].into(),
    };
    let parties = [
        updated("a", "Ann 3", 3),
        created("b", "Bo 1", 1),
        erased("c", 2),
        created("a", "Ann 1", 1),
        erased("b", 2),
        updated("a", "Ann 2", 2),
        created("c", "Cy 1", 1),
        updated("b", "Bo 1b", 1),
        created("d", "Di 1", 1),
        event("customers", "party.merged", "a", &merged),
        updated("d", "Di 2", 2),
        created("z", "Zed", 1),
    ];
    // Rae's order 1 cancelled before its placement and fulfilment arrive; order 2 placed then
    // fulfilled; an order of erased B; order 9 last.
    use sales::OrderStatus::{Cancelled, Fulfilled, Placed};
    let orders = [
        order("o1", &rae, Cancelled),
        order("o2", &rae, Placed),
        order("o1", &rae, Placed),
        order("o3", "b", Placed),
        order("o1", &rae, Fulfilled),
        order("o2", &rae, Fulfilled),
        order("o9", &rae, Placed),
    ];
    deliver(&suite, &parties).await;
    deliver(&suite, &orders).await;
    let js = jetstream::new(suite.nats.client().await);

    let expected: Vec<CopyRow> = [
        ("a", "Ann 3", "active", 3),
        ("b", "", "erased", 2),
        ("c", "", "erased", 2),
        ("d", "Di 1", "merged", 3),
        ("z", "Zed", "active", 1),
    ]
    .iter()
    .map(|(id, name, status, version)| (id.to_string(), name.to_string(), status.to_string(), *version))
    .collect();
    for (service, table) in [
        (Service::Sales, "accounts"),
        (Service::Servicedesk, "customers"),
        (Service::Marketing, "profiles"),
    ] {
        let db = Db::connect(suite.database_url(service), 2).await.unwrap();
        let consumer = format!("{}-customer-events", service.name());
        eventually(WAIT, &format!("{consumer} caught up"), || async {
            support::caught_up(&js, "customers", &consumer)
                .await
                .then_some(())
        })
        .await;
        let rows = copies(&db, table).await;
        println!("{table}: {rows:?}");
        assert_eq!(rows, expected, "{table} holds the newest state of each party");
        db.close().await;
    }

    let statuses =
        "SELECT order_id, status FROM {} WHERE order_id IN ('o1', 'o2', 'o3', 'o9') ORDER BY order_id";
    let expected_orders: Vec<(String, String)> = [("o1", "cancelled"), ("o2", "fulfilled"), ("o9", "placed")]
        .iter()
        .map(|(o, s)| (o.to_string(), s.to_string()))
        .collect();
    for (service, consumer, table) in [
        (Service::Customers, "customers-sales-orders", "party_orders"),
        (Service::Marketing, "marketing-order-events", "purchases"),
    ] {
        let db = Db::connect(suite.database_url(service), 2).await.unwrap();
        eventually(WAIT, &format!("{consumer} caught up"), || async {
            support::caught_up(&js, "sales", consumer).await.then_some(())
        })
        .await;
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(statuses.replace("{}", table)))
            .fetch_all(db.pool())
            .await
            .unwrap();
        println!("{table}: {rows:?}");
        assert_eq!(rows, expected_orders, "{table}: statuses only forward, none of B");
        db.close().await;
    }

    // Each order counted once in Rae's figures though each event came three times.
    let marketing = Db::connect(suite.database_url(Service::Marketing), 2)
        .await
        .unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT orders FROM customer_figures WHERE party_id = $1")
        .bind(&rae)
        .fetch_one(marketing.pool())
        .await
        .unwrap();
    println!("orders counted for the buyer: {counted}");
    assert_eq!(counted, 2, "o2 and o9 count, once each; o1 was cancelled");
    marketing.close().await;
    suite.shutdown().await;
}

crm_testkit::backend_tests!(stale_and_repeated_events_leave_the_newest_state);
