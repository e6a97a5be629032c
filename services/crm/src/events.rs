//! `crm events`: what an operator runs to put the flow of events right after a restore (see
//! `docs/restore.md`): the streams' configuration backed up and restored, a service's consumers
//! rewound to the point its database was restored to, and an outbox published again after the
//! streams lost their messages.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use crm_events::recovery;
use crm_storage::DatabaseConfig;

use crate::services::Service;

/// `crm events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    nats: crate::operator::OperatorNats,
    #[command(subcommand)]
    command: EventsCommand,
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Writes every stream's configuration and every durable consumer's position as JSON.
    Backup {
        /// The file to write (standard output when omitted).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Creates the streams and consumers of a backup that are missing and brings the streams
    /// that exist back to its configuration. A consumer on a stream that kept its messages
    /// starts after what it had acknowledged; on a stream made anew, from its beginning.
    Restore {
        /// A file `crm events backup` wrote.
        file: PathBuf,
    },
    /// Makes the consumers of a service deliver again every event published since a point in
    /// time: run it, with the service stopped, after its database was restored to that point.
    /// Events the database had applied are recognised and skipped.
    Rewind {
        /// The service whose consumers to rewind.
        service: Service,
        /// The point the database was restored to (RFC 3339, e.g. 2026-12-01T09:30:00Z); an
        /// earlier point only redelivers more.
        #[arg(long, value_parser = parse_time)]
        since: DateTime<Utc>,
        /// Only this consumer (e.g. `sales-customer-events`).
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Hands a service's outbox rows written since a point in time back to its relay, which
    /// publishes them again: run it after the streams lost their messages. Consumers skip the
    /// events they had applied. Outbox rows are kept seven days after they are sent.
    Republish {
        /// The service whose outbox to publish again.
        service: Service,
        /// From when (RFC 3339): the last backup of the streams, or when they were lost.
        #[arg(long, value_parser = parse_time)]
        since: DateTime<Utc>,
        /// Directory of the SQLite files when no `--database-url` is given.
        #[arg(long, env = "CRM_DATA_DIR", default_value = ".crm")]
        data_dir: PathBuf,
        #[command(flatten)]
        database: DatabaseConfig,
    },
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: an RFC 3339 time such as 2026-12-01T09:30:00Z"))
}

/// Runs `crm events`.
pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let EventsArgs { nats, command } = args;
    let js = || nats.jetstream("crm-events");
    match command {
        EventsCommand::Backup { out } => backup(&js().await?, out).await,
        EventsCommand::Restore { file } => restore(&js().await?, &file).await,
        EventsCommand::Rewind {
            service,
            since,
            consumer,
        } => rewind(&js().await?, service, since, consumer).await,
        EventsCommand::Republish {
            service,
            since,
            data_dir,
            database,
        } => republish(service, since, &data_dir, &database).await,
    }
}

async fn backup(js: &async_nats::jetstream::Context, out: Option<PathBuf>) -> anyhow::Result<()> {
    let backup = recovery::backup(js).await?;
    let json = serde_json::to_string_pretty(&backup)?;
    match out {
        Some(path) => {
            std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} streams, {} consumers written to {}",
                backup.streams.len(),
                backup.streams.values().map(|s| s.consumers.len()).sum::<usize>(),
                path.display()
            );
        }
        None => println!("{json}"),
    }
    Ok(())
}

async fn restore(js: &async_nats::jetstream::Context, file: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let backup: recovery::StreamsBackup = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a backup of the streams", file.display()))?;
    let restored = recovery::restore(js, &backup).await?;
    for name in &restored.streams_created {
        println!("created stream {name}");
    }
    for name in &restored.streams_updated {
        println!("restored the configuration of stream {name}");
    }
    for (name, start) in &restored.consumers_created {
        println!("created consumer {name} from stream sequence {start}");
    }
    if restored == recovery::Restored::default() {
        println!("nothing to restore: every stream and consumer is as backed up");
    }
    Ok(())
}

async fn rewind(
    js: &async_nats::jetstream::Context,
    service: Service,
    since: DateTime<Utc>,
    consumer: Option<String>,
) -> anyhow::Result<()> {
    let readings: Vec<_> = service
        .reads()
        .iter()
        .filter(|r| consumer.as_deref().is_none_or(|c| c == r.durable))
        .collect();
    anyhow::ensure!(
        !readings.is_empty(),
        "{} reads with no consumer {}",
        service.name(),
        consumer.as_deref().unwrap_or("")
    );
    for reading in readings {
        let stream = crm_events::StreamSpec::new(reading.domain).name();
        let pending = recovery::rewind(js, &stream, reading.durable, since).await?;
        println!(
            "rewound {} on {stream} to {}: {pending} events to deliver",
            reading.durable,
            since.to_rfc3339()
        );
    }
    Ok(())
}

async fn republish(
    service: Service,
    since: DateTime<Utc>,
    data_dir: &std::path::Path,
    database: &DatabaseConfig,
) -> anyhow::Result<()> {
    anyhow::ensure!(service != Service::Gateway, "the gateway has no outbox");
    let url = database.url_or_default(data_dir, service.name());
    // Only a database at this binary's schema: a restored one may be older.
    crate::services::prepare(service, &url, crm_storage::Migrating::Verify).await?;
    let db = crm_storage::Db::connect(&url, 2).await?;
    let handed_back = recovery::republish(&db, since).await;
    db.close().await;
    println!(
        "{} outbox rows of {} will be published again by its relay",
        handed_back?,
        service.name()
    );
    Ok(())
}
