//! `crm import <entity> FILE`: reads the file row by row in a blocking thread, sends batches over
//! the import stream while it reads, shows progress, and writes the refused rows with their
//! reasons to `<file>.rejected.csv`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Args;
use crm_proto::common::v1::{ImportOptions, ImportSummary};
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::marketing::v1 as marketing;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::partners::v1 as partners;
use crm_proto::partners::v1::partner_service_client::PartnerServiceClient;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_stream::wrappers::ReceiverStream;

use super::client::{Connection, status_line};
use super::columns::{self, ImportEntity, Problem};
use super::records::{Format, RawRows, Reader, Record, raw_rows};

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

/// A row refused before it was sent (unreadable, or a value the importer cannot parse).
#[derive(Debug, Clone)]
struct LocalRejection {
    line: i64,
    problems: Vec<Problem>,
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
    let columns = reader.columns();
    let unknown: Vec<&String> = columns.iter().filter(|c| !args.entity.knows(c)).collect();
    if !unknown.is_empty() {
        eprintln!(
            "warning: ignoring columns the {:?} importer does not know: {} (map them with --map COLUMN=FIELD)",
            args.entity,
            unknown.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let options = ImportOptions {
        source: args.source.clone(),
        validate_only: args.dry_run,
    };
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let channel = args.connection.connect().await?;
    let batch = usize::from(args.batch_size);
    // One arm per entity: its client, row parser, request message and RPC.
    macro_rules! send {
        ($client:ident, $parse:ident, $module:ident :: $request:ident, $rpc:ident) => {{
            let mut client = $client::new(channel).max_encoding_message_size(64 << 20);
            let messages = Messages {
                parse: columns::$parse,
                make: |options, rows| $module::$request { options, rows },
            };
            stream_rows(
                reader,
                size,
                args.entity,
                options,
                batch,
                messages,
                |requests| async move {
                    client
                        .$rpc(requests)
                        .await
                        .map(|r| r.into_inner().summary.unwrap_or_default())
                },
            )
            .await?
        }};
    }
    let (summary, local) = match args.entity {
        ImportEntity::Parties => send!(
            CustomersServiceClient,
            party_row,
            customers::ImportPartiesRequest,
            import_parties
        ),
        ImportEntity::Relationships => send!(
            CustomersServiceClient,
            relationship_row,
            customers::ImportRelationshipsRequest,
            import_relationships
        ),
        ImportEntity::Partners => send!(
            PartnerServiceClient,
            partner_row,
            partners::ImportPartnersRequest,
            import_partners
        ),
        ImportEntity::Targets => send!(
            PartnerServiceClient,
            target_row,
            partners::ImportTargetsRequest,
            import_targets
        ),
        ImportEntity::Cases => send!(
            ServiceDeskServiceClient,
            case_row,
            servicedesk::ImportCasesRequest,
            import_cases
        ),
        ImportEntity::Articles => send!(
            ServiceDeskServiceClient,
            article_row,
            servicedesk::ImportArticlesRequest,
            import_articles
        ),
        ImportEntity::Consents => send!(
            MarketingServiceClient,
            consent_row,
            marketing::ImportConsentsRequest,
            import_consents
        ),
        ImportEntity::Products => send!(
            CatalogServiceClient,
            product_row,
            sales::ImportProductsRequest,
            import_products
        ),
        ImportEntity::Leads => send!(
            PipelineServiceClient,
            lead_row,
            sales::ImportLeadsRequest,
            import_leads
        ),
        ImportEntity::Opportunities => send!(
            PipelineServiceClient,
            opportunity_row,
            sales::ImportOpportunitiesRequest,
            import_opportunities
        ),
        ImportEntity::Activities => send!(
            PipelineServiceClient,
            activity_row,
            sales::ImportActivitiesRequest,
            import_activities
        ),
        ImportEntity::Orders => send!(
            OrderServiceClient,
            order_row,
            sales::ImportOrdersRequest,
            import_orders
        ),
    };
    // Every refused row once, with each of its reasons as "column: reason".
    let mut reasons: BTreeMap<i64, Vec<Problem>> = BTreeMap::new();
    for r in local {
        reasons.entry(r.line).or_default().extend(r.problems);
    }
    let server_rows: BTreeSet<i64> = summary.rejections.iter().map(|r| r.row).collect();
    let rejected = local_count(&reasons, &server_rows) + summary.rejected;
    let mut outcome = Outcome {
        created: summary.created,
        updated: summary.updated,
        unchanged: summary.unchanged,
        rejected,
        rejected_file: None,
    };
    if rejected > 0 {
        let path = rejected_path(&args.file);
        write_rejections(
            &args.file,
            format,
            &args.map,
            args.entity,
            &summary,
            reasons,
            &path,
        )?;
        outcome.rejected_file = Some(path);
    }
    Ok(outcome)
}

fn local_count(local: &BTreeMap<i64, Vec<Problem>>, server_rows: &BTreeSet<i64>) -> i64 {
    local.keys().filter(|l| !server_rows.contains(l)).count() as i64
}

/// `people.csv` -> `people.rejected.csv` beside it.
fn rejected_path(file: &Path) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("import");
    file.with_file_name(format!("{stem}.rejected.csv"))
}

/// How rows of one entity are read and sent: a row from a record, a message from rows (and the
/// options, in the first).
struct Messages<Row, Req> {
    parse: fn(&Record) -> Result<Row, Vec<Problem>>,
    make: fn(Option<ImportOptions>, Vec<Row>) -> Req,
}

/// Reads rows in a blocking thread and sends them in batches (the options with the first);
/// returns the service's summary and the rows refused before sending.
async fn stream_rows<Row, Req, Call, Fut>(
    mut reader: Reader,
    total_bytes: u64,
    entity: ImportEntity,
    options: ImportOptions,
    batch: usize,
    messages: Messages<Row, Req>,
    call: Call,
) -> anyhow::Result<(ImportSummary, Vec<LocalRejection>)>
where
    Row: Send + 'static,
    Req: Send + 'static,
    Call: FnOnce(ReceiverStream<Req>) -> Fut,
    Fut: Future<Output = Result<ImportSummary, tonic::Status>>,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Req>(4);
    let local = Arc::new(Mutex::new(Vec::new()));
    let progress = reader.progress();
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}] {bytes}/{total_bytes} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let rows_sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let check_fields = reader.columns().is_empty();
    let reading = {
        let local = local.clone();
        let rows_sent = rows_sent.clone();
        tokio::task::spawn_blocking(move || {
            let Messages { parse, make } = messages;
            let mut options = Some(options);
            let mut rows = Vec::with_capacity(batch);
            let mut warned: HashSet<String> = HashSet::new();
            while let Some(next) = reader.next_row() {
                match next {
                    Err(bad) => local.lock().expect("lock").push(LocalRejection {
                        line: bad.line,
                        problems: vec![(bad.column, bad.reason)],
                    }),
                    Ok(record) => {
                        // A CSV header was checked before the start; JSON lines name their fields
                        // row by row.
                        for column in record.fields.keys() {
                            if !check_fields {
                                break;
                            }
                            if !entity.knows(column) && warned.insert(column.clone()) {
                                eprintln!(
                                    "warning: ignoring unknown field {column:?} (line {})",
                                    record.line
                                );
                            }
                        }
                        match parse(&record) {
                            Ok(row) => rows.push(row),
                            Err(problems) => local.lock().expect("lock").push(LocalRejection {
                                line: record.line,
                                problems,
                            }),
                        }
                    }
                }
                if rows.len() >= batch {
                    rows_sent.fetch_add(rows.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let message = make(
                        options.take(),
                        std::mem::replace(&mut rows, Vec::with_capacity(batch)),
                    );
                    if tx.blocking_send(message).is_err() {
                        return;
                    }
                }
            }
            rows_sent.fetch_add(rows.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if !rows.is_empty() || options.is_some() {
                let _ = tx.blocking_send(make(options.take(), rows));
            }
        })
    };
    let ticker = {
        let bar = bar.clone();
        let rows_sent = rows_sent.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                let sent = rows_sent.load(std::sync::atomic::Ordering::Relaxed);
                let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_position(progress.load(std::sync::atomic::Ordering::Relaxed));
                bar.set_message(format!("{sent} rows, {rate:.0} rows/s"));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    let result = call(ReceiverStream::new(rx)).await;
    ticker.abort();
    bar.finish_and_clear();
    reading.await?;
    let summary = result.map_err(|s| status_line(&s))?;
    let local = std::mem::take(&mut *local.lock().expect("lock"));
    Ok((summary, local))
}

/// Writes the refused rows: the original columns plus `reason` ("column: why; ...").
fn write_rejections(
    file: &Path,
    format: Format,
    map: &[(String, String)],
    entity: ImportEntity,
    summary: &ImportSummary,
    mut reasons: BTreeMap<i64, Vec<Problem>>,
    out: &Path,
) -> anyhow::Result<()> {
    let mut lines: BTreeSet<i64> = reasons.keys().copied().collect();
    lines.extend(summary.rejections.iter().map(|r| r.row));
    let RawRows { header, rows } = raw_rows(file, format, &lines)?;
    let mapping: std::collections::HashMap<String, String> = map.iter().cloned().collect();
    for rejection in &summary.rejections {
        let record = rows.get(&rejection.row).map(|values| Record {
            line: rejection.row,
            fields: header
                .iter()
                .map(|h| mapping.get(h).cloned().unwrap_or_else(|| h.clone()))
                .zip(values.iter().cloned())
                .filter(|(_, v)| !v.trim().is_empty())
                .collect(),
        });
        let column = columns::column_of(entity, &rejection.field, record.as_ref());
        reasons
            .entry(rejection.row)
            .or_default()
            .push((column, rejection.reason.clone()));
    }
    let mut writer = csv::Writer::from_path(out)?;
    let mut head = vec!["line".to_string()];
    head.extend(header.iter().cloned());
    head.push("reason".into());
    writer.write_record(&head)?;
    for (line, problems) in reasons {
        let mut record = vec![line.to_string()];
        let values = rows.get(&line).cloned().unwrap_or_default();
        record.extend((0..header.len()).map(|i| values.get(i).cloned().unwrap_or_default()));
        record.push(
            problems
                .iter()
                .map(|(c, r)| {
                    if c.is_empty() {
                        r.clone()
                    } else {
                        format!("{c}: {r}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        );
        writer.write_record(&record)?;
    }
    writer.flush()?;
    Ok(())
}
