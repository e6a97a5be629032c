//! The authorization matrix: what each role may call, kept as data in `access.txt` (one line per
//! RPC of the suite, one column per role and one for no token), checked against every RPC
//! directly on the service that serves it and through the gateway. An RPC missing from the
//! file, or one the file names that no service serves, fails the test.
//!
//! Each call carries an empty request: `Y` means it reached the handler (whatever the handler
//! then made of the empty request), `-` that it was refused with PERMISSION_DENIED, or
//! UNAUTHENTICATED without a token. Record ownership (own, team, other team, own partner,
//! another partner, own customer record, another customer's) is the `records` section: the same
//! RPC on fixture records, as principals of each relation to them.
//!
//! `CRM_ACCESS_WRITE=<file>` writes what was observed instead of checking it, for review.

use std::collections::BTreeMap;
use std::time::Duration;

use crm::services::Service;
use crm_auth::{Claims, Role};
use crm_testkit::Backend;
use prost::Message as _;
use prost_types::FileDescriptorSet;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::{self, Raw};

/// The reviewed table.
const TABLE: &str = include_str!("access.txt");

/// The table's columns: each principal's name and its claims (none: no token).
fn principals() -> Vec<(&'static str, Option<Claims>)> {
    let claims = |user: &str, roles: &[Role]| Claims::new(user, roles, Duration::from_secs(3600));
    vec![
        ("admin", Some(claims("admin-1", &[Role::Admin]))),
        (
            "sales_manager",
            Some(Claims {
                team: Some("team-a".into()),
                ..claims("manager-a", &[Role::SalesManager])
            }),
        ),
        (
            "sales_rep",
            Some(Claims {
                team: Some("team-a".into()),
                territories: vec!["EMEA".into()],
                ..claims("rep-a1", &[Role::SalesRep])
            }),
        ),
        ("service_agent", Some(claims("agent-1", &[Role::ServiceAgent]))),
        (
            "service_manager",
            Some(claims("desk-manager", &[Role::ServiceManager])),
        ),
        ("marketer", Some(claims("marketer-1", &[Role::Marketer]))),
        (
            "channel_manager",
            Some(claims("channel-1", &[Role::ChannelManager])),
        ),
        (
            "partner_user",
            Some(Claims {
                partner_id: Some(uuid::Uuid::now_v7().to_string()),
                ..claims("partner-user-1", &[Role::PartnerUser])
            }),
        ),
        (
            "customer",
            Some(Claims {
                customer_id: Some(uuid::Uuid::now_v7().to_string()),
                ..claims("customer-1", &[Role::Customer])
            }),
        ),
        ("auditor", Some(claims("auditor-1", &[Role::Auditor]))),
        ("data_steward", Some(claims("steward-1", &[Role::DataSteward]))),
        ("service", Some(claims("svc-sales", &[Role::Service]))),
        ("none", None),
    ]
}

/// How an RPC is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Unary,
    ClientStream,
    ServerStream,
}

/// Every RPC of the suite's protos: its path and shape.
fn rpcs() -> Vec<(String, Shape)> {
    let set = FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut out = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for m in &service.method {
                let shape = match (m.client_streaming(), m.server_streaming()) {
                    (false, false) => Shape::Unary,
                    (true, false) => Shape::ClientStream,
                    (false, true) => Shape::ServerStream,
                    (true, true) => panic!("{}: bidirectional streams are not expected", m.name()),
                };
                out.push((
                    format!("{}.{}/{}", file.package(), service.name(), m.name()),
                    shape,
                ));
            }
        }
    }
    out
}

/// Whether a call with an empty request reached the handler (`true`) or was refused.
async fn reaches(channel: &Channel, rpc: &str, shape: Shape, token: Option<&str>) -> bool {
    let path = format!("/{rpc}");
    let outcome = match shape {
        Shape::Unary => match token {
            Some(token) => support::call(channel, &path, Vec::new(), token).await.map(drop),
            None => call_anonymous(channel, &path).await,
        },
        Shape::ClientStream | Shape::ServerStream => stream_call(channel, &path, shape, token).await,
    };
    match outcome {
        Ok(()) => true,
        Err(status) => !matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated),
    }
}

