//! Customers' purchase figures kept up to date from order events: new purchases are added,
//! changed ones added up again, and the figures always equal a count over the purchases.

use async_nats::jetstream;
use crm_events::CloudEvent;
use crm_proto::events::EventKind;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::events as sales_events;
use crm_testkit::{Backend, backend_tests, eventually};
use std::time::Duration;

use crate::helpers::{Suite, money};

/// Publishes `payload` as sales would.
async fn publish<M: prost::Message>(suite: &Suite, kind: EventKind<M>, key: &str, payload: &M) {
    let event = CloudEvent {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: kind.event_type.into(),
        source: "/crm/sales".into(),
        subject: key.into(),
        time: chrono::Utc::now().to_rfc3339(),
        traceparent: None,
        sequence: None,
        data: payload.encode_to_vec().into(),
    };
    let js = jetstream::new(suite.nats.client().await);
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("sales"))
        .await
        .unwrap();
    js.publish_with_headers(kind.subject, event.to_headers(), event.data.clone())
        .await
        .unwrap()
        .await
        .unwrap();
}

fn order(id: &str, party: &str, amount: i64, days_ago: i64, status: spb::OrderStatus) -> spb::Order {
    spb::Order {
        id: id.into(),
        party_id: party.into(),
        total: money(amount),
        status: status as i32,
        place_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - days_ago * 86_400,
            nanos: 0,
        }),
        ..Default::default()
    }
}

type Row = (String, i64, i64, i64, i64, i64);

async fn stored(suite: &Suite) -> Vec<Row> {
    sqlx::query_as(
        "SELECT party_id, orders, total_minor, first_at, last_at, last_day FROM customer_figures \
         ORDER BY party_id",
    )
    .fetch_all(suite.marketing_db.pool())
    .await
    .unwrap()
}

async fn counted(suite: &Suite) -> Vec<Row> {
    sqlx::query_as(
        "SELECT party_id, COUNT(*), CAST(SUM(amount_minor) AS BIGINT), MIN(placed_at), MAX(placed_at), \
         MAX(placed_at) / 86400000000 FROM purchases WHERE status IN ('placed', 'fulfilled') \
         GROUP BY party_id ORDER BY party_id",
    )
    .fetch_all(suite.marketing_db.pool())
    .await
    .unwrap()
}

