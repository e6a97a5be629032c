//! The gateway's settings.

use std::time::Duration;

use clap::Args;
use crm_auth::AuthConfig;
use crm_platform::ServerConfig;
use crm_platform::config::{CustomersUpstream, parse_duration};
use crm_platform::rate_limit::RateLimit;

/// The gateway's own settings (`crm serve gateway --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Gateway")]
pub struct GatewaySettings {
    /// The customers service.
    #[command(flatten)]
    pub customers: CustomersUpstream,
    /// The sales service's gRPC URLs.
    #[arg(
        long,
        env = "CRM_SALES_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50052"
    )]
    pub sales_url: Vec<String>,
    /// The partners service's gRPC URLs.
    #[arg(
        long,
        env = "CRM_PARTNERS_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50053"
    )]
    pub partners_url: Vec<String>,
    /// The marketing service's gRPC URLs.
    #[arg(
        long,
        env = "CRM_MARKETING_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50054"
    )]
    pub marketing_url: Vec<String>,
    /// The service desk's gRPC URLs.
    #[arg(
        long,
        env = "CRM_SERVICEDESK_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50055"
    )]
    pub servicedesk_url: Vec<String>,
    /// How often upstream host names are resolved again and their addresses probed (pods come
    /// and go).
    #[arg(long, env = "CRM_RESOLVE_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub resolve_interval: Duration,
    /// Sustained calls per second per principal (0: unlimited).
    #[arg(long, env = "CRM_RATE_LIMIT", default_value_t = 50.0)]
    pub rate_limit: f64,
    /// Calls a principal may make at once after a quiet spell.
    #[arg(long, env = "CRM_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Browser origins allowed to call through gRPC-Web (comma-separated, `*` for any).
    #[arg(long, env = "CRM_CORS_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub cors_origins: Vec<String>,
    /// The longest the customer 360 and screen pop wait for their sections.
    #[arg(long, env = "CRM_VIEW_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub view_timeout: Duration,
    /// The identity provider the web console signs people in with (its OpenID Connect issuer
    /// URL; authorization code with PKCE). Unset: the console has no sign-in but the
    /// development one of `crm up`.
    #[arg(long, env = "CRM_CONSOLE_OIDC_ISSUER", default_value = "")]
    pub console_oidc_issuer: String,
    /// The web console's client id at the identity provider.
    #[arg(long, env = "CRM_CONSOLE_OIDC_CLIENT_ID", default_value = "crm-console")]
    pub console_oidc_client_id: String,
    /// The scopes the web console asks the identity provider for.
    #[arg(long, env = "CRM_CONSOLE_OIDC_SCOPE", default_value = "openid profile")]
    pub console_oidc_scope: String,
}

impl Default for GatewaySettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}

impl GatewaySettings {
    /// The gateway these settings describe, listening on `listen` with `server` settings and
    /// verifying tokens as `auth` says.
    pub fn config(self, listen: String, server: ServerConfig, auth: AuthConfig) -> GatewayConfig {
        let upstreams = UpstreamUrls {
            customers: self.customers.urls,
            sales: self.sales_url,
            partners: self.partners_url,
            marketing: self.marketing_url,
            servicedesk: self.servicedesk_url,
        };
        GatewayConfig {
            listen,
            server,
            resolve_interval: self.resolve_interval,
            rate_limit: (self.rate_limit > 0.0).then_some(RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_limit_burst,
            }),
            cors_origins: self.cors_origins,
            view_timeout: self.view_timeout,
            console: crate::console::ConsoleConfig {
                oidc_issuer: self.console_oidc_issuer,
                oidc_client_id: self.console_oidc_client_id,
                oidc_scope: self.console_oidc_scope,
            },
            ..GatewayConfig::new(upstreams, auth)
        }
    }
}

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
    /// How the web console signs people in.
    pub console: crate::console::ConsoleConfig,
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
            console: crate::console::ConsoleConfig::default(),
        }
    }
}