async fn call_anonymous(channel: &Channel, path: &str) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(Vec::<u8>::new());
    request.set_timeout(Duration::from_secs(60));
    let path = http::uri::PathAndQuery::try_from(path).expect("a method path");
    grpc.unary(request, path, Raw).await.map(drop)
}

async fn stream_call(
    channel: &Channel,
    path: &str,
    shape: Shape,
    token: Option<&str>,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::try_from(path).expect("a method path");
    fn with_token<T>(mut request: tonic::Request<T>, token: Option<&str>) -> tonic::Request<T> {
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request.set_timeout(Duration::from_secs(60));
        request
    }
    match shape {
        Shape::ClientStream => {
            let request = with_token(tonic::Request::new(futures::stream::empty::<Vec<u8>>()), token);
            grpc.client_streaming(request, path, Raw).await.map(drop)
        }
        _ => {
            let request = with_token(tonic::Request::new(Vec::<u8>::new()), token);
            let mut stream = grpc.server_streaming(request, path, Raw).await?.into_inner();
            // A refusal may also come as the stream's first item.
            stream.message().await.map(drop)
        }
    }
}

/// The table as written: rpc -> role -> allowed.
fn expected(columns: &[&str]) -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut table = BTreeMap::new();
    for line in TABLE.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            if line.starts_with("[records]") {
                break;
            }
            continue;
        }
        let mut fields = line.split_whitespace();
        let rpc = fields.next().unwrap().to_string();
        let marks: Vec<&str> = fields.collect();
        assert_eq!(
            marks.len(),
            columns.len(),
            "{rpc}: one mark per column ({columns:?})"
        );
        let row = columns
            .iter()
            .zip(marks)
            .map(|(c, m)| {
                assert!(m == "Y" || m == "-", "{rpc}: {m:?} is neither Y nor -");
                (c.to_string(), m == "Y")
            })
            .collect();
        assert!(table.insert(rpc.clone(), row).is_none(), "{rpc} is listed twice");
    }
    table
}

/// The channels serving `rpc` directly: its service's, and for the call records every service's.
fn direct(suite: &crate::support::TestSuite, rpc: &str) -> Vec<Channel> {
    let package = rpc.split('.').nth(1).unwrap_or_default();
    let on = |s: Service| crm_testkit::channel(suite.suite.addr(s));
    match package {
        "audit" => Service::DOMAINS
            .into_iter()
            .map(on)
            .chain([suite.gateway()])
            .collect(),
        "gateway" => vec![suite.gateway()],
        domain => Service::DOMAINS
            .into_iter()
            .filter(|s| s.name() == domain)
            .map(on)
            .collect(),
    }
}

