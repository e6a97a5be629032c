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
    /// Currency of the value figures (lifetime and trailing-12-month revenue). Orders in other
    /// currencies are recorded but not added up.
    pub reporting_currency: String,
    /// Orders within twelve months that make a customer loyal.
    pub loyal_min_orders: i64,
    /// Silence after the last order after which a customer is lost.
    pub lost_after: Duration,
    /// How often tiers are re-ranked after order events changed values.
    pub value_refresh_interval: Duration,
    /// How often every party with orders is refreshed (trailing revenue decays with time).
    pub full_value_sweep_interval: Duration,
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
            loyal_min_orders: 3,
            lost_after: Duration::from_secs(365 * 86_400),
            value_refresh_interval: Duration::from_secs(30),
            full_value_sweep_interval: Duration::from_secs(6 * 3600),
        }
    }
}

impl CustomersConfig {
    /// The lifecycle rules.
    pub fn lifecycle_rules(&self) -> crate::domain::lifecycle::LifecycleRules {
        crate::domain::lifecycle::LifecycleRules {
            loyal_min_orders: self.loyal_min_orders,
            lost_after_micros: self.lost_after.as_micros() as i64,
        }
    }
}
