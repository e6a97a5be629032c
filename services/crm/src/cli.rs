//! Command line: every flag also reads an environment variable and has a default that works on
//! one machine.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use crm_auth::{AuthConfig, Claims, Role};
use crm_events::NatsConfig;
use crm_platform::clock::SystemClock;
use crm_platform::config::parse_duration;
use crm_platform::{ServerConfig, TelemetryConfig};
use crm_storage::DatabaseConfig;

use crate::local_nats::LocalNats;
use crate::services::{self, Service};
use crate::suite::{Suite, SuiteConfig};

/// The crm suite.
#[derive(Debug, Parser)]
#[command(
    name = "crm",
    version,
    about = "CRM suite: customers and the services built on them"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    telemetry: TelemetryConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the whole suite in one process: each service on its own port with its own database.
    Up(Box<UpArgs>),
    /// Runs one service.
    #[command(subcommand)]
    Serve(Box<services::ServeCommand>),
    /// Applies database migrations and exits.
    Migrate(MigrateArgs),
    /// Prints a development token signed with the configured HS256 secret.
    Token(TokenArgs),
    /// Imports a CSV or JSON-lines file through the import API (idempotent per source and
    /// external id; refused rows go to FILE.rejected.csv).
    Import(crate::transfer::ImportArgs),
    /// Exports records the caller may read as CSV or JSON lines.
    Export(crate::transfer::ExportArgs),
    /// Inspects dead letters and re-drives them into the consumer that parked them.
    Dlq(crate::dlq::DlqArgs),
    /// Puts the flow of events right after a restore: backs up and restores the streams'
    /// configuration, rewinds a service's consumers, publishes an outbox again.
    Events(crate::events::EventsArgs),
    /// Prints every setting of every service as Markdown (docs/configuration.md).
    #[command(hide = true)]
    SettingsReference,
}

/// Settings every service shares.
#[derive(Debug, Args)]
pub struct Common {
    /// Directory for SQLite files and the local nats-server's store.
    #[arg(long, env = "CRM_DATA_DIR", default_value = ".crm")]
    data_dir: PathBuf,
    #[command(flatten)]
    nats: NatsConfig,
    #[command(flatten)]
    auth: AuthConfig,
    #[command(flatten)]
    server: ServerConfig,
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    settings: services::SuiteSettings,
    /// Interface the services listen on.
    #[arg(long, env = "CRM_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port of the first service; the others follow (customers = base, gateway = base + 5).
    /// Default 50051; without this flag a port already taken is replaced by a free one.
    #[arg(long, env = "CRM_PORT_BASE")]
    port_base: Option<u16>,
    /// Port of the nats-server `crm up` starts when no --nats-url is given. Default 4222;
    /// without this flag a free port is used when 4222 is taken.
    #[arg(long, env = "CRM_LOCAL_NATS_PORT")]
    local_nats_port: Option<u16>,
    #[command(flatten)]
    databases: services::DatabaseUrls,
}

/// `crm serve <domain service>`: what every service has, its database, and its own settings.
#[derive(Debug, Args)]
pub struct Serve<S: Args> {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    database: DatabaseConfig,
    /// Address to listen on.
    #[arg(long, env = "CRM_LISTEN", default_value = "0.0.0.0:50051")]
    listen: String,
    #[command(flatten)]
    settings: S,
}

/// `crm serve gateway`: what every service has and the gateway's own settings.
#[derive(Debug, Args)]
pub struct ServeGateway {
    #[command(flatten)]
    common: Common,
    /// Address to listen on.
    #[arg(long, env = "CRM_LISTEN", default_value = "0.0.0.0:50051")]
    listen: String,
    #[command(flatten)]
    settings: services::GatewaySettings,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// The service whose database to migrate (all when omitted, with their default databases).
    /// With `--database-migrations verify`, only checks that each is at this binary's version.
    service: Option<Service>,
    #[arg(long, env = "CRM_DATA_DIR", default_value = ".crm")]
    data_dir: PathBuf,
    #[command(flatten)]
    database: DatabaseConfig,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// Roles (repeat or separate with commas).
    #[arg(long = "role", value_delimiter = ',', required = true)]
    roles: Vec<Role>,
    /// User id (the token subject).
    #[arg(long)]
    user: String,
    /// Team id.
    #[arg(long)]
    team: Option<String>,
    /// Sales territories.
    #[arg(long = "territory", value_delimiter = ',')]
    territories: Vec<String>,
    /// Partner id (partner users).
    #[arg(long)]
    partner_id: Option<String>,
    /// Customer party id (customers).
    #[arg(long)]
    customer_id: Option<String>,
    /// Lifetime, e.g. 12h.
    #[arg(long, default_value = "12h", value_parser = parse_duration)]
    ttl: Duration,
    #[command(flatten)]
    auth: AuthConfig,
}

