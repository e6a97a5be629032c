//! Consent imported per customer and channel, and the member lists exported for mailers.

use crm_auth::Role;
use crm_proto::common::v1::{ImportOptions, ImportSummary};
use crm_proto::customers::v1 as cpb;
use crm_proto::marketing::v1::{self as pb, Channel};
use crm_testkit::{Backend, authed, backend_tests, token};
use futures::StreamExt as _;
use tonic::Code;

use crate::helpers::{Suite, money, plan};

fn options() -> Option<ImportOptions> {
    Some(ImportOptions {
        source: "erp".into(),
        validate_only: false,
    })
}

fn consent(line: i64, customer: &str, channel: Channel, opted_out: bool) -> pb::ConsentImportRow {
    pb::ConsentImportRow {
        row: line,
        party_external_id: customer.into(),
        consent: Some(pb::Consent {
            channel: channel as i32,
            opted_out,
            ..Default::default()
        }),
    }
}

async fn import(suite: &Suite, rows: Vec<pb::ConsentImportRow>) -> ImportSummary {
    suite
        .marketing
        .clone()
        .import_consents(suite.req(futures::stream::iter([pb::ImportConsentsRequest {
            options: options(),
            rows,
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap()
}

async fn consent_comes_in_and_member_lists_go_out(backend: Backend) {
    let suite = Suite::start(backend).await;
    let rows = ["C-1", "C-2", "C-3"]
        .iter()
        .enumerate()
        .map(|(i, id)| cpb::PartyImportRow {
            row: i as i64 + 2,
            external_id: id.to_string(),
            party: Some(cpb::Party {
                kind: cpb::PartyKind::Person as i32,
                given_name: format!("Person {id}"),
                ..Default::default()
            }),
            create_time: None,
        })
        .collect();
    let parties = suite
        .customers
        .clone()
        .import_parties(suite.req(futures::stream::iter([cpb::ImportPartiesRequest {
            options: options(),
            rows,
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(parties.created, 3);
    suite.profiles(3).await;

    let file = || {
        vec![
            consent(2, "C-1", Channel::Email, true),
            consent(3, "C-2", Channel::Sms, true),
            consent(4, "C-404", Channel::Email, true),
            consent(5, "C-1", Channel::Unspecified, true),
            consent(6, "C-1", Channel::Email, false),
        ]
    };
    let summary = import(&suite, file()).await;
    assert_eq!((summary.created, summary.rejected), (2, 3), "{summary:?}");
    let refused: Vec<(i64, &str)> = summary
        .rejections
        .iter()
        .map(|r| (r.row, r.field.as_str()))
        .collect();
    assert_eq!(
        refused,
        [(4, "party_external_id"), (5, "channel"), (6, "channel")]
    );
    assert_eq!(import(&suite, file()).await.unchanged, 2);

    // Everybody in one list; the email campaign leaves out the customer who opted out.
    let ids: Vec<String> = {
        let mut stream = suite
            .customers
            .clone()
            .export_parties(suite.req(cpb::ExportPartiesRequest::default()))
            .await
            .unwrap()
            .into_inner();
        let mut ids = Vec::new();
        while let Some(page) = stream.next().await {
            ids.extend(page.unwrap().parties.into_iter().map(|p| p.id));
        }
        ids
    };
    let segment = suite
        .create_segment(pb::Segment {
            name: "Imported".into(),
            // A party named twice is a member once.
            party_ids: ids.iter().chain(&ids[..1]).cloned().collect(),
            ..Default::default()
        })
        .await;
    // A member's profile names the list it is in.
    let profile_segments = |party_id: String| {
        let mut marketing = suite.marketing.clone();
        let req = suite.req(pb::GetProfileRequest { party_id });
        async move {
            marketing
                .get_profile(req)
                .await
                .map(|r| r.into_inner().profile.unwrap().segment_ids)
        }
    };
    let listed = profile_segments(ids[0].clone()).await.unwrap();
    assert_eq!(listed, vec![segment.id.clone()]);
    assert_eq!(segment.list_size, ids.len() as i64);
    // The list of segments gives each list's size, not its ids.
    let page = suite
        .marketing
        .clone()
        .list_segments(suite.req(pb::ListSegmentsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let shown = page.segments.iter().find(|s| s.id == segment.id).unwrap();
    assert_eq!((shown.list_size, shown.party_ids.len()), (ids.len() as i64, 0));
    let mut stream = suite
        .marketing
        .clone()
        .export_segment_members(suite.req(pb::ExportSegmentMembersRequest {
            segment_id: segment.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let mut members = Vec::new();
    while let Some(page) = stream.next().await {
        members.extend(page.unwrap().members);
    }
    let mut external: Vec<&str> = members.iter().map(|m| m.external_id.as_str()).collect();
    external.sort();
    assert_eq!(external, ["C-1", "C-2", "C-3"]);
    assert!(members.iter().all(|m| m.display_name.starts_with("Person ")));
    let members_of_segment = members;

    let campaign = suite
        .create_campaign(pb::Campaign {
            cost_per_contact: money(50),
            net_profit_per_response: money(20_00),
            ..plan("Welcome back", Channel::Email, &segment.id, 2)
        })
        .await;
    suite
        .campaigns
        .clone()
        .select_members(suite.req(pb::SelectMembersRequest {
            campaign_id: campaign.id.clone(),
        }))
        .await
        .unwrap();
    let export = |token: String| {
        let mut client = suite.campaigns.clone();
        let id = campaign.id.clone();
        async move {
            let mut stream = client
                .export_campaign_members(authed(
                    pb::ExportCampaignMembersRequest { campaign_id: id },
                    &token,
                ))
                .await?
                .into_inner();
            let mut members = Vec::new();
            while let Some(page) = stream.next().await {
                members.extend(page?.members);
            }
            Ok::<_, tonic::Status>(members)
        }
    };
    let members = export(suite.admin.clone()).await.unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    let opted_out = members_of_segment
        .iter()
        .find(|m| m.external_id == "C-1")
        .map(|m| m.party_id.clone())
        .unwrap();
    assert!(
        members.iter().all(|m| m.party_id != opted_out),
        "C-1 opted out of email"
    );
    let err = export(token("rep", &[Role::SalesRep])).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// A static list stored by a server of the earlier release (ids in the segment row only) gets its
/// member rows and size from the job, once.
async fn a_list_stored_by_the_earlier_release_gets_its_members(backend: Backend) {
    let suite = Suite::start(backend).await;
    sqlx::query(
        "INSERT INTO segments (id, name, conditions, party_ids, created_at) \
         VALUES ('legacy', 'Legacy', '[]', '[\"p-1\",\"p-2\",\"p-1\"]', 0)",
    )
    .execute(suite.marketing_db.pool())
    .await
    .unwrap();
    let store = suite.marketing_store();
    assert_eq!(crm_marketing::lists::run_once(&store).await.unwrap(), 1);
    assert_eq!(crm_marketing::lists::run_once(&store).await.unwrap(), 0, "once");
    let page = suite
        .marketing
        .clone()
        .list_segments(suite.req(pb::ListSegmentsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.segments[0].list_size, 2);
    let members: Vec<String> = sqlx::query_scalar(
        "SELECT party_id FROM segment_members WHERE segment_id = 'legacy' ORDER BY party_id",
    )
    .fetch_all(suite.marketing_db.pool())
    .await
    .unwrap();
    assert_eq!(members, ["p-1", "p-2"]);
}

backend_tests!(
    consent_comes_in_and_member_lists_go_out,
    a_list_stored_by_the_earlier_release_gets_its_members
);
