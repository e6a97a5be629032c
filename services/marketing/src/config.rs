//! Settings of the marketing service.

use clap::Args;
use crm_platform::config::parse_currency;

/// The marketing service's own settings (`crm serve marketing --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Marketing")]
pub struct MarketingSettings {
    /// Currency of monetary figures (purchases in others are recorded, not added up); the
    /// customers service's reporting currency.
    #[arg(long, env = "CRM_REPORTING_CURRENCY", default_value = "USD", value_parser = parse_currency)]
    pub reporting_currency: String,
}

impl Default for MarketingSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
