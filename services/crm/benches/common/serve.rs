//! Servers the benches start as processes of their own: a free address for one, and waiting
//! until it answers.

use std::net::SocketAddr;
use std::time::Duration;

use tonic_health::pb::health_client::HealthClient;

/// Waits until the server at `addr` answers health checks.
pub async fn ready(addr: SocketAddr) {
    crm_testkit::eventually(Duration::from_secs(60), "the server to answer", || async move {
        HealthClient::new(crm_testkit::channel(addr))
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .ok()
    })
    .await;
}

/// A loopback address with a port that was free a moment ago.
pub fn local_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], crm_testkit::free_port()))
}
