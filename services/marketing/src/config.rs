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
    /// (each customer's own figures are always current); on a base where a recomputation takes
    /// seconds, the next waits at least ten times as long as it took.
    #[arg(long, env = "CRM_RFM_REFRESH_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    pub rfm_refresh_interval: Duration,
    /// How long FitModels waits for the fit it started before answering with the job still
    /// running (GetFitJob follows it). Below the server's request timeout.
    #[arg(long, env = "CRM_FIT_WAIT", default_value = "20s", value_parser = parse_duration)]
    pub fit_wait: Duration,
    /// Contact pressure: at most this many contacts of one customer per channel within
    /// `--contact-cap-window`, by all campaigns together (0: no cap). Members at the cap are left
    /// out of a test or roll-out, so the best RFM cells are not mailed by every campaign.
    #[arg(long, env = "CRM_CONTACT_CAP", default_value_t = 4)]
    pub contact_cap: i64,
    /// The window the contact cap counts in.
    #[arg(long, env = "CRM_CONTACT_CAP_WINDOW", default_value = "30d", value_parser = parse_duration)]
    pub contact_cap_window: Duration,
    /// How long SelectMembers goes through its selection, and StartTest and RollOut through their
    /// contact run, before answering with it still under way (GetCampaign follows it; a job
    /// finishes it). Below the server's request timeout.
    #[arg(long, env = "CRM_CONTACT_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub contact_wait: Duration,
    /// How often the jobs that go on with contact runs and selections left under way look for
    /// them (each takes one once its call stopped waiting, and goes through it to its end).
    #[arg(long, env = "CRM_CONTACT_RUN_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub contact_run_interval: Duration,
}

impl Default for MarketingSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
