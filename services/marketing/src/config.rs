//! Settings of the marketing service.

use std::time::Duration;

use clap::Args;
use crm_platform::config::{parse_currency, parse_duration};

/// The marketing service's own settings (`crm serve marketing --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Marketing")]
pub struct MarketingSettings {
    /// Currency of monetary figures (purchases in others are recorded, not added up); the
    /// customers service's reporting currency.
    #[arg(long, env = "CRM_REPORTING_CURRENCY", default_value = "USD", value_parser = parse_currency)]
    pub reporting_currency: String,
    /// How often the RFM quintile boundaries are recomputed when purchases or profiles changed
    /// (each customer's own figures are always current).
    #[arg(long, env = "CRM_RFM_REFRESH_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    pub rfm_refresh_interval: Duration,
    /// How long FitModels waits for the fit it started before answering with the job still
    /// running (GetFitJob follows it). Below the server's request timeout.
    #[arg(long, env = "CRM_FIT_WAIT", default_value = "20s", value_parser = parse_duration)]
    pub fit_wait: Duration,
}

impl Default for MarketingSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
