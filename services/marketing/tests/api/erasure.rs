//! An erasure and an order of the erased customer, applied at once by the two consumers, take
//! turns: the order's purchase does not outlive the erasure.

use std::time::Duration;

use crm_marketing::storage::profiles::{self, Purchase};
use crm_testkit::{Backend, TestDb, backend_tests};

async fn an_erasure_waits_for_an_order_being_recorded(backend: Backend) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_marketing::Marketing>(&db)
        .await
        .expect("migrating");
    let purchases = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM purchases WHERE party_id = 'x'")
            .fetch_one(db.pool())
            .await
            .unwrap()
    };

    // The order consumer's transaction: the purchase written, not yet committed.
    let mut order = db.begin().await.unwrap();
    profiles::lock(&mut order, &["x"]).await.unwrap();
    let purchase = Purchase {
        order_id: "o3".into(),
        party_id: "x".into(),
        placed_at: 1,
        amount_minor: 100,
        currency_code: "USD".into(),
        status: "placed".into(),
        product_ids: Vec::new(),
    };
    profiles::record_purchases(&mut order, &[purchase]).await.unwrap();

    // The customer consumer's erasure meanwhile.
    let erasure = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            profiles::erase(&mut tx, "x", 2).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    // Time for an erasure that did not wait to delete nothing and commit first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    order.commit().await.unwrap();
    erasure.await.unwrap();
    assert_eq!(
        purchases().await,
        0,
        "the erasure removed the purchase committed before it"
    );
}

backend_tests!(an_erasure_waits_for_an_order_being_recorded);
