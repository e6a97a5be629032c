//! Value and lifecycle derived from sales order events, including the passage of time.

use std::time::Duration;

use async_nats::jetstream;
use crm_events::CloudEvent;
use crm_platform::clock::ManualClock;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1::{self as pb, LifecycleStage};
use crm_proto::sales::v1 as sales;
use crm_testkit::{Backend, backend_tests};

use crate::helpers::{TestApp, organization};

const DAY_SECONDS: i64 = 86_400;

/// Publishes an order.placed event as the sales service would.
async fn order_placed(app: &TestApp, party_id: &str, amount: i64, days_ago: i64) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now().timestamp();
    let order = sales::Order {
        id: id.clone(),
        party_id: party_id.into(),
        total: Some(Money {
            amount_minor: amount,
            currency_code: "USD".into(),
        }),
        status: sales::OrderStatus::Placed as i32,
        place_time: Some(prost_types::Timestamp {
            seconds: now - days_ago * DAY_SECONDS,
            nanos: 0,
        }),
        ..Default::default()
    };
    let event = CloudEvent {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: "crm.sales.order.placed.v1".into(),
        source: "/crm/sales".into(),
        subject: party_id.into(),
        time: chrono::Utc::now().to_rfc3339(),
        traceparent: None,
        sequence: None,
        data: prost::Message::encode_to_vec(&sales::OrderPlaced { order: Some(order) }).into(),
    };
    let js = jetstream::new(app.nats.client().await);
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("sales"))
        .await
        .unwrap();
    js.publish_with_headers("crm.sales.order.placed", event.to_headers(), event.data.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    id
}

async fn wait_stage(app: &TestApp, id: &str, stage: LifecycleStage, trailing: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let p = app.get(id).await.unwrap();
        let t = p
            .value
            .clone()
            .unwrap_or_default()
            .trailing_12m_revenue
            .map(|m| m.amount_minor)
            .unwrap_or_default();
        if p.lifecycle_stage == stage as i32 && t == trailing {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {stage:?} with trailing {trailing}, got {} / {t}",
            p.lifecycle_stage
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn silence_makes_customers_lost_and_trailing_revenue_decay(backend: Backend) {
    let clock = ManualClock::at(chrono::Utc::now().timestamp_micros());
    let app = TestApp::spawn_at(backend, Some(clock.clone()), |c| {
        c.value_refresh_interval = Duration::from_millis(100);
        c.full_value_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let old = app.create(organization("Old Customer")).await;
    // An order 400 days ago only: a customer we have lost.
    order_placed(&app, &old.id, 500_00, 400).await;
    wait_stage(&app, &old.id, LifecycleStage::Lost, 0).await;
    // Ordering again brings them back.
    order_placed(&app, &old.id, 100_00, 1).await;
    wait_stage(&app, &old.id, LifecycleStage::Customer, 100_00).await;
    let value = app.get(&old.id).await.unwrap().value.unwrap();
    assert_eq!(value.lifetime_revenue.unwrap().amount_minor, 600_00);

    // 400 days pass: the sweeper, with no event, finds the silence and the trailing revenue
    // gone.
    clock.advance(Duration::from_secs(400 * DAY_SECONDS as u64));
    wait_stage(&app, &old.id, LifecycleStage::Lost, 0).await;
    let types = app.event_types().await;
    assert_eq!(
        types.iter().filter(|t| *t == "party.lifecycle_changed").count(),
        3,
        "lost, customer, lost"
    );
    let audit = app
        .client
        .clone()
        .list_audit_entries(app.req(pb::ListAuditEntriesRequest {
            entity_id: old.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        audit
            .entries
            .iter()
            .any(|e| e.action == "lifecycle_changed" && e.actor_id == "system:value")
    );
}

backend_tests!(silence_makes_customers_lost_and_trailing_revenue_decay);
