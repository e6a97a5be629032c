//! Settings of the partners service.

use std::time::Duration;

use clap::Args;
use crm_platform::config::parse_duration;

/// The partners service's own settings (`crm serve partners --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Partners")]
pub struct PartnersSettings {
    /// Default exception threshold, in basis points: cells under this share of their pro-rated
    /// target are exceptions.
    #[arg(long, env = "CRM_EXCEPTION_THRESHOLD_BPS", default_value_t = 8_000,
          value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub exception_threshold_bps: i32,
    /// How often exceptions are evaluated (and new ones announced) without anyone asking.
    #[arg(long, env = "CRM_EXCEPTION_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub exception_interval: Duration,
}

impl Default for PartnersSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
