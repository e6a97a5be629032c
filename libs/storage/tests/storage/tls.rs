//! PostgreSQL over TLS: with `sslmode=verify-full` and `sslrootcert`, a connection is made only
//! to a server whose certificate the given authority signed for the host connected to.

use crm_storage::Db;
use crm_testkit::TlsPostgres;

/// A server with a certificate for 127.0.0.1 from a test CA, and that CA's file. `None` (the
/// test then returns) where PostgreSQL tests do not run or its server programs are missing.
fn server() -> Option<(TlsPostgres, crm_tls::testing::TestCa, tempfile::TempDir)> {
    if !crm_testkit::postgres_available() {
        return None;
    }
    let ca = crm_tls::testing::TestCa::new();
    let issued = ca.issue(&["127.0.0.1"]);
    let server = TlsPostgres::start(&issued.cert_pem, &issued.key_pem);
    assert!(
        server.is_some() || std::env::var_os("CRM_TEST_REQUIRE_POSTGRES").is_none(),
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    Some((server?, ca, dir))
}

fn url(host: &str, port: u16, ca_file: &std::path::Path) -> String {
    format!(
        "postgres://postgres@{host}:{port}/crm?sslmode=verify-full&sslrootcert={}",
        ca_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_connects_only_to_the_certified_server() {
    let Some((server, _ca, dir)) = server() else {
        return;
    };
    let ca_file = dir.path().join("ca.pem");
    let db = Db::connect_with(&url("127.0.0.1", server.port(), &ca_file), 2, 0)
        .await
        .expect("the server's certificate is the CA's, for 127.0.0.1");
    let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(encrypted, "the connection is encrypted");
    db.pool().close().await;

    // The same server under a name its certificate does not carry.
    let renamed = Db::connect_with(&url("localhost", server.port(), &ca_file), 2, 0).await;
    let err = format!(
        "{:#}",
        renamed.expect_err("connected to a server whose certificate names another host")
    );
    assert!(err.contains("not valid for name"), "{err}");

    // Another authority.
    let other = crm_tls::testing::TestCa::new();
    let other_file = dir.path().join("other.pem");
    std::fs::write(&other_file, other.cert_pem()).unwrap();
    let forged = Db::connect_with(&url("127.0.0.1", server.port(), &other_file), 2, 0).await;
    let err = format!(
        "{:#}",
        forged.expect_err("a certificate of another CA was trusted")
    );
    assert!(err.contains("invalid peer certificate"), "{err}");
}
