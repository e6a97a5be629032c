//! The gateway's settings.

use std::time::Duration;

use crm_auth::AuthConfig;
use crm_platform::ServerConfig;
use crm_platform::rate_limit::RateLimit;

/// Where each domain service is reached: one or more `http://host:port` addresses per service
/// (every address a host name resolves to is used).
#[derive(Debug, Clone, Default)]
pub struct UpstreamUrls {
    pub customers: Vec<String>,
    pub sales: Vec<String>,
    pub partners: Vec<String>,
    pub marketing: Vec<String>,
    pub servicedesk: Vec<String>,
}

/// Everything the gateway needs to run.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// gRPC server settings.
    pub server: ServerConfig,
    /// Token verification (the same issuer as the services').
    pub auth: AuthConfig,
    /// The domain services.
    pub upstreams: UpstreamUrls,
    /// How often upstream host names are resolved again and their addresses probed.
    pub resolve_interval: Duration,
    /// Calls per principal; none: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Browser origins allowed to call through gRPC-Web (`*` for any); gRPC-Web is served
    /// either way.
    pub cors_origins: Vec<String>,
    /// The longest a composed view (360, screen pop) waits for its sections when the caller
    /// sets no shorter deadline.
    pub view_timeout: Duration,
}

impl GatewayConfig {
    /// Defaults: a free local port, 50 calls/s with bursts of 100 per principal, any origin,
    /// views answered within 5 s.
    pub fn new(upstreams: UpstreamUrls, auth: AuthConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            server: ServerConfig::default(),
            auth,
            upstreams,
            resolve_interval: Duration::from_secs(5),
            rate_limit: Some(RateLimit {
                per_second: 50.0,
                burst: 100,
            }),
            cors_origins: vec!["*".into()],
            view_timeout: Duration::from_secs(5),
        }
    }
}
