//! A new record about a party and the party's erasure, applied at once by an API call and the
//! customer consumer, take turns: the record does not keep what the erasure removes.

use std::time::Duration;

use crm_sales::storage::accounts::{self, Account};
use crm_testkit::{Backend, TestDb, backend_tests};

async fn an_erasure_waits_for_an_activity_being_logged(backend: Backend) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_sales::Sales>(&db)
        .await
        .expect("migrating");
    let mut conn = db.pool().acquire().await.unwrap();
    let account = Account {
        party_id: "x".into(),
        display_name: "Ada Chen".into(),
        industry: String::new(),
        region_code: String::new(),
        status: "active".into(),
        source: String::new(),
        external_id: String::new(),
        version: 1,
    };
    accounts::upsert(&mut conn, &account).await.unwrap();
    drop(conn);

    // LogActivity's transaction: the party checked and held, the activity written, not yet
    // committed.
    let mut logging = db.begin().await.unwrap();
    accounts::lock(&mut logging, "x").await.unwrap();
    let found = accounts::get(&mut logging, "x").await.unwrap().unwrap();
    assert_eq!(found.status, "active");
    sqlx::query(
        "INSERT INTO activities (id, kind, subject, notes, party_id, owner_id, occurred_at) \
         VALUES ('a1', 1, 'Call', 'Ada asked us to call her at home', 'x', 'rita', 1)",
    )
    .execute(&mut *logging)
    .await
    .unwrap();

    // The customer consumer's erasure meanwhile.
    let erasure = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            accounts::anonymise(&mut tx, "x", 2).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    // Time for an erasure that did not wait to blank nothing and commit first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    logging.commit().await.unwrap();
    erasure.await.unwrap();
    let notes: String = sqlx::query_scalar("SELECT notes FROM activities WHERE id = 'a1'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(notes, "", "the erasure blanked the activity committed before it");
}

backend_tests!(an_erasure_waits_for_an_activity_being_logged);
