//! gRPC over TLS: a service with a certificate speaks TLS only, asks for client certificates of
//! the configured authority, answers plain-text health probes on its probe port alone, and
//! presents a renewed certificate without a restart.

use std::time::Duration;

use crm_testkit::{Backend, TestDb, TestNats};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{TestTls, tls_channel};

/// Whether the liveness health check on `channel` answers SERVING.
async fn serving(channel: Channel) -> Result<(), String> {
    let answer = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .map_err(|status| status.to_string())?;
    match answer.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_speaks_tls_only_and_asks_for_a_client_certificate() {
    crm_testkit::init_logging();
    let (nats, db, tls) = (TestNats::start(), TestDb::new(Backend::Sqlite), TestTls::new());
    let probe = format!("127.0.0.1:{}", crm_testkit::free_port());
    let customers =
        crm_testkit::start::<crm_customers::Customers>(&db.url, nats.client().await, |instance, _| {
            instance.server.tls = tls.config();
            instance.server.probe_listen = probe.clone();
        })
        .await;
    let ca = tls.ca.cert_pem();

    serving(tls.channel(customers.addr))
        .await
        .expect("a client with a certificate of the CA is served");
    let anonymous = serving(tls_channel(customers.addr, &ca, None)).await;
    assert!(anonymous.is_err(), "a client without a certificate was served");
    let stranger = crm_tls::testing::TestCa::new().issue(&["stranger"]);
    let foreign = serving(tls_channel(
        customers.addr,
        &ca,
        Some((&stranger.cert_pem, &stranger.key_pem)),
    ))
    .await;
    assert!(foreign.is_err(), "a certificate of another CA was accepted");
    let plain = serving(crm_testkit::channel(customers.addr)).await;
    assert!(plain.is_err(), "a plain-text client was served");

    let probes = Endpoint::from_shared(format!("http://{probe}"))
        .unwrap()
        .connect_lazy();
    serving(probes.clone())
        .await
        .expect("the probe port answers health checks in plain text");
    let other = crm_proto::customers::v1::customers_service_client::CustomersServiceClient::new(probes)
        .get_party(crm_testkit::authed(
            crm_proto::customers::v1::GetPartyRequest {
                id: uuid::Uuid::now_v7().to_string(),
            },
            &crm_testkit::token("prober", &[crm_auth::Role::Admin]),
        ))
        .await
        .expect_err("the probe port serves nothing else");
    assert_eq!(other.code(), tonic::Code::Unimplemented, "{other:?}");
    customers.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_presented_without_a_restart() {
    crm_testkit::init_logging();
    let (nats, db, tls) = (TestNats::start(), TestDb::new(Backend::Sqlite), TestTls::new());
    let customers =
        crm_testkit::start::<crm_customers::Customers>(&db.url, nats.client().await, |instance, _| {
            instance.server.tls = crm_platform::config::TlsConfig {
                tls_client_ca: None,
                tls_reload_interval: Duration::from_millis(50),
                ..tls.config()
            };
        })
        .await;
    let (old_ca, new_ca) = (tls.ca.cert_pem(), crm_tls::testing::TestCa::new());
    serving(tls_channel(customers.addr, &old_ca, None))
        .await
        .expect("served with the first certificate");
    assert!(
        serving(tls_channel(customers.addr, &new_ca.cert_pem(), None))
            .await
            .is_err(),
        "the renewed certificate is not there yet"
    );

    // A renewal half written (a key that does not belong to the certificate) changes nothing.
    let renewed = new_ca.issue(&["127.0.0.1"]);
    std::fs::write(tls.dir.path().join("cert.pem"), &renewed.cert_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    serving(tls_channel(customers.addr, &old_ca, None))
        .await
        .expect("still served with the first certificate");

    std::fs::write(tls.dir.path().join("key.pem"), &renewed.key_pem).unwrap();
    crm_testkit::eventually(Duration::from_secs(10), "the renewed certificate", || async {
        serving(tls_channel(customers.addr, &new_ca.cert_pem(), None))
            .await
            .ok()
    })
    .await;
    assert!(
        serving(tls_channel(customers.addr, &old_ca, None)).await.is_err(),
        "new connections no longer get the old certificate"
    );
    customers.stop().await.unwrap();
}
