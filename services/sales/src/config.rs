//! Settings of the sales service.

use std::time::Duration;

use clap::Args;
use crm_platform::config::{CustomersUpstream, parse_duration};

/// The sales service's own settings (`crm serve sales --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sales")]
pub struct SalesSettings {
    /// Where parties are looked up and created.
    #[command(flatten)]
    pub customers: CustomersUpstream,
    /// How often the alert rules (stalled deals, pile-ups, falling rates, overdue closes) run.
    #[arg(long, env = "CRM_ALERT_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub alert_interval: Duration,
    /// How often task reminders that came due are sent (also on demand through
    /// `SendTaskReminders`).
    #[arg(long, env = "CRM_REMINDER_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    pub reminder_interval: Duration,
    /// How often the job that reassigns accounts after a change of the territory rules looks for
    /// a reassignment to run (it runs one to its end, a page of accounts per transaction).
    #[arg(long, env = "CRM_REASSIGNMENT_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub reassignment_interval: Duration,
}

impl Default for SalesSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
