//! Orders imported on partner channels: a batch of them becomes sell-through as if each one's
//! order.placed and then its status event had arrived, a batch delivered again changes
//! nothing, and an ended order stays ended when its order.placed arrives late.

use std::time::Duration;

use async_nats::jetstream;
use crm_events::CloudEvent;
use crm_proto::common::v1::Money;
use crm_proto::partners::v1::PartnerType;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::events as sales_events;
use crm_testkit::{Backend, backend_tests, eventually};
use prost::Message as _;
use sqlx::Row as _;

use crate::helpers::{Suite, money};

/// Publishes an `orders.imported` event as sales does after an import.
async fn publish_imported(suite: &Suite, orders: &[spb::Order]) {
    let data = spb::OrdersImported {
        orders: orders.to_vec(),
    }
    .encode_to_vec();
    let event = CloudEvent {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: sales_events::ORDERS_IMPORTED.event_type.into(),
        source: "/crm/sales".into(),
        subject: "import".into(),
        time: chrono::Utc::now().to_rfc3339(),
        traceparent: None,
        sequence: None,
        data: data.into(),
    };
    let js = jetstream::new(suite.nats.client().await);
    js.publish_with_headers(
        sales_events::ORDERS_IMPORTED.subject,
        event.to_headers(),
        event.data.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

fn order(id: &str, partner_id: &str, status: spb::OrderStatus, amount: i64) -> spb::Order {
    spb::Order {
        id: id.into(),
        party_id: "party-1".into(),
        channel: (!partner_id.is_empty()).then(|| spb::Channel {
            partner_id: partner_id.into(),
        }),
        total: money(amount),
        status: status as i32,
        place_time: Some(prost_types::Timestamp {
            seconds: 1_780_000_000, // 2026-05-28
            nanos: 0,
        }),
        status_time: Some(prost_types::Timestamp {
            seconds: 1_780_000_000 + 3 * 86_400,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// (source key, partner, category, region, amount) of every sell-through record, and the
/// orders counted as returns, once `sold` records are there.
async fn recorded(suite: &Suite, sold: usize) -> (Vec<(String, String, String, String, i64)>, Vec<String>) {
    let db = suite.partners_db.pool();
    let records = eventually(Duration::from_secs(20), "sell-through recorded", || async {
        let rows = sqlx::query(
            "SELECT source_key, partner_id, product_category, region_code, amount_minor FROM sell_through \
             ORDER BY source_key",
        )
        .fetch_all(db)
        .await
        .ok()?;
        (rows.len() >= sold).then_some(rows)
    })
    .await
    .iter()
    .map(|r| {
        (
            r.get("source_key"),
            r.get("partner_id"),
            r.get("product_category"),
            r.get("region_code"),
            r.get("amount_minor"),
        )
    })
    .collect();
    let returns = sqlx::query("SELECT order_id FROM partner_returns ORDER BY order_id")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("order_id"))
        .collect();
    (records, returns)
}

async fn imported_channel_orders_become_sell_through(backend: Backend) {
    use spb::OrderStatus::{Cancelled, Fulfilled, Placed, Returned};
    let suite = Suite::start(backend).await;
    let dealer = suite
        .partner("Dealer Xinyi", PartnerType::Dealer, "", &["TW-TPE", "TW"])
        .await;
    let laptop = suite.product("LAPTOP-1", "laptops").await;

    // An order known by its total; one with lines (a product of the catalog and one unknown);
    // a cancelled and a returned one; one sold direct; one on a partner nobody knows.
    let mut lines = order("o-lines", &dealer.id, Placed, 0);
    lines.lines = vec![
        spb::LineItem {
            product_id: laptop.id.clone(),
            quantity: 2,
            net: Some(Money {
                amount_minor: 200_00,
                currency_code: "USD".into(),
            }),
            ..Default::default()
        },
        spb::LineItem {
            product_id: "gone".into(),
            quantity: 1,
            net: money(5_00),
            ..Default::default()
        },
    ];
    let orders = vec![
        order("o-total", &dealer.id, Fulfilled, 70_00),
        lines,
        order("o-cancelled", &dealer.id, Cancelled, 30_00),
        order("o-returned", &dealer.id, Returned, 40_00),
        order("o-direct", "", Fulfilled, 50_00),
        order("o-stranger", "partner-nobody-knows", Fulfilled, 60_00),
    ];
    publish_imported(&suite, &orders).await;
    let (records, returns) = recorded(&suite, 3).await;
    let expected = vec![
        ("order:o-lines:0", laptop.category.as_str(), 200_00),
        ("order:o-lines:1", "", 5_00),
        ("order:o-total:total", "", 70_00),
    ];
    let got: Vec<(&str, &str, i64)> = records
        .iter()
        .map(|(key, partner, category, region, amount)| {
            assert_eq!(
                (partner.as_str(), region.as_str()),
                (dealer.id.as_str(), "TW-TPE")
            );
            (key.as_str(), category.as_str(), *amount)
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(returns, vec!["o-returned".to_string()]);

    // The same batch again (a redelivery), then the order with lines imported again as
    // cancelled: nothing is counted twice, and the cancelled order leaves nothing.
    publish_imported(&suite, &orders).await;
    let mut cancelled = orders[1].clone();
    cancelled.status = Cancelled as i32;
    publish_imported(&suite, &[cancelled]).await;
    let db = suite.partners_db.pool();
    eventually(
        Duration::from_secs(20),
        "the cancelled order's lines removed",
        || async {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sell_through")
                .fetch_one(db)
                .await
                .ok()?;
            (n == 1).then_some(())
        },
    )
    .await;
    let (records, returns) = recorded(&suite, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].0, "order:o-total:total");
    assert_eq!(returns, vec!["o-returned".to_string()]);

    // Late news: order.placed of the cancelled and the returned orders, overtaken by their end,
    // then a new order. The ended orders stay ended; only the new one is counted.
    for id in ["o-cancelled", "o-returned", "o-lines"] {
        publish_placed(&suite, &order(id, &dealer.id, Placed, 10_00)).await;
    }
    publish_placed(&suite, &order("o-after", &dealer.id, Placed, 80_00)).await;
    let (records, returns) = recorded(&suite, 2).await;
    let keys: Vec<&str> = records.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(keys, ["order:o-after:total", "order:o-total:total"]);
    assert_eq!(returns, vec!["o-returned".to_string()]);
}

/// Publishes an `order.placed` event as sales does.
async fn publish_placed(suite: &Suite, order: &spb::Order) {
    suite
        .nats
        .publish_event(
            "sales",
            "order.placed",
            &order.id,
            &spb::OrderPlaced {
                order: Some(order.clone()),
            },
        )
        .await;
}

backend_tests!(imported_channel_orders_become_sell_through);
