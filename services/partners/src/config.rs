//! Settings of the partners service.

use crm_auth::AuthConfig;
use crm_platform::ServerConfig;

/// Everything the partners service needs to run.
#[derive(Debug, Clone)]
pub struct PartnersConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Database URL (`postgres://...` or `sqlite:...`).
    pub database_url: String,
    /// Pool size.
    pub database_max_connections: u32,
    /// gRPC server settings.
    pub server: ServerConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// Default exception threshold: cells under this share of their pro-rated target.
    pub exception_threshold_bps: i32,
    /// How often exceptions are evaluated (and new ones announced) without anyone asking.
    pub exception_interval: std::time::Duration,
}

impl PartnersConfig {
    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            database_max_connections: 10,
            server: ServerConfig::default(),
            auth,
            exception_threshold_bps: 8_000,
            exception_interval: std::time::Duration::from_secs(3600),
        }
    }
}
