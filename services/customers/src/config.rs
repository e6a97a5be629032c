//! Settings of the customers service.

use std::time::Duration;

use crm_auth::AuthConfig;
use crm_platform::ServerConfig;

/// Everything the customers service needs to run.
#[derive(Debug, Clone)]
pub struct CustomersConfig {
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
    /// Records not verified for this long are due for verification.
    pub verification_period: Duration,
    /// Currency of the value figures (lifetime and trailing-12-month revenue).
    pub reporting_currency: String,
}

impl CustomersConfig {
    /// Defaults for `database_url`: a free port on loopback, a one-year verification period, USD.
    pub fn new(database_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            database_max_connections: 10,
            server: ServerConfig::default(),
            auth,
            verification_period: Duration::from_secs(365 * 86_400),
            reporting_currency: "USD".into(),
        }
    }
}
