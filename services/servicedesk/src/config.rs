//! Settings of the service desk.

use std::time::Duration;

use clap::Args;
use crm_platform::config::parse_duration;

use crate::domain::calendar::BusinessCalendar;
use crate::domain::escalation::{Chain, Recipients};

/// The service desk's own settings (`crm serve servicedesk --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Service desk")]
pub struct ServicedeskSettings {
    /// Working days and hours (UTC) the SLA clocks run in, e.g. `mon-fri 09:00-17:00`.
    #[arg(id = "business_hours", long = "business-hours", env = "CRM_BUSINESS_HOURS",
          default_value = "mon-fri 09:00-17:00", value_parser = BusinessCalendar::parse)]
    pub calendar: BusinessCalendar,
    /// The levels an overdue case climbs and when, as `level=trigger,...` with triggers
    /// `response`, `resolution` (SLA overdue) or business time unresolved, not counting time
    /// waiting on the customer: working days such as `3d` or business hours such as `20h`.
    #[arg(long, env = "CRM_ESCALATION_CHAIN",
          default_value = crate::domain::escalation::DEFAULT_CHAIN, value_parser = Chain::parse)]
    pub escalation_chain: Chain,
    /// Who is notified at each level, as `level=who,...` with `who` either `queue_supervisor`
    /// (the supervisor of the case's queue) or a user id; name a level twice to reach two people.
    /// Unset: the `supervisor` level goes to the queue's supervisor.
    #[arg(long, env = "CRM_ESCALATION_RECIPIENTS", default_value = "", value_parser = Recipients::parse)]
    pub escalation_recipients: Recipients,
    /// How often overdue cases are escalated (besides `RunEscalations`).
    #[arg(long, env = "CRM_ESCALATION_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    pub escalation_interval: Duration,
    /// The messaging gateway's webhook (`https://...` or `http://...`) notifications are posted
    /// to; unset, they stay queued.
    #[arg(
        id = "notification_webhook_url",
        long = "notification-webhook-url",
        env = "CRM_NOTIFICATION_WEBHOOK_URL"
    )]
    pub webhook_url: Option<String>,
    /// Extra trust roots (a PEM file, e.g. a private CA) for an `https://` webhook, beside the
    /// system's.
    #[arg(
        id = "notification_ca_file",
        long = "notification-ca-file",
        env = "CRM_NOTIFICATION_CA_FILE"
    )]
    pub webhook_ca_file: Option<std::path::PathBuf>,
    /// How often special days are queued and due notifications delivered.
    #[arg(long, env = "CRM_NOTIFICATION_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub notification_interval: Duration,
    /// Value tiers whose customers' cases go one priority ahead, with SLAs halved (comma-separated
    /// names). Empty: the tiers that make up the top 20% of customers in the customers service's
    /// pyramid (top, high and medium under its default), followed when the pyramid changes.
    #[arg(long, env = "CRM_PREFERENTIAL_TIERS", value_delimiter = ',')]
    pub preferential_tiers: Vec<String>,
    /// The queue (by name, letter case aside) a customer's own request goes to when it names
    /// none: self-service forms do not know the desk's queues.
    #[arg(long, env = "CRM_SELF_SERVICE_QUEUE", default_value = "Self-service")]
    pub self_service_queue: String,
}

impl Default for ServicedeskSettings {
    /// The documented defaults: Monday–Friday 09:00–17:00 UTC, escalations every minute.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}
