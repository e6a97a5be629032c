//! The services the binary can run, and how each is built from shared settings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use crm_auth::AuthConfig;
use crm_platform::ServerConfig;
use crm_platform::clock::Clock;
use crm_platform::config::parse_duration;
use tokio_util::sync::CancellationToken;

/// A service of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
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
    /// The single entry point: customer 360, screen pop, every domain API forwarded.
    Gateway,
}

impl Service {
    /// Every domain service (each with its own database), in port order for `crm up`; the
    /// gateway follows them.
    pub const DOMAINS: [Service; 5] = [
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
            Service::Gateway => "gateway",
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
    /// sales and gateway: the customers service's gRPC URLs (several may be given,
    /// comma-separated; `crm up` sets it).
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
    /// servicedesk: the messaging gateway's webhook (`https://...` or `http://...`)
    /// notifications are posted to; unset, they stay queued.
    #[arg(long, env = "CRM_NOTIFICATION_WEBHOOK_URL")]
    pub notification_webhook_url: Option<String>,
    /// servicedesk: extra trust roots (a PEM file, e.g. a private CA) for an `https://` webhook.
    #[arg(long, env = "CRM_NOTIFICATION_CA_FILE")]
    pub notification_ca_file: Option<std::path::PathBuf>,
    /// servicedesk: how often due notifications are delivered.
    #[arg(long, env = "CRM_NOTIFICATION_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub notification_interval: Duration,
}

impl Default for DomainSettings {
    /// The documented defaults (and whatever the environment sets).
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            domain: DomainSettings,
        }
        <Defaults as clap::Parser>::parse_from(["crm"]).domain
    }
}

/// Gateway settings.
#[derive(Debug, Clone, Args)]
pub struct GatewaySettings {
    /// gateway: the sales service's gRPC URLs (comma-separated; every address a name resolves
    /// to is used). The customers service is `--customers-url`.
    #[arg(
        long,
        env = "CRM_SALES_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50052"
    )]
    pub sales_url: Vec<String>,
    /// gateway: the partners service's gRPC URLs.
    #[arg(
        long,
        env = "CRM_PARTNERS_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50053"
    )]
    pub partners_url: Vec<String>,
    /// gateway: the marketing service's gRPC URLs.
    #[arg(
        long,
        env = "CRM_MARKETING_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50054"
    )]
    pub marketing_url: Vec<String>,
    /// gateway: the service desk's gRPC URLs.
    #[arg(
        long,
        env = "CRM_SERVICEDESK_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50055"
    )]
    pub servicedesk_url: Vec<String>,
    /// gateway: how often upstream host names are resolved again and their addresses probed
    /// (pods come and go).
    #[arg(long, env = "CRM_RESOLVE_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub resolve_interval: Duration,
    /// gateway: sustained calls per second per principal (0: unlimited).
    #[arg(long, env = "CRM_RATE_LIMIT", default_value_t = 50.0)]
    pub rate_limit: f64,
    /// gateway: calls a principal may make at once after a quiet spell.
    #[arg(long, env = "CRM_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// gateway: browser origins allowed to call through gRPC-Web (comma-separated, `*` for any).
    #[arg(long, env = "CRM_CORS_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub cors_origins: Vec<String>,
    /// gateway: the longest the customer 360 and screen pop wait for their sections.
    #[arg(long, env = "CRM_VIEW_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub view_timeout: Duration,
}

impl Default for GatewaySettings {
    /// The documented defaults (and whatever the environment sets).
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            gateway: GatewaySettings,
        }
        <Defaults as clap::Parser>::parse_from(["crm"]).gateway
    }
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
    pub gateway: GatewaySettings,
    /// The time source of services with time-based rules (a manual clock in tests).
    pub clock: Arc<dyn Clock>,
}

/// A built service, ready to run.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    app: App,
}

enum App {
    Domain(Box<crm_platform::App>),
    Gateway(Box<crm_gateway::Application>),
}

impl Running {
    /// Serves until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        match self.app {
            App::Domain(app) => app.run_until_stopped(stop).await,
            App::Gateway(app) => app.run_until_stopped(stop).await,
        }
    }
}

/// Builds `service` (connects, migrates, binds).
pub async fn build(
    service: Service,
    s: ServiceSettings,
    nats: impl Into<Option<async_nats::Client>>,
) -> anyhow::Result<Running> {
    let nats = nats.into();
    let nats = || {
        nats.clone()
            .ok_or_else(|| anyhow::anyhow!("{} needs NATS", service.name()))
    };
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
            let app = crm_customers::build(config, nats()?).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Domain(Box::new(app)),
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
            let app = crm_sales::build(config, nats()?).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Domain(Box::new(app)),
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
            let app = crm_partners::build(config, nats()?).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Domain(Box::new(app)),
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
            let app = crm_marketing::build(config, nats()?).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Domain(Box::new(app)),
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
                webhook_ca_file: s.domain.notification_ca_file,
                notification_interval: s.domain.notification_interval,
                clock: s.clock,
                ..crm_servicedesk::ServicedeskConfig::new("", s.auth)
            };
            let app = crm_servicedesk::build(config, nats()?).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Domain(Box::new(app)),
            })
        }
        Service::Gateway => {
            let g = s.gateway;
            let urls = crm_gateway::UpstreamUrls {
                customers: s.domain.customers_url.split(',').map(str::to_string).collect(),
                sales: g.sales_url,
                partners: g.partners_url,
                marketing: g.marketing_url,
                servicedesk: g.servicedesk_url,
            };
            let config = crm_gateway::GatewayConfig {
                listen: s.listen,
                server: s.server,
                resolve_interval: g.resolve_interval,
                rate_limit: (g.rate_limit > 0.0).then_some(crm_platform::rate_limit::RateLimit {
                    per_second: g.rate_limit,
                    burst: g.rate_limit_burst,
                }),
                cors_origins: g.cors_origins,
                view_timeout: g.view_timeout,
                ..crm_gateway::GatewayConfig::new(urls, s.auth)
            };
            let app = crm_gateway::Application::build(config).await?;
            Ok(Running {
                addr: app.local_addr(),
                app: App::Gateway(Box::new(app)),
            })
        }
    }
}

/// Migrates `service`'s database at `url` (the gateway has none).
pub async fn migrate(service: Service, url: &str) -> anyhow::Result<()> {
    if service == Service::Gateway {
        return Ok(());
    }
    let db = crm_storage::Db::connect(url, 2).await?;
    match service {
        Service::Customers => crm_customers::migrate(&db).await?,
        Service::Sales => crm_sales::migrate(&db).await?,
        Service::Partners => crm_partners::migrate(&db).await?,
        Service::Marketing => crm_marketing::migrate(&db).await?,
        Service::Servicedesk => crm_servicedesk::migrate(&db).await?,
        Service::Gateway => {}
    }
    db.close().await;
    Ok(())
}
