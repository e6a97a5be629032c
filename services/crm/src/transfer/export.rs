//! `crm export <entity>`: pages streamed from the export RPCs (the service applies the caller's
//! record rules and field redaction) written as CSV or JSON lines as they arrive.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use crm_platform::money::format_major_units;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::marketing::v1 as marketing;
use crm_proto::marketing::v1::campaign_service_client::CampaignServiceClient;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;

use super::client::{Connection, status_line};
use crm_transfer::Format;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportEntity {
    /// People and organizations the caller may read.
    Parties,
    /// Orders the caller may read.
    Orders,
    /// Opportunities the caller may read.
    Opportunities,
    /// Service cases (staff).
    Cases,
    /// The customers a segment selects now (`--segment-id`).
    SegmentMembers,
    /// A campaign's members (`--campaign-id`).
    CampaignMembers,
}

/// Arguments of `crm export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    entity: ExportEntity,
    #[command(flatten)]
    connection: Connection,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// Write here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The segment whose members to export.
    #[arg(long, required_if_eq("entity", "segment-members"))]
    segment_id: Option<String>,
    /// The campaign whose members to export.
    #[arg(long, required_if_eq("entity", "campaign-members"))]
    campaign_id: Option<String>,
}

const PARTY_COLUMNS: &[&str] = &[
    "id",
    "external_id",
    "kind",
    "given_name",
    "family_name",
    "organization_name",
    "email",
    "phone",
    "industry",
    "region_code",
    "birth_date",
    "created_at",
    "tags",
    "owner_id",
    "team_id",
    "lifecycle_stage",
    "tier",
    "lifetime_revenue",
    "currency",
];

const ORDER_COLUMNS: &[&str] = &[
    "id",
    "external_id",
    "party_id",
    "placed_at",
    "currency",
    "amount",
    "status",
    "status_at",
    "status_reason",
    "partner_id",
    "owner_id",
    "team_id",
];

const OPPORTUNITY_COLUMNS: &[&str] = &[
    "id",
    "name",
    "party_id",
    "stage_code",
    "status",
    "amount",
    "currency",
    "expected_close_date",
    "owner_id",
    "team_id",
    "territory_id",
    "lost_reason",
];

const CASE_COLUMNS: &[&str] = &[
    "id",
    "external_id",
    "party_id",
    "type",
    "channel",
    "category",
    "severity",
    "priority",
    "subject",
    "queue_id",
    "agent_id",
    "status",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "satisfaction",
];

const SEGMENT_MEMBER_COLUMNS: &[&str] = &["party_id", "external_id", "display_name", "region_code"];

const CAMPAIGN_MEMBER_COLUMNS: &[&str] = &["party_id", "cell", "test_group", "status", "contacted_at"];

fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn enum_name(name: Option<&str>, prefix: &str) -> String {
    name.map(|n| n.trim_start_matches(prefix).to_lowercase())
        .unwrap_or_default()
}

fn party_values(p: &customers::Party) -> Vec<String> {
    let contact = |kind: customers::ContactPointKind| {
        p.contact_points
            .iter()
            .find(|c| c.kind == kind as i32 && c.primary)
            .or_else(|| p.contact_points.iter().find(|c| c.kind == kind as i32))
            .map(|c| c.value.clone())
            .unwrap_or_default()
    };
    let value = p.value.clone().unwrap_or_default();
    let lifetime = value.lifetime_revenue.unwrap_or_default();
    vec![
        p.id.clone(),
        p.external_id.clone(),
        enum_name(
            customers::PartyKind::try_from(p.kind)
                .ok()
                .map(|k| k.as_str_name()),
            "PARTY_KIND_",
        ),
        p.given_name.clone(),
        p.family_name.clone(),
        p.organization_name.clone(),
        contact(customers::ContactPointKind::Email),
        contact(customers::ContactPointKind::Phone),
        p.industry.clone(),
        p.region_code.clone(),
        p.birth_date.clone(),
        time(p.create_time.as_ref()),
        p.tags.join(";"),
        p.owner_id.clone(),
        p.team_id.clone(),
        enum_name(
            customers::LifecycleStage::try_from(p.lifecycle_stage)
                .ok()
                .map(|s| s.as_str_name()),
            "LIFECYCLE_STAGE_",
        ),
        value.tier,
        if lifetime.currency_code.is_empty() {
            String::new()
        } else {
            format_major_units(lifetime.amount_minor, &lifetime.currency_code)
        },
        lifetime.currency_code,
    ]
}

