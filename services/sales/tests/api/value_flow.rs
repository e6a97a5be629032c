//! Orders placed in sales change the customer's value, tier and lifecycle in customers, each
//! event applied once even when delivered twice.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm_proto::customers::v1::{self as cpb, LifecycleStage};
use crm_proto::sales::v1::{self as pb, OrderStatus};
use crm_testkit::{Backend, backend_tests, eventually};
use futures::StreamExt as _;

use crate::helpers::Suite;

async fn party(suite: &Suite, id: &str) -> cpb::Party {
    suite
        .customers
        .clone()
        .get_party(suite.req(cpb::GetPartyRequest { id: id.into() }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap()
}

fn figures(p: &cpb::Party) -> (i64, i64, String, i32) {
    let v = p.value.clone().unwrap_or_default();
    (
        v.lifetime_revenue.map(|m| m.amount_minor).unwrap_or_default(),
        v.contribution_rank,
        v.tier,
        p.lifecycle_stage,
    )
}

async fn wait_for(suite: &Suite, id: &str, expected: (i64, i64, &str, LifecycleStage)) {
    let want = (expected.0, expected.1, expected.2.to_string(), expected.3 as i32);
    let mut last = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = figures(&party(suite, id).await);
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "party {id}: expected {want:?}, last saw {last:?}"
        );
        last = Some(got);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the customers consumer has acknowledged everything in the sales stream.
async fn customers_caught_up(suite: &Suite) {
    let js = jetstream::new(suite.nats.client().await);
    eventually(Duration::from_secs(20), "customers consumer caught up", || {
        let js = js.clone();
        async move {
            let mut stream = js.get_stream("CRM_SALES").await.ok()?;
            let last = stream.info().await.ok()?.state.last_sequence;
            let info = stream.consumer_info("customers-sales-orders").await.ok()?;
            (info.ack_floor.stream_sequence >= last && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
}

async fn orders_drive_customer_value_tier_and_lifecycle(backend: Backend) {
    let suite = Suite::start_with(backend, |c| c.value_refresh_interval = Duration::from_millis(100)).await;
    let (a, b, c) = (
        suite.organization("Alpha").await,
        suite.organization("Beta").await,
        suite.organization("Gamma").await,
    );
    let laptop = suite.product("LAP-14", "hardware").await;
    let usd = suite.price_book("List USD", "USD").await;
    suite.set_price(&usd, &laptop, 100_00).await;
    let place = |party: &cpb::Party, quantity: i64| pb::PlaceOrderRequest {
        order: Some(pb::Order {
            party_id: party.id.clone(),
            lines: vec![pb::LineItem {
                product_id: laptop.id.clone(),
                quantity,
                ..Default::default()
            }],
            ..Default::default()
        }),
        price_book_id: usd.id.clone(),
    };
    let mut a_orders = Vec::new();
    for quantity in [1, 2, 3] {
        a_orders.push(
            suite
                .orders
                .clone()
                .place_order(suite.req(place(&a, quantity)))
                .await
                .unwrap()
                .into_inner()
                .order
                .unwrap(),
        );
    }
    suite
        .orders
        .clone()
        .place_order(suite.req(place(&b, 1)))
        .await
        .unwrap();

    // Alpha: 600.00 over three orders this year: loyal, the top contributor.
    wait_for(&suite, &a.id, (600_00, 1, "top", LifecycleStage::Loyal)).await;
    wait_for(&suite, &b.id, (100_00, 2, "low", LifecycleStage::Customer)).await;
    wait_for(&suite, &c.id, (0, 0, "", LifecycleStage::Prospect)).await;

    // The first order.placed delivered again (same ce-id, new message id) changes nothing.
    let js = jetstream::new(suite.nats.client().await);
    let stream = js.get_stream("CRM_SALES").await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: "crm.sales.order.placed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = consumer.messages().await.unwrap().next().await.unwrap().unwrap();
    let mut headers = first.headers.clone().unwrap();
    headers.insert("Nats-Msg-Id", "redelivery-of-first-order");
    js.publish_with_headers("crm.sales.order.placed", headers, first.payload.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    customers_caught_up(&suite).await;
    assert_eq!(
        figures(&party(&suite, &a.id).await).0,
        600_00,
        "the duplicate was not added again"
    );

    // Cancelling one of Alpha's orders: 300.00 left in two orders, no longer loyal.
    let order = &a_orders[2];
    suite
        .orders
        .clone()
        .update_order_status(suite.req(pb::UpdateOrderStatusRequest {
            id: order.id.clone(),
            etag: order.etag.clone(),
            status: OrderStatus::Cancelled as i32,
            reason: "changed mind".into(),
        }))
        .await
        .unwrap();
    wait_for(&suite, &a.id, (300_00, 1, "top", LifecycleStage::Customer)).await;

    let events = suite.events("CRM_CUSTOMERS", &suite.customers_db).await;
    let count = |t: &str| {
        events
            .iter()
            .filter(|e| e.event_type == t && e.subject == a.id)
            .count()
    };
    // Order events applied in one batch refresh the party once: the three orders may come
    // together (one change) or apart (three), the cancellation comes alone.
    let value_changes = count("crm.customers.party.value_changed.v1");
    assert!(
        (2..=4).contains(&value_changes),
        "three orders and one cancellation: {value_changes}"
    );
    let stage_changes = count("crm.customers.party.lifecycle_changed.v1");
    assert!(
        (2..=3).contains(&stage_changes),
        "prospect -> (customer ->) loyal -> customer: {stage_changes}"
    );
    let moves = events
        .iter()
        .filter(|e| e.event_type == "crm.customers.parties.tier_changed.v1")
        .flat_map(|e| {
            e.decode::<crm_proto::customers::v1::PartiesTierChanged>()
                .unwrap()
                .changes
        })
        .filter(|c| c.party_id == a.id)
        .count();
    assert_eq!(moves, 1, "one move into the top tier");
}

backend_tests!(orders_drive_customer_value_tier_and_lifecycle);