/// The first service port of `crm up` when none is given.
const DEFAULT_PORT_BASE: u16 = 50051;

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Token(args) => {
            let mut claims = Claims::new(args.user, &args.roles, args.ttl);
            claims.team = args.team;
            claims.territories = args.territories;
            claims.partner_id = args.partner_id;
            claims.customer_id = args.customer_id;
            println!("{}", args.auth.signer().sign(&claims)?);
            Ok(())
        }
        Command::Migrate(args) => {
            let targets: Vec<Service> = args
                .service
                .map(|s| vec![s])
                .unwrap_or_else(|| Service::DOMAINS.to_vec());
            for service in targets {
                if service == Service::Gateway {
                    println!("the gateway has no database");
                    continue;
                }
                let url = args.database.url_or_default(&args.data_dir, service.name());
                services::prepare(service, &url, args.database.migrating).await?;
                let done = match args.database.migrating {
                    crm_storage::Migrating::OnStart => "migrated",
                    crm_storage::Migrating::Verify => "up to date:",
                };
                println!("{done} {} ({})", service.name(), redact(&url));
            }
            Ok(())
        }
        Command::Serve(command) => command.run(&cli.telemetry).await,
        Command::Up(args) => up(*args, &cli.telemetry).await,
        Command::Import(args) => crate::transfer::run_import(args).await,
        Command::Export(args) => crate::transfer::run_export(args).await,
        Command::Dlq(args) => crate::dlq::run(args).await,
        Command::Events(args) => crate::events::run(args).await,
        Command::SettingsReference => {
            print!("{}", crate::settings_doc::markdown());
            Ok(())
        }
    }
}

/// Runs domain service `S` as `args` say until a stop signal.
pub(crate) async fn serve_domain<S: crm_platform::Service>(
    args: Serve<S::Settings>,
    telemetry: &TelemetryConfig,
) -> anyhow::Result<()> {
    let common = args.common;
    common.auth.require_deployment_key()?;
    let _telemetry = crm_platform::telemetry::init(telemetry, &format!("crm-{}", S::NAME))?;
    let stop = crm_platform::shutdown::signal_token();
    let database = DatabaseConfig {
        url: args.database.url_or_default(&common.data_dir, S::NAME),
        ..args.database
    };
    let nats_url = common
        .nats
        .url
        .clone()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let nats = crm_events::connect(&nats_url, &format!("crm-{}", S::NAME), &common.nats.security).await?;
    // A service starts while NATS is away (its outbox keeps the events); an old server that
    // answers is refused.
    if let Err(err) = crm_events::check_server(&nats, &nats_url, Duration::from_secs(5)).await {
        if nats.connection_state() == async_nats::connection::State::Connected {
            return Err(err);
        }
        tracing::warn!("{err:#}; starting anyway, events wait in the outbox");
    }
    let instance = crm_platform::Instance {
        listen: args.listen,
        database,
        server: common.server,
        auth: common.auth,
        clock: Arc::new(SystemClock),
        streams: common.nats.streams,
    };
    let app = crm_platform::kernel::build::<S>(instance, args.settings, nats).await?;
    tracing::info!(service = S::NAME, addr = %app.local_addr(), "started");
    app.run_until_stopped(stop).await
}

/// Runs the gateway as `args` say until a stop signal. It only calls services: it neither
/// publishes nor consumes events.
pub(crate) async fn serve_gateway(args: ServeGateway, telemetry: &TelemetryConfig) -> anyhow::Result<()> {
    let common = args.common;
    common.auth.require_deployment_key()?;
    let _telemetry = crm_platform::telemetry::init(telemetry, "crm-gateway")?;
    let stop = crm_platform::shutdown::signal_token();
    let running = services::build_gateway(args.listen, common.server, common.auth, args.settings).await?;
    tracing::info!(service = "gateway", addr = %running.addr, "started");
    running.run(stop).await
}

