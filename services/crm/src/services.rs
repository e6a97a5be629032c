//! The services the binary can run, and how each is built from shared settings.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use crm_auth::AuthConfig;
use crm_platform::ServerConfig;
use crm_platform::config::parse_duration;
use tokio_util::sync::CancellationToken;

/// A service of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// Parties, relationships, value, data quality, privacy.
    Customers,
}

impl Service {
    /// Every service, in port order for `crm up`.
    pub const ALL: [Service; 1] = [Service::Customers];

    /// The service's name (database file, logs).
    pub fn name(self) -> &'static str {
        match self {
            Service::Customers => "customers",
        }
    }
}

/// Domain settings, by service.
#[derive(Debug, Clone, Args)]
pub struct DomainSettings {
    /// customers: records not verified for this long are due for verification.
    #[arg(long, env = "CRM_VERIFICATION_PERIOD", default_value = "365d", value_parser = parse_duration)]
    pub verification_period: Duration,
    /// Currency of value figures (lifetime revenue etc.).
    #[arg(long, env = "CRM_REPORTING_CURRENCY", default_value = "USD")]
    pub reporting_currency: String,
}

/// What building a service needs.
#[derive(Debug)]
pub struct ServiceSettings {
    pub listen: String,
    pub database_url: String,
    pub database_max_connections: u32,
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub domain: DomainSettings,
}

/// A built service, ready to run.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    app: crm_customers::Application,
}

impl Running {
    /// Serves until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        self.app.run_until_stopped(stop).await
    }
}

/// Builds `service` (connects, migrates, binds).
pub async fn build(
    service: Service,
    s: ServiceSettings,
    nats: async_nats::Client,
) -> anyhow::Result<Running> {
    match service {
        Service::Customers => {
            let config = crm_customers::CustomersConfig {
                listen: s.listen,
                database_url: s.database_url,
                database_max_connections: s.database_max_connections,
                server: s.server,
                auth: s.auth,
                verification_period: s.domain.verification_period,
                reporting_currency: s.domain.reporting_currency.to_ascii_uppercase(),
            };
            let app = crm_customers::Application::build(config, nats).await?;
            Ok(Running {
                addr: app.local_addr(),
                app,
            })
        }
    }
}

/// Migrates `service`'s database at `url`.
pub async fn migrate(service: Service, url: &str) -> anyhow::Result<()> {
    let db = crm_storage::Db::connect(url, 2).await?;
    match service {
        Service::Customers => crm_customers::migrate(&db).await?,
    }
    db.close().await;
    Ok(())
}
