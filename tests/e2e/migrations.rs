//! `crm migrate` as a release's migrations Job runs it: a verifying run reports a database
//! behind the binary and changes nothing, a migrating run brings it to the binary's version, and
//! either refuses a schema a newer release contracted, naming both versions.

use std::process::Command;

use crm_testkit::{Backend, TestDb};

use crate::CRM;

fn migrate(url: &str, migrating: &str) -> (bool, String) {
    let out = Command::new(CRM)
        .args([
            "migrate",
            "customers",
            "--database-url",
            url,
            "--database-migrations",
            migrating,
        ])
        .env_remove("CRM_DATABASE_SSL_MODE")
        .env_remove("CRM_DATABASE_SSL_ROOT_CERT")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn a_release_s_migrations_run_once_and_a_contracted_schema_is_refused(backend: Backend) {
    let test_db = TestDb::new(backend);
    // Created, empty.
    let db = test_db.connect().await;

    let (ok, text) = migrate(&test_db.url, "verify");
    assert!(
        !ok && text.contains("is empty, older than this binary's"),
        "{text}"
    );
    assert!(text.contains("crm migrate"), "{text}");

    let (ok, text) = migrate(&test_db.url, "on-start");
    assert!(ok && text.contains("migrated customers"), "{text}");
    let (ok, text) = migrate(&test_db.url, "verify");
    assert!(ok && text.contains("up to date: customers"), "{text}");

    // A newer release's contraction: this binary refuses to run on the schema, either way.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000001, 'contract drop legacy tier', $1, $2, 1)",
    )
    .bind(true)
    .bind(vec![0u8; 48])
    .execute(db.pool())
    .await
    .unwrap();
    for migrating in ["verify", "on-start"] {
        let (ok, text) = migrate(&test_db.url, migrating);
        assert!(
            !ok && text
                .contains("is at 99990101000001 (contract drop legacy tier), newer than this binary's"),
            "{migrating}: {text}"
        );
    }
    db.close().await;
}

crm_testkit::backend_tests!(a_release_s_migrations_run_once_and_a_contracted_schema_is_refused);
