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
    /// Catalog, leads, pipeline, quotes, orders, activities.
    Sales,
    /// Channel hierarchy, targets, sell-through, performance.
    Partners,
    /// Marketing view, RFM, segments, campaigns.
    Marketing,
    /// Cases, queues and agents, SLAs, escalation, knowledge base, call centre.
    Servicedesk,
}

impl Service {
    /// Every service, in port order for `crm up`.
    pub const ALL: [Service; 5] = [
        Service::Customers,
        Service::Sales,
        Service::Partners,
        Service::Marketing,
        Service::Servicedesk,
    ];

    /// The service's name (database file, logs).
    pub fn name(self) -> &'static str {
        match self {
            Service::Customers => "customers",
            Service::Sales => "sales",
            Service::Partners => "partners",
            Service::Marketing => "marketing",
            Service::Servicedesk => "servicedesk",
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
    /// customers: orders within twelve months that make a customer loyal.
    #[arg(long, env = "CRM_LOYAL_MIN_ORDERS", default_value_t = 3)]
    pub loyal_min_orders: i64,
    /// customers: silence after the last order after which a customer is lost.
    #[arg(long, env = "CRM_LOST_AFTER", default_value = "365d", value_parser = parse_duration)]
    pub lost_after: Duration,
    /// sales: the customers service's gRPC URL (`crm up` sets it).
    #[arg(long, env = "CRM_CUSTOMERS_URL", default_value = "http://127.0.0.1:50051")]
    pub customers_url: String,
    /// sales: how often the alert rules (stalled deals, pile-ups, falling rates, overdue closes) run.
    #[arg(long, env = "CRM_ALERT_INTERVAL", default_value = "1h", value_parser = parse_duration)]
    pub alert_interval: Duration,
    /// servicedesk: how often overdue cases are escalated.
    #[arg(long, env = "CRM_ESCALATION_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    pub escalation_interval: Duration,
    /// servicedesk: who hears of an overdue case and when, as `level=trigger,...` with triggers
    /// `response`, `resolution` (SLA overdue) or hours unresolved such as `72h`.
    #[arg(long, env = "CRM_ESCALATION_CHAIN",
          default_value = "supervisor=resolution,director=72h,vp=120h,general_manager=240h",
          value_parser = crm_servicedesk::domain::escalation::Chain::parse)]
    pub escalation_chain: crm_servicedesk::domain::escalation::Chain,
    /// servicedesk: working days and hours (UTC) the SLA clocks run in, e.g. `mon-fri 09:00-17:00`.
    #[arg(long, env = "CRM_BUSINESS_HOURS", default_value = "mon-fri 09:00-17:00",
          value_parser = crm_servicedesk::domain::calendar::BusinessCalendar::parse)]
    pub business_hours: crm_servicedesk::domain::calendar::BusinessCalendar,
    /// servicedesk: the messaging gateway's webhook (`http://...`) notifications are posted to;
    /// unset, they stay queued.
    #[arg(long, env = "CRM_NOTIFICATION_WEBHOOK_URL")]
    pub notification_webhook_url: Option<String>,
    /// servicedesk: how often due notifications are delivered.
    #[arg(long, env = "CRM_NOTIFICATION_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub notification_interval: Duration,
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
    app: App,
}

enum App {
    Customers(Box<crm_customers::Application>),
    Sales(Box<crm_sales::Application>),
    Partners(Box<crm_partners::Application>),
    Marketing(Box<crm_marketing::Application>),
    Servicedesk(Box<crm_servicedesk::Application>),
}

impl Running {
    /// Serves until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        match self.app {
            App::Customers(app) => app.run_until_stopped(stop).await,
            App::Sales(app) => app.run_until_stopped(stop).await,
            App::Partners(app) => app.run_until_stopped(stop).await,
            App::Marketing(app) => app.run_until_stopped(stop).await,
            App::Servicedesk(app) => app.run_until_stopped(stop).await,
        }
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
                verification_period: s.domain.verification_period,
                reporting_currency: s.domain.reporting_currency.to_ascii_uppercase(),
                loyal_min_orders: s.domain.loyal_min_orders,
                lost_after: s.domain.lost_after,
                ..crm_customers::CustomersConfig::new("", s.auth)
            };
            let app = crm_customers::Application::build(config, nats).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Customers(Box::new(app)),
            })
        }
        Service::Sales => {
            let config = crm_sales::SalesConfig {
                listen: s.listen,
                database_url: s.database_url,
                database_max_connections: s.database_max_connections,
                server: s.server,
                auth: s.auth,
                customers_url: s.domain.customers_url,
                alert_interval: s.domain.alert_interval,
            };
            let app = crm_sales::Application::build(config, nats).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Sales(Box::new(app)),
            })
        }
        Service::Partners => {
            let config = crm_partners::PartnersConfig {
                listen: s.listen,
                database_url: s.database_url,
                database_max_connections: s.database_max_connections,
                server: s.server,
                ..crm_partners::PartnersConfig::new("", s.auth)
            };
            let app = crm_partners::Application::build(config, nats).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Partners(Box::new(app)),
            })
        }
        Service::Marketing => {
            let config = crm_marketing::MarketingConfig {
                listen: s.listen,
                database_url: s.database_url,
                database_max_connections: s.database_max_connections,
                server: s.server,
                currency: s.domain.reporting_currency.to_ascii_uppercase(),
                ..crm_marketing::MarketingConfig::new("", s.auth)
            };
            let app = crm_marketing::Application::build(config, nats).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Marketing(Box::new(app)),
            })
        }
        Service::Servicedesk => {
            let config = crm_servicedesk::ServicedeskConfig {
                listen: s.listen,
                database_url: s.database_url,
                database_max_connections: s.database_max_connections,
                server: s.server,
                escalation_interval: s.domain.escalation_interval,
                escalation_chain: s.domain.escalation_chain,
                calendar: s.domain.business_hours,
                webhook_url: s.domain.notification_webhook_url,
                notification_interval: s.domain.notification_interval,
                ..crm_servicedesk::ServicedeskConfig::new("", s.auth)
            };
            let app = crm_servicedesk::Application::build(config, nats).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Servicedesk(Box::new(app)),
            })
        }
    }
}

/// Migrates `service`'s database at `url`.
pub async fn migrate(service: Service, url: &str) -> anyhow::Result<()> {
    let db = crm_storage::Db::connect(url, 2).await?;
    match service {
        Service::Customers => crm_customers::migrate(&db).await?,
        Service::Sales => crm_sales::migrate(&db).await?,
        Service::Partners => crm_partners::migrate(&db).await?,
        Service::Marketing => crm_marketing::migrate(&db).await?,
        Service::Servicedesk => crm_servicedesk::migrate(&db).await?,
    }
    db.close().await;
    Ok(())
}
