//! The services the binary runs: each domain service as it declares itself to the platform (one
//! line per service below), and the gateway in front of them.

use std::net::SocketAddr;

use clap::ValueEnum;
use crm_platform::Instance;
use crm_platform::config::augment_once;
use tokio_util::sync::CancellationToken;

pub use crm_gateway::GatewaySettings;

/// Declares the suite's domain services, one line each: the settings field, the command-line
/// variant, the type implementing [`crm_platform::Service`] and what the service does.
macro_rules! domains {
    ($($field:ident: $variant:ident => $service:ty, $about:literal;)*) => {
        /// A service of the suite.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
        pub enum Service {
            $(#[doc = $about] $variant,)*
            /// The single entry point: customer 360, screen pop, every domain API forwarded.
            Gateway,
        }

        impl Service {
            /// Every domain service (each with its own database), in port order for `crm up`;
            /// the gateway follows them.
            pub const DOMAINS: [Service; [$(stringify!($variant)),*].len()] = [$(Service::$variant),*];

            /// The service's name (database file, logs, `crm serve <name>`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Service::$variant => <$service as crm_platform::Service>::NAME,)*
                    Service::Gateway => "gateway",
                }
            }

            /// The durable consumers it reads other domains' events with (none for the
            /// gateway, which neither publishes nor consumes).
            pub fn reads(self) -> &'static [crm_events::permissions::Reading] {
                match self {
                    $(Service::$variant => <$service as crm_platform::Service>::READS,)*
                    Service::Gateway => &[],
                }
            }

            /// The name it connects to NATS under (which also names its reply subjects).
            pub fn nats_client_name(self) -> String {
                format!("crm-{}", self.name())
            }
        }

        /// Every service's own settings, as `crm up` reads them: a setting several services
        /// read (the same flag) appears once.
        #[derive(Debug, Clone, Default)]
        pub struct SuiteSettings {
            $(#[doc = $about] pub $field: <$service as crm_platform::Service>::Settings,)*
            /// The gateway's.
            pub gateway: GatewaySettings,
        }

        impl clap::FromArgMatches for SuiteSettings {
            fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
                Ok(Self {
                    $($field: clap::FromArgMatches::from_arg_matches(matches)?,)*
                    gateway: clap::FromArgMatches::from_arg_matches(matches)?,
                })
            }

            fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
                *self = Self::from_arg_matches(matches)?;
                Ok(())
            }
        }

        impl clap::Args for SuiteSettings {
            fn augment_args(command: clap::Command) -> clap::Command {
                $(let command = augment_once::<<$service as crm_platform::Service>::Settings>(command);)*
                // Where the services listen is the suite's own business.
                augment_once::<GatewaySettings>(command).mut_args(|arg| {
                    let upstream = arg.get_long().is_some_and(|long| {
                        Service::DOMAINS.iter().any(|s| long == format!("{}-url", s.name()))
                    });
                    if upstream { arg.hide(true) } else { arg }
                })
            }

            fn augment_args_for_update(command: clap::Command) -> clap::Command {
                Self::augment_args(command)
            }
        }

        /// `crm serve <service>`: each service with the settings every service has and its own.
        #[derive(Debug, clap::Subcommand)]
        pub enum ServeCommand {
            $(#[doc = $about] $variant(crate::cli::Serve<<$service as crm_platform::Service>::Settings>),)*
            /// The single entry point: customer 360, screen pop, every domain API forwarded.
            Gateway(crate::cli::ServeGateway),
        }

        impl ServeCommand {
            /// Runs the chosen service until a stop signal.
            pub async fn run(self, telemetry: &crm_platform::TelemetryConfig) -> anyhow::Result<()> {
                match self {
                    $(ServeCommand::$variant(args) => crate::cli::serve_domain::<$service>(args, telemetry).await,)*
                    ServeCommand::Gateway(args) => crate::cli::serve_gateway(args, telemetry).await,
                }
            }
        }

        /// Builds domain service `service` as `instance` says, with its part of `settings`.
        pub async fn build_domain(
            service: Service,
            instance: Instance,
            settings: &SuiteSettings,
            nats: async_nats::Client,
        ) -> anyhow::Result<crm_platform::App> {
            match service {
                $(Service::$variant => {
                    crm_platform::kernel::build::<$service>(instance, settings.$field.clone(), nats).await
                })*
                Service::Gateway => anyhow::bail!("the gateway is not a domain service"),
            }
        }

        /// Migrates `service`'s database at `url` (the gateway has none).
        pub async fn migrate(service: Service, url: &str) -> anyhow::Result<()> {
            prepare(service, url, crm_storage::Migrating::OnStart).await
        }

        /// Migrates `service`'s database at `url`, or with
        /// [`crm_storage::Migrating::Verify`] only checks that it is at this binary's version.
        pub async fn prepare(service: Service, url: &str, migrating: crm_storage::Migrating) -> anyhow::Result<()> {
            let db = crm_storage::Db::connect(url, 2).await?;
            let migrated = match service {
                $(Service::$variant => crm_platform::kernel::prepare::<$service>(&db, migrating).await,)*
                Service::Gateway => Ok(()),
            };
            db.close().await;
            migrated
        }
    };
}

