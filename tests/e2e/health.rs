//! Health as the Kubernetes probes ask it: liveness (the empty service name) answers whether the
//! process is alive; readiness (`readiness`) whether a service can do its work now, its database
//! and its broker reachable.

use std::time::Duration;

use crm::services::Service;
use crm_testkit::{Backend, eventually};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::support;

const WAIT: Duration = Duration::from_secs(30);

async fn status(addr: std::net::SocketAddr, service: &str) -> Option<ServingStatus> {
    let mut health = HealthClient::new(crm_testkit::channel(addr));
    let response = health
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

async fn becomes(addr: std::net::SocketAddr, service: &str, wanted: ServingStatus) {
    eventually(WAIT, &format!("{service:?} {wanted:?}"), || async {
        (status(addr, service).await == Some(wanted)).then_some(())
    })
    .await;
}

/// Readiness goes while NATS is down, and comes back with it; the process stays alive.
async fn readiness_follows_the_broker(backend: Backend) {
    let mut suite = support::start(backend, support::gateway_settings()).await;
    let addr = suite.suite.addr(Service::Customers);
    becomes(addr, "readiness", ServingStatus::Serving).await;
    suite.nats.stop();
    becomes(addr, "readiness", ServingStatus::NotServing).await;
    assert_eq!(
        status(addr, "").await,
        Some(ServingStatus::Serving),
        "still alive"
    );
    suite.nats.restart();
    becomes(addr, "readiness", ServingStatus::Serving).await;
    suite.shutdown().await;
}

/// Readiness goes while the database refuses connections, and comes back with it. (PostgreSQL
/// only: a SQLite file cannot be made unreachable from outside.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let suite = support::start(Backend::Postgres, support::gateway_settings()).await;
    let addr = suite.suite.addr(Service::Customers);
    becomes(addr, "readiness", ServingStatus::Serving).await;
    let url = suite.database_url(Service::Customers).to_string();
    crm_testkit::allow_connections(&url, false).await;
    becomes(addr, "readiness", ServingStatus::NotServing).await;
    assert_eq!(
        status(addr, "").await,
        Some(ServingStatus::Serving),
        "still alive"
    );
    crm_testkit::allow_connections(&url, true).await;
    becomes(addr, "readiness", ServingStatus::Serving).await;
    suite.shutdown().await;
}

crm_testkit::backend_tests!(readiness_follows_the_broker);
