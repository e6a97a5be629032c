//! Settings of the sales service.

use std::time::Duration;

use clap::Args;
use crm_platform::config::parse_duration;

/// The sales service's own settings (`crm serve sales --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sales")]
pub struct SalesSettings {
    /// The customers service's gRPC URLs (parties are looked up and created there; several may
    /// be given, comma-separated; `crm up` sets it).
    #[arg(
        long,
        env = "CRM_CUSTOMERS_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50051"
    )]
    pub customers_url: Vec<String>,
    /// How often the alert rules (stalled deals, pile-ups, falling rates, overdue closes) run.
    #[arg(long, env = "CRM_ALERT_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub alert_interval: Duration,
}

impl Default for SalesSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