domains! {
    customers: Customers => crm_customers::Customers, "Parties, relationships, value, data quality, privacy.";
    sales: Sales => crm_sales::Sales, "Catalog, leads, pipeline, quotes, orders, activities.";
    partners: Partners => crm_partners::Partners, "Channel hierarchy, targets, sell-through, performance.";
    marketing: Marketing => crm_marketing::Marketing, "Marketing view, RFM, segments, campaigns.";
    servicedesk: Servicedesk => crm_servicedesk::Servicedesk, "Cases, queues and agents, SLAs, escalation, knowledge base, call centre.";
}

/// Each domain service's database, as `crm up` is told them: `--<service>-database-url` (env
/// `CRM_<SERVICE>_DATABASE_URL`), a SQLite file in the data directory when empty.
#[derive(Debug, Clone, Default)]
pub struct DatabaseUrls(pub std::collections::HashMap<Service, String>);

impl DatabaseUrls {
    fn id(service: Service) -> String {
        format!("{}_database_url", service.name())
    }
}

impl clap::FromArgMatches for DatabaseUrls {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(
            Service::DOMAINS
                .iter()
                .map(|&s| {
                    (
                        s,
                        matches
                            .get_one::<String>(&Self::id(s))
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        ))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for DatabaseUrls {
    fn augment_args(command: clap::Command) -> clap::Command {
        Service::DOMAINS.iter().fold(command, |command, &service| {
            let name = service.name();
            command.arg(
                clap::Arg::new(Self::id(service))
                    .long(format!("{name}-database-url"))
                    .value_name("URL")
                    .env(format!("CRM_{}_DATABASE_URL", name.to_ascii_uppercase()))
                    .default_value("")
                    .help(format!(
                        "Database of the {name} service (default: a SQLite file in the data directory)"
                    )),
            )
        })
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
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
    /// A built domain service.
    pub fn domain(app: crm_platform::App) -> Self {
        Self {
            addr: app.local_addr(),
            app: App::Domain(Box::new(app)),
        }
    }

    /// A built gateway.
    pub fn gateway(app: crm_gateway::Application) -> Self {
        Self {
            addr: app.local_addr(),
            app: App::Gateway(Box::new(app)),
        }
    }

    /// Serves until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        match self.app {
            App::Domain(app) => app.run_until_stopped(stop).await,
            App::Gateway(app) => app.run_until_stopped(stop).await,
        }
    }
}

/// Builds the gateway on `listen` as `settings` say.
pub async fn build_gateway(
    listen: String,
    server: crm_platform::ServerConfig,
    auth: crm_auth::AuthConfig,
    settings: GatewaySettings,
) -> anyhow::Result<Running> {
    let app = crm_gateway::Application::build(settings.config(listen, server, auth)).await?;
    Ok(Running::gateway(app))
}