async fn every_role_reaches_exactly_the_rpcs_the_table_grants(backend: Backend) {
    let suite = support::start(backend, support::gateway_settings()).await;
    let principals = principals();
    let columns: Vec<&str> = principals.iter().map(|(name, _)| *name).collect();
    let tokens: Vec<Option<String>> = principals
        .iter()
        .map(|(_, claims)| claims.clone().map(crm_testkit::token_with))
        .collect();
    let mut observed: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    let mut disagreements = Vec::new();
    for (rpc, shape) in rpcs() {
        let mut row = BTreeMap::new();
        for (column, token) in columns.iter().zip(&tokens) {
            let mut outcomes = Vec::new();
            for channel in direct(&suite, &rpc) {
                outcomes.push(reaches(&channel, &rpc, shape, token.as_deref()).await);
            }
            assert!(!outcomes.is_empty(), "{rpc}: no service serves it");
            let through_gateway = reaches(&suite.gateway(), &rpc, shape, token.as_deref()).await;
            if outcomes.iter().any(|&o| o != through_gateway) {
                disagreements.push(format!(
                    "{rpc} as {column}: directly {outcomes:?}, through the gateway {through_gateway}"
                ));
            }
            row.insert(column.to_string(), outcomes[0]);
        }
        observed.insert(rpc, row);
    }
    if let Ok(path) = std::env::var("CRM_ACCESS_WRITE") {
        let mut out = String::new();
        for (rpc, row) in &observed {
            let marks: Vec<&str> = columns.iter().map(|c| if row[*c] { "Y" } else { "-" }).collect();
            out.push_str(&format!("{rpc:<70} {}\n", marks.join(" ")));
        }
        std::fs::write(path, out).unwrap();
        return;
    }
    assert!(
        disagreements.is_empty(),
        "the gateway and the services disagree:\n{}",
        disagreements.join("\n")
    );
    let expected = expected(&columns);
    let mut wrong = Vec::new();
    for (rpc, row) in &observed {
        match expected.get(rpc) {
            None => wrong.push(format!("{rpc}: not in access.txt")),
            Some(want) => {
                for column in &columns {
                    if want[*column] != row[*column] {
                        wrong.push(format!(
                            "{rpc} as {column}: the table says {}, the suite {}",
                            if want[*column] { "allowed" } else { "refused" },
                            if row[*column] { "allows it" } else { "refuses it" }
                        ));
                    }
                }
            }
        }
    }
    for rpc in expected.keys().filter(|r| !observed.contains_key(*r)) {
        wrong.push(format!("{rpc}: in access.txt, but no proto declares it"));
    }
    assert!(
        wrong.is_empty(),
        "access differs from access.txt:\n{}",
        wrong.join("\n")
    );
    suite.shutdown().await;
}

/// A principal in a relation to the fixture records, by the name the `records` section uses.
fn related(name: &str, fixtures: &Fixtures) -> Claims {
    let person = |user: &str, role: Role, team: &str| Claims {
        team: Some(team.into()),
        ..Claims::new(user, &[role], Duration::from_secs(3600))
    };
    match name {
        "sales_rep:own" => person(OWNER, Role::SalesRep, "team-a"),
        "sales_rep:team" => person("rep-a2", Role::SalesRep, "team-a"),
        "sales_rep:other_team" => person("rep-b1", Role::SalesRep, "team-b"),
        "sales_manager:own_team" => person("manager-a", Role::SalesManager, "team-a"),
        "sales_manager:other_team" => person("manager-b", Role::SalesManager, "team-b"),
        "customer:own" | "customer:other" => Claims {
            customer_id: Some(if name == "customer:own" {
                fixtures.party.clone()
            } else {
                fixtures.other_party.clone()
            }),
            ..Claims::new("customer-1", &[Role::Customer], Duration::from_secs(3600))
        },
        "partner_user:own" | "partner_user:other" => Claims {
            partner_id: Some(if name == "partner_user:own" {
                fixtures.partner.clone()
            } else {
                fixtures.other_partner.clone()
            }),
            ..Claims::new("partner-user-1", &[Role::PartnerUser], Duration::from_secs(3600))
        },
        other => {
            let role: Role = other.parse().unwrap_or_else(|e| panic!("access.txt: {e}"));
            Claims::new(format!("{other}-1"), &[role], Duration::from_secs(3600))
        }
    }
}

/// Who owns the fixture party and opportunity.
const OWNER: &str = "rep-a1";

/// The records the `records` section is about.
struct Fixtures {
    /// A person owned by [`OWNER`] of team a.
    party: String,
    /// Another person, of team b.
    other_party: String,
    /// An opportunity with `party`, owned by [`OWNER`] of team a.
    opportunity: String,
    /// A case of `party`.
    case: String,
    /// A partner and another.
    partner: String,
    other_partner: String,
}

