//! Settings of the sales service.

use crm_auth::AuthConfig;
use crm_platform::ServerConfig;

/// Everything the sales service needs to run.
#[derive(Debug, Clone)]
pub struct SalesConfig {
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
    /// The customers service (parties are looked up and created there).
    pub customers_url: String,
    /// How often the alert rules are evaluated.
    pub alert_interval: std::time::Duration,
}

impl SalesConfig {
    /// Defaults for `database_url`, with the customers service at `customers_url`.
    pub fn new(database_url: impl Into<String>, auth: AuthConfig, customers_url: impl Into<String>) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            database_max_connections: 10,
            server: ServerConfig::default(),
            auth,
            customers_url: customers_url.into(),
            alert_interval: std::time::Duration::from_secs(3600),
        }
    }
}