async fn figures_follow_new_and_changed_purchases(backend: Backend) {
    use spb::OrderStatus::{Cancelled, Fulfilled, Placed};
    let suite = Suite::start(backend).await;
    let ann = suite.person("Ann", "Taipei", "1").await.id;
    let bo = suite.person("Bo", "Taipei", "1").await.id;
    suite.profiles(2).await;

    // An import: three orders of Ann's (one cancelled already), one of Bo's, in one event.
    let imported = spb::OrdersImported {
        orders: vec![
            order("o-1", &ann, 10_00, 30, Placed),
            order("o-2", &ann, 20_00, 20, Fulfilled),
            order("o-3", &ann, 40_00, 10, Cancelled),
            order("o-4", &bo, 5_00, 5, Placed),
        ],
    };
    publish(&suite, sales_events::ORDERS_IMPORTED, "run-1", &imported).await;
    // Live: a new order of Ann's, then her first order cancelled and Bo's fulfilled.
    let live = order("o-5", &ann, 7_00, 1, Placed);
    publish(
        &suite,
        sales_events::ORDER_PLACED,
        &ann,
        &spb::OrderPlaced { order: Some(live) },
    )
    .await;
    let first = order("o-1", &ann, 10_00, 30, Cancelled);
    publish(
        &suite,
        sales_events::ORDER_CANCELLED,
        &ann,
        &spb::OrderCancelled { order: Some(first) },
    )
    .await;
    let bos = order("o-4", &bo, 5_00, 5, Fulfilled);
    publish(
        &suite,
        sales_events::ORDER_FULFILLED,
        &bo,
        &spb::OrderFulfilled { order: Some(bos) },
    )
    .await;

    eventually(Duration::from_secs(30), "every event applied", || async {
        let cancelled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM purchases WHERE order_id = 'o-1' AND status = 'cancelled'",
        )
        .fetch_one(suite.marketing_db.pool())
        .await
        .ok()?;
        let fulfilled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM purchases WHERE order_id = 'o-4' AND status = 'fulfilled'",
        )
        .fetch_one(suite.marketing_db.pool())
        .await
        .ok()?;
        let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM purchases")
            .fetch_one(suite.marketing_db.pool())
            .await
            .ok()?;
        (cancelled == 1 && fulfilled == 1 && all == 5).then_some(())
    })
    .await;
    let figures = stored(&suite).await;
    assert_eq!(figures, counted(&suite).await);
    let of = |id: &str| figures.iter().find(|f| f.0 == id).cloned().unwrap();
    // Ann: o-2 and o-5 count (o-1 cancelled, o-3 cancelled).
    assert_eq!((of(&ann).1, of(&ann).2), (2, 27_00));
    assert_eq!((of(&bo).1, of(&bo).2), (1, 5_00));
    assert_eq!(kept_count(&suite).await, 2);

    // Bo's only order returned: he has no figures left, and the count follows.
    let returned = order("o-4", &bo, 5_00, 5, spb::OrderStatus::Returned);
    publish(
        &suite,
        sales_events::ORDER_RETURNED,
        &bo,
        &spb::OrderReturned {
            order: Some(returned),
        },
    )
    .await;
    eventually(Duration::from_secs(30), "the return applied", || async {
        (stored(&suite).await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(stored(&suite).await, counted(&suite).await);
    assert_eq!(kept_count(&suite).await, 1);
}

/// The count of customers with figures the service keeps, checked against a count of them.
async fn kept_count(suite: &Suite) -> i64 {
    let kept: i64 = sqlx::query_scalar("SELECT customers FROM figures_count WHERE id = 1")
        .fetch_one(suite.marketing_db.pool())
        .await
        .unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT party_id) FROM customer_figures")
        .fetch_one(suite.marketing_db.pool())
        .await
        .unwrap();
    assert_eq!(kept, counted, "the kept count against a count");
    kept
}

/// Two writers of the same currency's RFM boundaries (the job and a first read, or two
/// replicas) hold their transactions open side by side: the second waits for the first and then
/// replaces its boundaries, instead of failing on keys the first inserted.
async fn boundary_writers_replace_one_another_in_turn(backend: Backend) {
    use crm_marketing::domain::rfm::Cuts;
    use crm_marketing::storage::figures;
    // A currency the service's own boundary job does not compute.
    const CURRENCY: &str = "XTS";
    let cuts = |id: &str, value: i64| Cuts {
        r: vec![(2, value, id.to_owned())],
        f: vec![(2, value + 1, id.to_owned())],
        m: vec![(2, value + 2, id.to_owned())],
    };
    let suite = Suite::start(backend).await;
    let store = suite.marketing_store();
    let mut first = store.begin().await.unwrap();
    figures::save_cuts(&mut first, CURRENCY, 1, &cuts("ann", 10), 5)
        .await
        .unwrap();
    let second = tokio::spawn({
        let (store, cuts) = (store.clone(), cuts("bo", 20));
        async move {
            let mut tx = store.begin().await?;
            figures::save_cuts(&mut tx, CURRENCY, 2, &cuts, 6).await?;
            store.commit(tx).await
        }
    });
    if backend == Backend::Postgres {
        // The second holds its transaction open too, waiting on the first's version row.
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity \
            WHERE datname = current_database() AND wait_event_type = 'Lock'";
        crm_testkit::fixtures::rows_reach(&suite.marketing_db, waiting, None, 1, "the second writer waits")
            .await;
    }
    store.commit(first).await.unwrap();
    second
        .await
        .unwrap()
        .expect("the second writer replaces the first's boundaries");
    let mut conn = store.conn().await.unwrap();
    assert_eq!(
        figures::cuts(&mut conn, CURRENCY).await.unwrap(),
        Some((2, cuts("bo", 20)))
    );
}

backend_tests!(
    figures_follow_new_and_changed_purchases,
    boundary_writers_replace_one_another_in_turn
);
