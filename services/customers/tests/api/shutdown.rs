use std::time::Duration;

use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, backend_tests};
use sqlx::Connection as _;

use crate::helpers::{TestApp, person};

/// Holds the parties table's write lock on a separate connection until dropped or released.
enum Lock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Lock {
    async fn take(app: &TestApp) -> Self {
        let url = &app.test_db.url;
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
            Lock::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE parties IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            Lock::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            Lock::Sqlite(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
            Lock::Postgres(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
        }
    }
}

/// A call in flight when the stop signal arrives completes; the service then stops cleanly,
/// after publishing the call's event.
async fn in_flight_calls_complete_on_shutdown(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    app.create(person("Warm", "Up", "")).await; // the connection is established
    let lock = Lock::take(&app).await;
    let mut client = app.client.clone();
    let request = app.req(pb::CreatePartyRequest {
        party: Some(person("In", "Flight", "")),
        ..Default::default()
    });
    let call = tokio::spawn(async move { client.create_party(request).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!call.is_finished(), "the call waits for the lock");
    let stop = app.stop_token();
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    lock.release().await;
    let created = call
        .await
        .unwrap()
        .expect("the in-flight call completes")
        .into_inner()
        .party
        .unwrap();
    assert_eq!(created.display_name, "In Flight");
    app.stop().await.expect("clean stop");
    let db = app.test_db.connect().await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM parties")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 2);
    let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(
        unsent, 0,
        "the relay published the last call's event before stopping"
    );
    db.close().await;
    // New calls are refused once stopped.
    let refused = app
        .client
        .clone()
        .get_party(app.req(pb::GetPartyRequest { id: created.id }))
        .await;
    assert!(refused.is_err());
}

backend_tests!(in_flight_calls_complete_on_shutdown);