fn order_values(o: &sales::Order) -> Vec<String> {
    let total = o.total.clone().unwrap_or_default();
    vec![
        o.id.clone(),
        o.external_id.clone(),
        o.party_id.clone(),
        time(o.place_time.as_ref()),
        total.currency_code.clone(),
        format_major_units(total.amount_minor, &total.currency_code),
        enum_name(
            sales::OrderStatus::try_from(o.status)
                .ok()
                .map(|s| s.as_str_name()),
            "ORDER_STATUS_",
        ),
        time(o.status_time.as_ref()),
        o.status_reason.clone(),
        o.channel.clone().unwrap_or_default().partner_id,
        o.owner_id.clone(),
        o.team_id.clone(),
    ]
}

fn opportunity_values(o: &sales::Opportunity) -> Vec<String> {
    let amount = o.amount.clone().unwrap_or_default();
    vec![
        o.id.clone(),
        o.name.clone(),
        o.party_id.clone(),
        o.stage_code.clone(),
        enum_name(
            sales::OpportunityStatus::try_from(o.status)
                .ok()
                .map(|s| s.as_str_name()),
            "OPPORTUNITY_STATUS_",
        ),
        format_major_units(amount.amount_minor, &amount.currency_code),
        amount.currency_code,
        o.expected_close_date.clone(),
        o.owner_id.clone(),
        o.team_id.clone(),
        o.territory_id.clone(),
        o.lost_reason.clone(),
    ]
}

fn case_values(c: &servicedesk::Case) -> Vec<String> {
    vec![
        c.id.clone(),
        c.external_id.clone(),
        c.party_id.clone(),
        enum_name(
            servicedesk::CaseType::try_from(c.r#type)
                .ok()
                .map(|s| s.as_str_name()),
            "CASE_TYPE_",
        ),
        enum_name(
            servicedesk::CaseChannel::try_from(c.channel)
                .ok()
                .map(|s| s.as_str_name()),
            "CASE_CHANNEL_",
        ),
        c.category.clone(),
        c.severity.to_string(),
        c.priority.to_string(),
        c.subject.clone(),
        c.queue_id.clone(),
        c.agent_id.clone(),
        enum_name(
            servicedesk::CaseStatus::try_from(c.status)
                .ok()
                .map(|s| s.as_str_name()),
            "CASE_STATUS_",
        ),
        time(c.open_time.as_ref()),
        time(c.first_response_time.as_ref()),
        time(c.resolve_time.as_ref()),
        if c.satisfaction == 0 {
            String::new()
        } else {
            c.satisfaction.to_string()
        },
    ]
}

/// Writes rows as CSV (header first) or JSON lines.
struct Sink {
    format: Format,
    columns: &'static [&'static str],
    csv: Option<csv::Writer<Box<dyn Write>>>,
    raw: Option<Box<dyn Write>>,
    rows: u64,
}

