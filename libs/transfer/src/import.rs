//! Sending rows to a service's import stream: read in a blocking thread, parsed into the
//! entity's rows, sent in batches (the options with the first) while reading goes on, so memory
//! stays flat for any size of input. Rows the reader or the parser refuses never leave; the
//! service's summary names the rest it refused.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::columns::{self, ImportEntity, Problem};
use crate::records::{Reader, Record};

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Debug, Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Bearer {
    /// The caller's token; None when it cannot be a header value.
    pub fn new(token: &str) -> Option<Self> {
        format!("Bearer {}", token.trim()).parse().ok().map(Self)
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel calling as one caller: the service decides what the caller may import.
pub type Authed = InterceptedService<Channel, Bearer>;

/// What one import is: its entity, the options sent with the first batch, and rows per batch.
#[derive(Debug, Clone)]
pub struct Batches {
    /// What the rows are.
    pub entity: ImportEntity,
    /// The source system and whether to store nothing.
    pub options: ImportOptions,
    /// Rows per message (the services accept up to 1,000).
    pub size: usize,
}

/// A row refused before it was sent (unreadable, or a value the importer cannot parse).
#[derive(Debug, Clone)]
pub struct LocalRejection {
    /// Its line.
    pub line: i64,
    /// Each column at fault and why.
    pub problems: Vec<Problem>,
}

/// What an import sent and what came back.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// The service's counts and the rows it refused.
    pub summary: ImportSummary,
    /// Rows refused before sending.
    pub local: Vec<LocalRejection>,
    /// Columns (or JSON fields) the importer does not know, left out, in the order met.
    pub ignored: Vec<String>,
    /// What a refused contact point's column is read from.
    pub layouts: Layouts,
}

/// The contact layout of each party row sent whose contact points are not its contact columns
/// in order: a byte per line up to the last such row (0: in order), where a map of a million
/// phone-only rows would hold some thirty times as much.
#[derive(Debug, Clone, Default)]
pub struct Layouts(Vec<u8>);

impl Layouts {
    fn record(&mut self, line: i64, layout: u8) {
        let Ok(at) = usize::try_from(line) else { return };
        if self.0.len() <= at {
            self.0.resize(at + 1, 0);
        }
        self.0[at] = layout;
    }

    /// The layout of the row on `line`; None when its contact points are its columns in order.
    pub fn of(&self, line: i64) -> Option<u8> {
        usize::try_from(line)
            .ok()
            .and_then(|at| self.0.get(at).copied())
            .filter(|layout| *layout != 0)
    }
}

impl Sent {
    /// Rows refused, each once, by the importer or the service.
    pub fn rejected(&self) -> i64 {
        let server: BTreeSet<i64> = self.summary.rejections.iter().map(|r| r.row).collect();
        let local: BTreeSet<i64> = self.local.iter().map(|r| r.line).collect();
        local.difference(&server).count() as i64 + self.summary.rejected
    }

    /// Every refused row's reasons by line, each as (column, why).
    pub fn reasons(&self, entity: ImportEntity) -> BTreeMap<i64, Vec<Problem>> {
        let mut reasons: BTreeMap<i64, Vec<Problem>> = BTreeMap::new();
        for r in &self.local {
            reasons
                .entry(r.line)
                .or_default()
                .extend(r.problems.iter().cloned());
        }
        for rejection in &self.summary.rejections {
            let layout = self.layouts.of(rejection.row);
            let column = columns::column_of(entity, &rejection.field, layout);
            reasons
                .entry(rejection.row)
                .or_default()
                .push((column, rejection.reason.clone()));
        }
        reasons
    }
}

/// A row's reasons as one text: "column: why; ...".
pub fn reason_text(problems: &[Problem]) -> String {
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
        .join("; ")
}

/// Sends every row of `reader` to the import RPC of `batches.entity` over `channel`, counting
/// the rows sent in `rows_sent` as it goes. Fails with the service's status when the import
/// as a whole is refused (a caller without the right, an unreachable service).
pub async fn send(
    channel: Authed,
    reader: Reader,
    batches: Batches,
    rows_sent: Arc<AtomicU64>,
) -> Result<Sent, tonic::Status> {
    // One arm per entity: its client, row parser, request message and RPC.
    macro_rules! send {
        ($client:ident, $parse:ident, $module:ident :: $request:ident, $rpc:ident) => {{
            let mut client = $client::new(channel).max_encoding_message_size(64 << 20);
            let messages = Messages {
                parse: columns::$parse,
                make: |options, rows| $module::$request { options, rows },
            };
            stream_rows(reader, batches, messages, rows_sent, |requests| async move {
                client
                    .$rpc(requests)
                    .await
                    .map(|r| r.into_inner().summary.unwrap_or_default())
            })
            .await
        }};
    }
    match batches.entity {
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
    }
}

/// How rows of one entity are read and sent: a row from a record, a message from rows (and the
/// options, in the first).
struct Messages<Row, Req> {
    parse: fn(&Record) -> Result<Row, Vec<Problem>>,
    make: fn(Option<ImportOptions>, Vec<Row>) -> Req,
}

/// What the reading thread found besides the rows it sent.
#[derive(Default)]
struct Found {
    local: Vec<LocalRejection>,
    ignored: Vec<String>,
    layouts: Layouts,
}

/// Reads rows in a blocking thread and sends them in batches while `call` streams them.
async fn stream_rows<Row, Req, Call, Fut>(
    mut reader: Reader,
    batches: Batches,
    messages: Messages<Row, Req>,
    rows_sent: Arc<AtomicU64>,
    call: Call,
) -> Result<Sent, tonic::Status>
where
    Row: Send + 'static,
    Req: Send + 'static,
    Call: FnOnce(ReceiverStream<Req>) -> Fut,
    Fut: Future<Output = Result<ImportSummary, tonic::Status>>,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Req>(4);
    let Batches {
        entity,
        options,
        size,
    } = batches;
    let size = size.clamp(1, 1000);
    // A CSV header names its columns once; JSON lines name their fields row by row.
    let header = reader.columns();
    let found = Arc::new(Mutex::new(Found {
        ignored: header.iter().filter(|c| !entity.knows(c)).cloned().collect(),
        ..Found::default()
    }));
    let check_fields = header.is_empty();
    let reading = {
        let found = found.clone();
        tokio::task::spawn_blocking(move || {
            let Messages { parse, make } = messages;
            let mut options = Some(options);
            let mut rows = Vec::with_capacity(size);
            let refuse = |line, problems| {
                found
                    .lock()
                    .expect("lock")
                    .local
                    .push(LocalRejection { line, problems })
            };
            while let Some(next) = reader.next_row() {
                match next {
                    Err(bad) => refuse(bad.line, vec![(bad.column, bad.reason)]),
                    Ok(record) => {
                        if check_fields {
                            let mut found = found.lock().expect("lock");
                            for column in record.fields.keys() {
                                if !entity.knows(column) && !found.ignored.contains(column) {
                                    found.ignored.push(column.clone());
                                }
                            }
                        }
                        match parse(&record) {
                            Ok(row) => {
                                rows.push(row);
                                if entity == ImportEntity::Parties {
                                    let layout = columns::contact_layout(&record);
                                    if !columns::in_order(layout) {
                                        found.lock().expect("lock").layouts.record(record.line, layout);
                                    }
                                }
                            }
                            Err(problems) => refuse(record.line, problems),
                        }
                    }
                }
                if rows.len() >= size {
                    rows_sent.fetch_add(rows.len() as u64, Ordering::Relaxed);
                    let message = make(
                        options.take(),
                        std::mem::replace(&mut rows, Vec::with_capacity(size)),
                    );
                    if tx.blocking_send(message).is_err() {
                        return;
                    }
                }
            }
            rows_sent.fetch_add(rows.len() as u64, Ordering::Relaxed);
            if !rows.is_empty() || options.is_some() {
                let _ = tx.blocking_send(make(options.take(), rows));
            }
        })
    };
    let result = call(ReceiverStream::new(rx)).await;
    reading
        .await
        .map_err(|e| tonic::Status::internal(format!("reading the rows failed: {e}")))?;
    let summary = result?;
    let Found {
        local,
        ignored,
        layouts,
    } = std::mem::take(&mut *found.lock().expect("lock"));
    Ok(Sent {
        summary,
        local,
        ignored,
        layouts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rows_out_of_column_order_keep_a_layout() {
        let mut layouts = Layouts::default();
        // A phone-only row on line 5: its first contact point is the phone.
        layouts.record(5, 0b010);
        assert_eq!(layouts.of(5), Some(0b010));
        assert_eq!((layouts.of(4), layouts.of(6), layouts.of(-1)), (None, None, None));
        let sent = Sent {
            summary: ImportSummary {
                rejected: 2,
                rejections: vec![
                    crm_proto::common::v1::ImportRejection {
                        row: 5,
                        field: "contact_points[0].value".into(),
                        reason: "not a phone number".into(),
                        ..Default::default()
                    },
                    crm_proto::common::v1::ImportRejection {
                        row: 7,
                        field: "contact_points[0].value".into(),
                        reason: "not an email address".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            layouts,
            ..Sent::default()
        };
        let reasons = sent.reasons(ImportEntity::Parties);
        assert_eq!(reasons[&5][0].0, "phone");
        assert_eq!(reasons[&7][0].0, "email");
    }
}