/// Whether `host` (an address or a name) is reachable from this machine alone.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn up(args: UpArgs, telemetry: &TelemetryConfig) -> anyhow::Result<()> {
    let _telemetry = crm_platform::telemetry::init(telemetry, "crm")?;
    let stop = crm_platform::shutdown::signal_token();
    let common = args.common;
    // The development secret is public: a suite reachable from other machines needs a key of
    // its own.
    if !is_loopback(&args.host) {
        common.auth.require_deployment_key().context(format!(
            "crm up on {} is reachable from other machines",
            args.host
        ))?;
    }
    std::fs::create_dir_all(&common.data_dir)
        .with_context(|| format!("creating {}", common.data_dir.display()))?;
    let (_local_nats, nats_url) = match &common.nats.url {
        Some(url) => (None, url.clone()),
        None => {
            let local = LocalNats::start(&common.data_dir.join("nats"), args.local_nats_port).await?;
            let url = local.url();
            (Some(local), url)
        }
    };
    let nats = crm_events::connect(&nats_url, "crm-up", &common.nats.security).await?;
    crm_events::check_server(&nats, &nats_url, Duration::from_secs(10)).await?;
    let database_urls = args
        .databases
        .0
        .iter()
        .map(|(&service, configured)| {
            let url = if configured.is_empty() {
                format!(
                    "sqlite:{}",
                    common.data_dir.join(format!("{}.db", service.name())).display()
                )
            } else {
                configured.clone()
            };
            (service, url)
        })
        .collect();
    let config = SuiteConfig {
        host: args.host.clone(),
        port_base: Some(args.port_base.unwrap_or(DEFAULT_PORT_BASE)),
        ports_pinned: args.port_base.is_some(),
        database_urls,
        server: common.server.clone(),
        auth: common.auth.clone(),
        settings: args.settings,
        clock: Arc::new(SystemClock),
        streams: common.nats.streams.clone(),
    };
    let suite = Suite::start(config, nats).await?;
    let mut claims = Claims::new("dev-admin", &[Role::Admin], Duration::from_secs(12 * 3600));
    claims.team = Some("dev".into());
    let token = common.auth.signer().sign(&claims)?;
    println!(
        "crm suite is up (NATS {nats_url}, data in {})",
        common.data_dir.display()
    );
    for (service, addr) in suite.endpoints() {
        println!("  {:<12} grpc://{addr}", service.name());
    }
    let gateway = suite.addr(Service::Gateway);
    if crm_gateway::console::built() {
        println!("  {:<12} http://{gateway}/", "console");
    } else {
        println!(
            "  {:<12} not built into this binary: scripts/run builds it when Node.js is present",
            "console"
        );
    }
    println!("development admin token (12h):\n{token}");
    println!("press Ctrl-C to stop");
    suite.run_until(stop).await
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((left, right)) if left.contains("://") && left.matches(':').count() > 1 => {
            let scheme_end = left.find("://").map_or(0, |i| i + 3);
            let user = left[scheme_end..].split(':').next().unwrap_or("");
            format!("{}{user}:***@{right}", &left[..scheme_end])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn only_loopback_addresses_count_as_this_machine_alone() {
        for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"] {
            assert!(super::is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "10.0.0.5", "crm.example.com"] {
            assert!(!super::is_loopback(host), "{host}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    fn flags(path: &[&str]) -> Vec<String> {
        let mut command = super::Cli::command();
        command.build();
        let mut at = &command;
        for name in path {
            at = at.find_subcommand(name).unwrap();
        }
        at.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect()
    }

    #[test]
    fn each_service_lists_only_its_own_settings_besides_the_common_ones() {
        let marketing = flags(&["serve", "marketing"]);
        for common in [
            "listen",
            "database-url",
            "nats-url",
            "jwt-secret",
            "request-timeout",
        ] {
            assert!(marketing.iter().any(|f| f == common), "{common} in {marketing:?}");
        }
        assert!(marketing.iter().any(|f| f == "reporting-currency"));
        for other in [
            "escalation-chain",
            "sales-url",
            "alert-interval",
            "lost-after",
            "rate-limit",
        ] {
            assert!(!marketing.iter().any(|f| f == other), "{other} in {marketing:?}");
        }
        let gateway = flags(&["serve", "gateway"]);
        assert!(gateway.iter().any(|f| f == "sales-url"));
        assert!(
            !gateway
                .iter()
                .any(|f| f == "database-url" || f == "business-hours")
        );
        let desk = flags(&["serve", "servicedesk"]);
        assert!(desk.iter().any(|f| f == "business-hours"));
        assert!(
            !desk
                .iter()
                .any(|f| f == "reporting-currency" || f == "customers-url")
        );
    }

    #[test]
    fn the_suite_reads_a_setting_several_services_share_once() {
        let up = flags(&["up"]);
        assert_eq!(up.iter().filter(|f| *f == "reporting-currency").count(), 1);
        // Where the services listen is the suite's own business.
        assert!(!up.iter().any(|f| f == "customers-url" || f == "sales-url"));
        assert!(up.iter().any(|f| f == "escalation-chain"));
        let cli = <super::Cli as clap::Parser>::parse_from(["crm", "up", "--reporting-currency", "eur"]);
        let super::Command::Up(args) = cli.command else {
            panic!("not up")
        };
        assert_eq!(args.settings.customers.reporting_currency, "EUR");
        assert_eq!(args.settings.marketing.reporting_currency, "EUR");
        let cli = <super::Cli as clap::Parser>::parse_from([
            "crm",
            "up",
            "--sales-database-url",
            "postgres://db/sales",
        ]);
        let super::Command::Up(args) = cli.command else {
            panic!("not up")
        };
        assert_eq!(args.databases.0[&super::Service::Sales], "postgres://db/sales");
        assert_eq!(args.databases.0[&super::Service::Customers], "");
    }
}