impl Fixtures {
    async fn create(gw: &Channel) -> Self {
        use crm_proto::customers::v1 as cpb;
        use crm_proto::partners::v1 as ppb;
        use crm_proto::sales::v1 as spb;
        use crm_proto::servicedesk::v1 as dpb;
        use crm_testkit::authed;
        let admin = crm_testkit::token("admin-access", &[Role::Admin]);
        let mut customers = cpb::customers_service_client::CustomersServiceClient::new(gw.clone());
        let mut party = async |name: &str, team: &str, owner: &str| {
            customers
                .create_party(authed(
                    cpb::CreatePartyRequest {
                        party: Some(cpb::Party {
                            kind: cpb::PartyKind::Person as i32,
                            given_name: name.into(),
                            family_name: "Access".into(),
                            owner_id: owner.into(),
                            team_id: team.into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
                .expect("CreateParty")
                .into_inner()
                .party
                .unwrap()
                .id
        };
        let (mine, theirs) = (
            party("Ann", "team-a", OWNER).await,
            party("Bo", "team-b", "rep-b1").await,
        );
        let opportunity = spb::pipeline_service_client::PipelineServiceClient::new(gw.clone())
            .create_opportunity(authed(
                spb::CreateOpportunityRequest {
                    opportunity: Some(spb::Opportunity {
                        name: "Fleet renewal".into(),
                        party_id: mine.clone(),
                        amount: Some(crm_proto::common::v1::Money {
                            amount_minor: 10_000_00,
                            currency_code: "USD".into(),
                        }),
                        expected_close_date: "2030-06-30".into(),
                        owner_id: OWNER.into(),
                        team_id: "team-a".into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("CreateOpportunity")
            .into_inner()
            .opportunity
            .unwrap()
            .id;
        // The service desk hears of the party by its event.
        let mut desk = dpb::service_desk_service_client::ServiceDeskServiceClient::new(gw.clone());
        let queue = desk
            .create_queue(authed(
                dpb::CreateQueueRequest {
                    queue: Some(dpb::Queue {
                        name: format!("Access {}", uuid::Uuid::now_v7().simple()),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .expect("CreateQueue")
            .into_inner()
            .queue
            .unwrap()
            .id;
        let case = crm_testkit::eventually(Duration::from_secs(30), "a case of the party", || {
            let (mut desk, party, queue_id) = (desk.clone(), mine.clone(), queue.clone());
            let admin = admin.clone();
            async move {
                desk.open_case(authed(
                    dpb::OpenCaseRequest {
                        case: Some(dpb::Case {
                            r#type: dpb::CaseType::Inquiry as i32,
                            channel: dpb::CaseChannel::Phone as i32,
                            subject: "Where is my order?".into(),
                            severity: 3,
                            party_id: party,
                            queue_id,
                            ..Default::default()
                        }),
                    },
                    &admin,
                ))
                .await
                .ok()
                .and_then(|r| r.into_inner().case)
                .map(|c| c.id)
            }
        })
        .await;
        let mut partners = ppb::partner_service_client::PartnerServiceClient::new(gw.clone());
        let mut partner = async |name: &str| {
            partners
                .create_partner(authed(
                    ppb::CreatePartnerRequest {
                        partner: Some(ppb::Partner {
                            name: format!("{name} {}", uuid::Uuid::now_v7().simple()),
                            r#type: ppb::PartnerType::Dealer as i32,
                            region_codes: vec!["TW-TPE".into()],
                            tier: "gold".into(),
                            operating_model: ppb::OperatingModel::BuySell as i32,
                            ..Default::default()
                        }),
                    },
                    &admin,
                ))
                .await
                .expect("CreatePartner")
                .into_inner()
                .partner
                .unwrap()
                .id
        };
        let (partner, other_partner) = (partner("Dealer X").await, partner("Dealer Y").await);
        Self {
            party: mine,
            other_party: theirs,
            opportunity,
            case,
            partner,
            other_partner,
        }
    }

    /// The request `rpc` sends about its fixture record: its id (every `Get*` request is
    /// `{ string id = 1; }`), or for UpdateParty a new tag on the party's current version.
    async fn request(&self, rpc: &str, gw: &Channel) -> Vec<u8> {
        use crm_proto::customers::v1 as cpb;
        let id = |id: &str| cpb::GetPartyRequest { id: id.into() }.encode_to_vec();
        match rpc.rsplit('/').next().unwrap_or_default() {
            "GetParty" | "ExportParty" | "ExportPartyStream" | "VerifyParty" => id(&self.party),
            "GetOpportunity" => id(&self.opportunity),
            "GetCase" => id(&self.case),
            "GetPartner" => id(&self.partner),
            "UpdateParty" => cpb::UpdatePartyRequest {
                party: Some(cpb::Party {
                    id: self.party.clone(),
                    etag: cpb::customers_service_client::CustomersServiceClient::new(gw.clone())
                        .get_party(crm_testkit::authed(
                            cpb::GetPartyRequest {
                                id: self.party.clone(),
                            },
                            &crm_testkit::token("admin-access", &[Role::Admin]),
                        ))
                        .await
                        .expect("GetParty")
                        .into_inner()
                        .party
                        .unwrap()
                        .etag,
                    tags: vec!["checked".into()],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["tags".into()],
                }),
            }
            .encode_to_vec(),
            other => panic!("access.txt: no fixture record for {other}"),
        }
    }
}

/// The `records` section: (rpc, principal, answered).
fn record_rows() -> Vec<(String, String, bool)> {
    TABLE
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("[records]"))
        .skip(1)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "access.txt: {line:?} is not `rpc principal Y|-`");
            assert!(fields[2] == "Y" || fields[2] == "-", "access.txt: {line:?}");
            (fields[0].to_string(), fields[1].to_string(), fields[2] == "Y")
        })
        .collect()
}

/// Each RPC of the `records` section on its fixture record, as each principal, directly and
/// through the gateway: answered (`Y`) or refused with PERMISSION_DENIED or NOT_FOUND (`-`).
async fn records_answer_only_to_who_may_read_them(backend: Backend) {
    let suite = support::start(backend, support::gateway_settings()).await;
    let fixtures = Fixtures::create(&suite.gateway()).await;
    let rows = record_rows();
    assert!(
        rows.len() >= 20,
        "the records section lists {} checks",
        rows.len()
    );
    let mut wrong = Vec::new();
    for (rpc, principal, answered) in rows {
        let token = crm_testkit::token_with(related(&principal, &fixtures));
        let path = format!("/{rpc}");
        for (how, channel) in direct(&suite, &rpc)
            .into_iter()
            .map(|c| ("directly", c))
            .chain([("through the gateway", suite.gateway())])
        {
            let body = fixtures.request(&rpc, &suite.gateway()).await;
            let outcome = support::call(&channel, &path, body.clone(), &token).await;
            let got = match &outcome {
                Ok(_) => true,
                Err(status) if matches!(status.code(), Code::PermissionDenied | Code::NotFound) => false,
                Err(status) => {
                    wrong.push(format!(
                        "{rpc} as {principal} {how}: {:?} {}",
                        status.code(),
                        status.message()
                    ));
                    continue;
                }
            };
            if got != answered {
                wrong.push(format!(
                    "{rpc} as {principal} {how}: the table says {}, the suite {}",
                    if answered { "answered" } else { "refused" },
                    match &outcome {
                        Ok(_) => "answered".to_string(),
                        Err(status) => format!("refused ({:?})", status.code()),
                    }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "record access differs from access.txt:\n{}",
        wrong.join("\n")
    );
    suite.shutdown().await;
}

crm_testkit::backend_tests!(
    every_role_reaches_exactly_the_rpcs_the_table_grants,
    records_answer_only_to_who_may_read_them
);