impl Sink {
    fn new(format: Format, columns: &'static [&'static str], out: Box<dyn Write>) -> anyhow::Result<Self> {
        let (csv, raw) = match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(columns)?;
                (Some(w), None)
            }
            Format::Jsonl => (None, Some(out)),
        };
        Ok(Self {
            format,
            columns,
            csv,
            raw,
            rows: 0,
        })
    }

    fn write(&mut self, values: Vec<String>) -> anyhow::Result<()> {
        self.rows += 1;
        match (self.format, &mut self.csv, &mut self.raw) {
            (Format::Csv, Some(w), _) => w.write_record(&values)?,
            (_, _, Some(w)) => {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(values)
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(c, v)| (c.to_string(), serde_json::Value::String(v)))
                    .collect();
                serde_json::to_writer(&mut *w, &object)?;
                w.write_all(b"\n")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<u64> {
        if let Some(w) = self.csv.as_mut() {
            w.flush()?;
        }
        if let Some(w) = self.raw.as_mut() {
            w.flush()?;
        }
        Ok(self.rows)
    }
}

/// Writes every page of `stream` to `sink`, each page turned into rows by `rows`.
async fn write_pages<M>(
    stream: Result<tonic::Response<tonic::Streaming<M>>, tonic::Status>,
    mut sink: Sink,
    rows: impl Fn(M) -> Vec<Vec<String>>,
) -> anyhow::Result<u64> {
    let mut stream = stream.map_err(|s| status_line(&s))?.into_inner();
    while let Some(page) = stream.message().await.map_err(|s| status_line(&s))? {
        for row in rows(page) {
            sink.write(row)?;
        }
    }
    sink.finish()
}

/// Runs `crm export`.
pub async fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let channel = args.connection.connect().await?;
    let format = args.format;
    let rows = match args.entity {
        ExportEntity::Parties => {
            let stream = CustomersServiceClient::new(channel)
                .export_parties(customers::ExportPartiesRequest::default())
                .await;
            write_pages(stream, Sink::new(format, PARTY_COLUMNS, out)?, |page| {
                page.parties.iter().map(party_values).collect()
            })
            .await?
        }
        ExportEntity::Orders => {
            let stream = OrderServiceClient::new(channel)
                .export_orders(sales::ExportOrdersRequest::default())
                .await;
            write_pages(stream, Sink::new(format, ORDER_COLUMNS, out)?, |page| {
                page.orders.iter().map(order_values).collect()
            })
            .await?
        }
        ExportEntity::Opportunities => {
            let stream = PipelineServiceClient::new(channel)
                .export_opportunities(sales::ExportOpportunitiesRequest::default())
                .await;
            write_pages(stream, Sink::new(format, OPPORTUNITY_COLUMNS, out)?, |page| {
                page.opportunities.iter().map(opportunity_values).collect()
            })
            .await?
        }
        ExportEntity::Cases => {
            let stream = ServiceDeskServiceClient::new(channel)
                .export_cases(servicedesk::ExportCasesRequest::default())
                .await;
            write_pages(stream, Sink::new(format, CASE_COLUMNS, out)?, |page| {
                page.cases.iter().map(case_values).collect()
            })
            .await?
        }
        ExportEntity::SegmentMembers => {
            let stream = MarketingServiceClient::new(channel)
                .export_segment_members(marketing::ExportSegmentMembersRequest {
                    segment_id: args.segment_id.clone().unwrap_or_default(),
                })
                .await;
            write_pages(stream, Sink::new(format, SEGMENT_MEMBER_COLUMNS, out)?, |page| {
                page.members
                    .into_iter()
                    .map(|m| vec![m.party_id, m.external_id, m.display_name, m.region_code])
                    .collect()
            })
            .await?
        }
        ExportEntity::CampaignMembers => {
            let stream = CampaignServiceClient::new(channel)
                .export_campaign_members(marketing::ExportCampaignMembersRequest {
                    campaign_id: args.campaign_id.clone().unwrap_or_default(),
                })
                .await;
            write_pages(stream, Sink::new(format, CAMPAIGN_MEMBER_COLUMNS, out)?, |page| {
                page.members
                    .into_iter()
                    .map(|m| {
                        let contacted = time(m.contact_time.as_ref());
                        vec![m.party_id, m.cell, m.test_group.to_string(), m.status, contacted]
                    })
                    .collect()
            })
            .await?
        }
    };
    if args.output.is_some() {
        eprintln!("{rows} rows exported");
    }
    Ok(())
}
