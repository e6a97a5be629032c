use crm_proto::customers::v1 as cpb;
use crm_proto::sales::v1::{self as pb, LeadSource, LeadStatus, OpportunityStatus};
use crm_testkit::{Backend, backend_tests};
use tonic::Code;

use crate::helpers::{Suite, money, violated};

fn campaign_lead(reference: &str) -> pb::Lead {
    pb::Lead {
        source: LeadSource::Campaign as i32,
        source_ref: reference.into(),
        company_name: "Globex".into(),
        contact_name: "Hank Scorpio".into(),
        email: "Hank@Globex.example".into(),
        phone: "+1 555 0100 123".into(),
        ..Default::default()
    }
}

async fn leads_are_captured_once_qualified_and_converted(backend: Backend) {
    let suite = Suite::start(backend).await;
    let created = suite
        .pipeline
        .clone()
        .create_lead(suite.req(pb::CreateLeadRequest {
            lead: Some(campaign_lead("spring:resp-1")),
        }))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(created.status, LeadStatus::New as i32);
    assert_eq!(created.email, "hank@globex.example");
    // The same campaign response again is the same lead.
    let again = suite
        .pipeline
        .clone()
        .create_lead(suite.req(pb::CreateLeadRequest {
            lead: Some(campaign_lead("spring:resp-1")),
        }))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(again.id, created.id);

    let bad = suite
        .pipeline
        .clone()
        .create_lead(suite.req(pb::CreateLeadRequest {
            lead: Some(pb::Lead {
                email: "nope".into(),
                score: 101,
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec!["lead.source", "lead.contact_name", "lead.email", "lead.score"]
    );

    let not_yet = suite
        .pipeline
        .clone()
        .convert_lead(suite.req(pb::ConvertLeadRequest {
            id: created.id.clone(),
            etag: created.etag.clone(),
            amount: money(50_000, "USD"),
            expected_close_date: "2030-01-31".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(
        not_yet.code(),
        Code::FailedPrecondition,
        "only qualified leads convert"
    );
    let no_reason = suite
        .pipeline
        .clone()
        .qualify_lead(suite.req(pb::QualifyLeadRequest {
            id: created.id.clone(),
            etag: created.etag.clone(),
            status: LeadStatus::Disqualified as i32,
            reason: String::new(),
            score: -1,
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&no_reason), vec!["reason"]);
    let qualified = suite
        .pipeline
        .clone()
        .qualify_lead(suite.req(pb::QualifyLeadRequest {
            id: created.id.clone(),
            etag: created.etag.clone(),
            status: LeadStatus::Qualified as i32,
            reason: String::new(),
            score: 80,
        }))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(
        (qualified.status, qualified.score),
        (LeadStatus::Qualified as i32, 80)
    );

    let converted = suite
        .pipeline
        .clone()
        .convert_lead(suite.req(pb::ConvertLeadRequest {
            id: qualified.id.clone(),
            etag: qualified.etag.clone(),
            amount: money(50_000, "USD"),
            expected_close_date: "2030-01-31".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(converted.party_created);
    let lead = converted.lead.unwrap();
    let opportunity = converted.opportunity.unwrap();
    assert_eq!(lead.status, LeadStatus::Converted as i32);
    assert_eq!(lead.opportunity_id, opportunity.id);
    assert_eq!(opportunity.lead_id, lead.id);
    assert_eq!(opportunity.status, OpportunityStatus::Open as i32);
    assert_eq!(opportunity.stage_code, "prospecting");
    // The party exists in the customers service, with the lead's contact details.
    let party = suite
        .customers
        .clone()
        .get_party(suite.req(cpb::GetPartyRequest {
            id: lead.party_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(party.display_name, "Globex");
    let contacts: Vec<&str> = party
        .contact_points
        .iter()
        .map(|c| c.normalized.as_str())
        .collect();
    assert_eq!(contacts, vec!["hank@globex.example", "15550100123"]);
    let twice = suite
        .pipeline
        .clone()
        .convert_lead(suite.req(pb::ConvertLeadRequest {
            id: lead.id.clone(),
            etag: lead.etag.clone(),
            amount: money(1, "USD"),
            expected_close_date: "2030-01-31".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(
        suite.sales_event_types().await,
        vec![
            "lead.created",
            "lead.qualified",
            "opportunity.created",
            "lead.converted"
        ]
    );
}

backend_tests!(leads_are_captured_once_qualified_and_converted);
