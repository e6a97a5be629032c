//! The gateway (`crm.gateway.v1`): the suite's single entry point. It authenticates every
//! call, limits each principal's rate, answers the views composed from several services (the
//! customer 360, the call-centre screen pop) and forwards every other domain API, unchanged, to
//! the service owning it, over gRPC or gRPC-Web on one port.
//!
//! - `api`: the composed views (fan-out under the caller's deadline, a status per section).
//! - `audit`: the services' call records, read through the gateway.
//! - `console`: the web console's files, sign-in settings and uploads, served on the same port.
//! - `domain`: deadlines, sections, and the sales figures derived from orders.
//! - `forward`: forwarding by method path.
//! - `upstream`: balanced, re-resolving channels to the domain services.

pub mod api;
pub mod audit;
pub mod config;
pub mod console;
pub mod domain;
pub mod forward;
pub mod policy;
pub mod upstream;

use std::net::SocketAddr;

use crm_platform::GrpcServer;
use crm_platform::web::CorsOrigins;
use crm_proto::gateway::v1::gateway_service_server::GatewayServiceServer;
use tokio_util::sync::CancellationToken;

pub use config::{GatewayConfig, GatewaySettings, UpstreamUrls};

/// The gateway's name in logs and traces.
pub const NAME: &str = "gateway";

/// A built gateway: bound, with its upstream channels, ready to run.
pub struct Application {
    listener: tokio::net::TcpListener,
    server: GrpcServer,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Application {
    /// Builds the gateway: token verification, upstream channels (connected lazily, so the
    /// gateway starts before the services do), the server; binds the listener.
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        let verifier = config.auth.verifier().await?;
        let auth = crm_auth::AuthLayer::new(verifier, policy::policy());
        let upstreams =
            upstream::Upstreams::connect(&config.upstreams, config.resolve_interval, &config.server.tls)?;
        let api = api::GatewayApi::new(upstreams.clone(), config.view_timeout);
        let max = config.server.max_message_bytes;
        let mut server = GrpcServer::new(NAME, config.server.clone(), auth)
            .add_service(
                GatewayServiceServer::new(api)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                crm_proto::audit::v1::audit_service_server::AuditServiceServer::new(
                    audit::AuditForwarder::new(upstreams.clone()),
                )
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
            )
            .fallback(&upstream::FORWARDED, forward::Forwarder::new(upstreams.routes()))
            .grpc_web(CorsOrigins::new(config.cors_origins.clone()));
        server = server.site(console::site(&config.console, &config.auth, &upstreams));
        if let Some(limit) = config.rate_limit {
            server = server.rate_limit(limit);
        }
        let listener = crm_platform::bind(&config.listen).await?;
        Ok(Self { listener, server })
    }

    /// Where the gateway listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until `stop` is cancelled, then drains in-flight calls.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        self.server.serve(self.listener, stop).await
    }
}
