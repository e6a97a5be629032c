//! `crm import <entity> FILE`: reads the file row by row in a blocking thread, sends batches over
//! the import stream while it reads, shows progress, and writes the refused rows with their
//! reasons to `<file>.rejected.csv`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Args;
use crm_proto::common::v1::ImportOptions;
use crm_transfer::records::{RawRows, raw_rows};
use crm_transfer::{Batches, Format, ImportEntity, Reader, Sent, reason_text};
use indicatif::{ProgressBar, ProgressStyle};

use super::client::{Connection, status_line};

/// Arguments of `crm import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds.
    #[arg(value_enum)]
    entity: ImportEntity,
    /// CSV with a header row, or JSON lines (by extension, or --format).
    file: PathBuf,
    #[command(flatten)]
    connection: Connection,
    /// The system the records come from; imports are idempotent per (source, external id).
    #[arg(long, env = "CRM_IMPORT_SOURCE", default_value = "import")]
    source: String,
    /// Check every row and report, storing nothing.
    #[arg(long)]
    dry_run: bool,
    /// The file's format (default: from its extension).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Reads a column under another name: `--map "Customer ID=external_id"` (repeatable).
    #[arg(long = "map", value_parser = parse_mapping)]
    map: Vec<(String, String)>,
    /// Rows per message.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch_size: u16,
}

fn parse_mapping(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| format!("expected COLUMN=FIELD, got {s:?}"))
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows that created a record.
    pub created: i64,
    /// Rows that changed one.
    pub updated: i64,
    /// Rows equal to what was stored.
    pub unchanged: i64,
    /// Rows refused (by the importer or the service).
    pub rejected: i64,
    /// Where the refused rows were written, when there were any.
    pub rejected_file: Option<PathBuf>,
}

/// Runs `crm import`; fails (non-zero exit) when any row was refused.
pub async fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    let outcome = import(&args).await?;
    let verb = if args.dry_run { "would be " } else { "" };
    println!(
        "{} rows {verb}created, {} {verb}updated, {} unchanged, {} rejected",
        outcome.created, outcome.updated, outcome.unchanged, outcome.rejected
    );
    if let Some(file) = outcome.rejected_file {
        anyhow::bail!("{} rows rejected: see {}", outcome.rejected, file.display());
    }
    Ok(())
}

/// Imports a file and returns the counts (the library entry point, used by tests).
pub async fn import(args: &ImportArgs) -> anyhow::Result<Outcome> {
    let format = args.format.unwrap_or_else(|| Format::of_path(&args.file));
    let mapping = args.map.iter().cloned().collect();
    let reader = Reader::open(&args.file, format, mapping)?;
    let progress = reader.progress();
    let batches = Batches {
        entity: args.entity,
        options: ImportOptions {
            source: args.source.clone(),
            validate_only: args.dry_run,
        },
        size: usize::from(args.batch_size),
    };
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let channel = args.connection.connect().await?;
    let rows_sent = Arc::new(AtomicU64::new(0));
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {bytes}/{total_bytes} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = {
        let bar = bar.clone();
        let rows_sent = rows_sent.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                let sent = rows_sent.load(Ordering::Relaxed);
                let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_position(progress.load(Ordering::Relaxed));
                bar.set_message(format!("{sent} rows, {rate:.0} rows/s"));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    let sent = crm_transfer::send(channel, reader, batches, rows_sent).await;
    ticker.abort();
    bar.finish_and_clear();
    let sent = sent.map_err(|s| status_line(&s))?;
    if !sent.ignored.is_empty() {
        eprintln!(
            "warning: ignored columns the {:?} importer does not know: {} (map them with --map COLUMN=FIELD)",
            args.entity,
            sent.ignored.join(", ")
        );
    }
    let rejected = sent.rejected();
    let mut outcome = Outcome {
        created: sent.summary.created,
        updated: sent.summary.updated,
        unchanged: sent.summary.unchanged,
        rejected,
        rejected_file: None,
    };
    if rejected > 0 {
        let path = rejected_path(&args.file);
        write_rejections(&args.file, format, args.entity, &sent, &path)?;
        outcome.rejected_file = Some(path);
    }
    Ok(outcome)
}

/// `people.csv` -> `people.rejected.csv` beside it.
fn rejected_path(file: &Path) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("import");
    file.with_file_name(format!("{stem}.rejected.csv"))
}

/// Writes the refused rows: the original columns plus `reason` ("column: why; ...").
fn write_rejections(
    file: &Path,
    format: Format,
    entity: ImportEntity,
    sent: &Sent,
    out: &Path,
) -> anyhow::Result<()> {
    let mut lines: BTreeSet<i64> = sent.local.iter().map(|r| r.line).collect();
    lines.extend(sent.summary.rejections.iter().map(|r| r.row));
    let RawRows { header, rows } = raw_rows(file, format, &lines)?;
    let reasons = sent.reasons(entity);
    let mut writer = csv::Writer::from_path(out)?;
    let mut head = vec!["line".to_string()];
    head.extend(header.iter().cloned());
    head.push("reason".into());
    writer.write_record(&head)?;
    for (line, problems) in reasons {
        let mut record = vec![line.to_string()];
        let values = rows.get(&line).cloned().unwrap_or_default();
        record.extend((0..header.len()).map(|i| values.get(i).cloned().unwrap_or_default()));
        record.push(reason_text(&problems));
        writer.write_record(&record)?;
    }
    writer.flush()?;
    Ok(())
}
