//! Restoring one service's database to an earlier point (docs/restore.md): with its consumers
//! rewound to that point, the service applies again what the restored database had lost.

use std::process::Command;
use std::time::Duration;

use crm_testkit::{TestNats, eventually};

use crate::{CRM, create_party, crm_succeeds, start_crm_up, wait_serving};

/// Whether sales' copy of the customer base holds `party`.
async fn sales_has_account(data: &std::path::Path, party: &str) -> bool {
    let db = crm_storage::Db::connect(&format!("sqlite:{}", data.join("sales.db").display()), 1)
        .await
        .unwrap();
    let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE party_id = $1")
        .bind(party)
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    assert!(found <= 1, "one account per party");
    found == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_database_applies_again_what_it_lost_once_its_consumers_are_rewound() {
    let nats = TestNats::start();
    let data = tempfile::tempdir().unwrap();
    let nats_url = nats.url();
    let env = [("CRM_NATS_URL", nats_url.as_str())];
    let wait = Duration::from_secs(60);

    let up = start_crm_up(data.path(), &env).await;
    wait_serving(up.port).await;
    let first = create_party(up.port, &up.token).await.id;
    eventually(wait, "sales copied the first party", || async {
        sales_has_account(data.path(), &first).await.then_some(())
    })
    .await;
    // The backup: a consistent copy of sales' database while it runs.
    let since = chrono::Utc::now();
    let backup = data.path().join("sales-backup.db");
    let db = crm_storage::Db::connect(&format!("sqlite:{}", data.path().join("sales.db").display()), 1)
        .await
        .unwrap();
    sqlx::query("VACUUM INTO $1")
        .bind(backup.display().to_string())
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    let second = create_party(up.port, &up.token).await.id;
    eventually(wait, "sales copied the second party", || async {
        sales_has_account(data.path(), &second).await.then_some(())
    })
    .await;
    let mut process = up.process;
    assert!(process.terminate().success());

    // The restore: sales' database as it was at the backup.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.path().join(format!("sales.db{suffix}")));
    }
    std::fs::copy(&backup, data.path().join("sales.db")).unwrap();
    assert!(sales_has_account(data.path(), &first).await);
    assert!(!sales_has_account(data.path(), &second).await);
    let printed = crm_succeeds(&[
        "events",
        "rewind",
        "sales",
        "--since",
        &since.to_rfc3339(),
        "--nats-url",
        &nats_url,
    ]);
    assert!(
        printed.contains("rewound sales-customer-events on CRM_CUSTOMERS"),
        "{printed}"
    );

    let up = start_crm_up(data.path(), &env).await;
    wait_serving(up.port).await;
    eventually(wait, "sales copied the second party again", || async {
        sales_has_account(data.path(), &second).await.then_some(())
    })
    .await;
    assert!(sales_has_account(data.path(), &first).await);
    drop(up);
}

/// The streams' configuration written by `crm events backup` comes back with `crm events
/// restore` after the streams are lost, and an outbox is handed back to its relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_backs_up_and_restores_the_streams() {
    let nats = TestNats::start();
    let js = async_nats::jetstream::new(nats.client().await);
    let settings = crm_events::StreamSettings {
        replicas: 1,
        max_mib: 32,
    };
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("sales").with(&settings))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("streams.json");
    let url = nats.url();
    let crm = |args: &[&str]| crm_succeeds(&[&["events"], args, &["--nats-url", &url]].concat());
    crm(&["backup", "--out", file.to_str().unwrap()]);
    js.delete_stream("CRM_SALES").await.unwrap();
    let printed = crm(&["restore", file.to_str().unwrap()]);
    assert!(printed.contains("created stream CRM_SALES"), "{printed}");
    let mut stream = js.get_stream("CRM_SALES").await.unwrap();
    assert_eq!(stream.info().await.unwrap().config.max_bytes, 32 << 20);
    let printed = crm(&["restore", file.to_str().unwrap()]);
    assert!(printed.contains("nothing to restore"), "{printed}");

    // A time that is not one is refused before anything is touched.
    let out = Command::new(CRM)
        .args(["events", "republish", "sales", "--since", "yesterday"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RFC 3339"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An outbox: rows sent since the time are handed back to the relay.
    let data_dir = dir.path().to_str().unwrap();
    crm_succeeds(&["migrate", "sales", "--data-dir", data_dir]);
    let db = crm_storage::Db::connect(&format!("sqlite:{}", dir.path().join("sales.db").display()), 1)
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    for (id, created) in [("old", now - 3_600_000_000), ("new", now)] {
        sqlx::query(
            "INSERT INTO crm_outbox (event_id, subject, event_type, source, event_subject, event_time, payload, created_at, sent_at) \
             VALUES ($1, 'crm.sales.order.placed', 't', '/crm/sales', 'o', '', x'00', $2, $2)",
        )
        .bind(id)
        .bind(created)
        .execute(db.pool())
        .await
        .unwrap();
    }
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let printed = crm_succeeds(&[
        "events",
        "republish",
        "sales",
        "--since",
        &since,
        "--data-dir",
        data_dir,
    ]);
    assert!(printed.starts_with("1 outbox rows"), "{printed}");
    let unsent: Vec<String> = sqlx::query_scalar("SELECT event_id FROM crm_outbox WHERE sent_at IS NULL")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(unsent, ["new"]);
    db.close().await;
}
