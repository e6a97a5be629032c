//! Command line: every flag also reads an environment variable and has a default that works on
//! one machine.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use crm_auth::{AuthConfig, Claims, Role};
use crm_events::NatsConfig;
use crm_platform::config::parse_duration;
use crm_platform::{ServerConfig, TelemetryConfig};
use crm_storage::DatabaseConfig;
use tokio_util::sync::CancellationToken;

use crate::local_nats::LocalNats;
use crate::services::{self, Service};

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
    Up(UpArgs),
    /// Runs one service.
    Serve(ServeArgs),
    /// Applies database migrations and exits.
    Migrate(MigrateArgs),
    /// Prints a development token signed with the configured HS256 secret.
    Token(TokenArgs),
}

/// Settings every service shares.
#[derive(Debug, Args)]
struct Common {
    /// Directory for SQLite files and the local nats-server's store.
    #[arg(long, env = "CRM_DATA_DIR", default_value = ".crm")]
    data_dir: PathBuf,
    #[command(flatten)]
    nats: NatsConfig,
    #[command(flatten)]
    auth: AuthConfig,
    #[command(flatten)]
    server: ServerConfig,
    #[command(flatten)]
    domain: services::DomainSettings,
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    common: Common,
    /// Interface the services listen on.
    #[arg(long, env = "CRM_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port of the first service; the others follow (customers = base).
    #[arg(long, env = "CRM_PORT_BASE", default_value_t = 50051)]
    port_base: u16,
    /// Port of the nats-server `crm up` starts when no --nats-url is given.
    #[arg(long, env = "CRM_LOCAL_NATS_PORT", default_value_t = 4222)]
    local_nats_port: u16,
    /// Database of the customers service (default: a SQLite file in the data directory).
    #[arg(long, env = "CRM_CUSTOMERS_DATABASE_URL", default_value = "")]
    customers_database_url: String,
    /// Database of the sales service (default: a SQLite file in the data directory).
    #[arg(long, env = "CRM_SALES_DATABASE_URL", default_value = "")]
    sales_database_url: String,
    /// Database of the partners service (default: a SQLite file in the data directory).
    #[arg(long, env = "CRM_PARTNERS_DATABASE_URL", default_value = "")]
    partners_database_url: String,
    /// Database of the marketing service (default: a SQLite file in the data directory).
    #[arg(long, env = "CRM_MARKETING_DATABASE_URL", default_value = "")]
    marketing_database_url: String,
    /// Database of the service desk (default: a SQLite file in the data directory).
    #[arg(long, env = "CRM_SERVICEDESK_DATABASE_URL", default_value = "")]
    servicedesk_database_url: String,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The service to run.
    service: Service,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    database: DatabaseConfig,
    /// Address to listen on.
    #[arg(long, env = "CRM_LISTEN", default_value = "0.0.0.0:50051")]
    listen: String,
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// The service whose database to migrate (all when omitted, with their default databases).
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
                .unwrap_or_else(|| Service::ALL.to_vec());
            for service in targets {
                let url = args.database.url_or_default(&args.data_dir, service.name());
                services::migrate(service, &url).await?;
                println!("migrated {} ({})", service.name(), redact(&url));
            }
            Ok(())
        }
        Command::Serve(args) => {
            let _telemetry =
                crm_platform::telemetry::init(&cli.telemetry, &format!("crm-{}", args.service.name()))?;
            let stop = crm_platform::shutdown::signal_token();
            let nats_url = args
                .common
                .nats
                .url
                .clone()
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
            let nats = crm_events::connect(&nats_url, &format!("crm-{}", args.service.name())).await?;
            let url = args
                .database
                .url_or_default(&args.common.data_dir, args.service.name());
            let settings = services::ServiceSettings {
                listen: args.listen,
                database_url: url,
                database_max_connections: args.database.max_connections,
                server: args.common.server.clone(),
                auth: args.common.auth.clone(),
                domain: args.common.domain.clone(),
            };
            let running = services::build(args.service, settings, nats).await?;
            tracing::info!(service = args.service.name(), addr = %running.addr, "started");
            running.run(stop).await
        }
        Command::Up(args) => up(args, &cli.telemetry).await,
    }
}

async fn up(args: UpArgs, telemetry: &TelemetryConfig) -> anyhow::Result<()> {
    let _telemetry = crm_platform::telemetry::init(telemetry, "crm")?;
    let stop = crm_platform::shutdown::signal_token();
    let common = args.common;
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
    let nats = crm_events::connect(&nats_url, "crm-up").await?;
    let mut running = Vec::new();
    for (i, service) in Service::ALL.iter().enumerate() {
        let configured = match service {
            Service::Customers => &args.customers_database_url,
            Service::Sales => &args.sales_database_url,
            Service::Partners => &args.partners_database_url,
            Service::Marketing => &args.marketing_database_url,
            Service::Servicedesk => &args.servicedesk_database_url,
        };
        let database_url = if configured.is_empty() {
            format!(
                "sqlite:{}",
                common.data_dir.join(format!("{}.db", service.name())).display()
            )
        } else {
            configured.clone()
        };
        // Services find each other on the suite's own ports.
        let mut domain = common.domain.clone();
        domain.customers_url = format!("http://{}:{}", args.host, args.port_base);
        let settings = services::ServiceSettings {
            listen: format!("{}:{}", args.host, args.port_base + i as u16),
            database_url,
            database_max_connections: 10,
            server: common.server.clone(),
            auth: common.auth.clone(),
            domain,
        };
        running.push((*service, services::build(*service, settings, nats.clone()).await?));
    }
    let mut claims = Claims::new("dev-admin", &[Role::Admin], Duration::from_secs(12 * 3600));
    claims.team = Some("dev".into());
    let token = common.auth.signer().sign(&claims)?;
    println!(
        "crm suite is up (NATS {nats_url}, data in {})",
        common.data_dir.display()
    );
    for (service, r) in &running {
        println!("  {:<12} grpc://{}", service.name(), r.addr);
    }
    println!("development admin token (12h):\n{token}");
    println!("press Ctrl-C to stop");
    let mut tasks = tokio::task::JoinSet::new();
    let suite_stop = CancellationToken::new();
    for (service, r) in running {
        let stop = suite_stop.clone();
        tasks.spawn(async move { (service, r.run(stop).await) });
    }
    let mut first_error = None;
    tokio::select! {
        () = stop.cancelled() => {}
        Some(Ok((service, result))) = tasks.join_next() => {
            // A service stopping on its own is a failure of the suite.
            first_error = Some(result.err().unwrap_or_else(|| anyhow::anyhow!("{} stopped", service.name())));
        }
    }
    suite_stop.cancel();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((service, Err(err))) = joined {
            tracing::error!(service = service.name(), error = ?err, "service failed");
            first_error.get_or_insert(err);
        }
    }
    first_error.map_or(Ok(()), Err)
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
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
