//! Settings of the marketing service.

use crm_auth::AuthConfig;
use crm_platform::ServerConfig;

/// Everything the marketing service needs to run.
#[derive(Debug, Clone)]
pub struct MarketingConfig {
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
    /// Currency of monetary figures (purchases in others are recorded, not added up).
    pub currency: String,
}

impl MarketingConfig {
    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            database_max_connections: 10,
            server: ServerConfig::default(),
            auth,
            currency: "USD".into(),
        }
    }
}
