//! Settings of the service desk.

use std::sync::Arc;
use std::time::Duration;

use crm_auth::AuthConfig;
use crm_platform::ServerConfig;
use crm_platform::clock::{Clock, SystemClock};

use crate::domain::calendar::BusinessCalendar;
use crate::domain::escalation::Chain;

/// Everything the service desk needs to run.
#[derive(Debug, Clone)]
pub struct ServicedeskConfig {
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
    /// Working hours the SLA clocks run in.
    pub calendar: BusinessCalendar,
    /// Who hears of an overdue case, and when.
    pub escalation_chain: Chain,
    /// How often overdue cases are escalated (besides `RunEscalations`).
    pub escalation_interval: Duration,
    /// Where notifications are delivered (a messaging gateway's webhook, `http://`); none:
    /// they stay queued.
    pub webhook_url: Option<String>,
    /// Extra trust roots (PEM) for an `https://` webhook, beside the system's (a private CA).
    pub webhook_ca_file: Option<std::path::PathBuf>,
    /// How often special days are queued and due notifications delivered.
    pub notification_interval: Duration,
    /// The time source (a manual clock in tests).
    pub clock: Arc<dyn Clock>,
}

impl ServicedeskConfig {
    /// Defaults for `database_url`: Monday–Friday 09:00–17:00 UTC, escalations every minute.
    pub fn new(database_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            database_url: database_url.into(),
            database_max_connections: 10,
            server: ServerConfig::default(),
            auth,
            calendar: BusinessCalendar::default(),
            escalation_chain: Chain::default(),
            escalation_interval: Duration::from_secs(60),
            webhook_url: None,
            webhook_ca_file: None,
            notification_interval: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
        }
    }
}
