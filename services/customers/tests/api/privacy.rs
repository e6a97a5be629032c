use crm_proto::customers::v1::{self as pb, PartyStatus, RelationshipType};
use crm_testkit::{Backend, backend_tests};
use tonic::Code;

use crate::helpers::{TestApp, mask, organization, person, relate};

async fn export_then_erase(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut eve = person("Eve", "Private", "eve@example.com");
    eve.birth_date = "1990-01-02".into();
    let eve = app.create(eve).await;
    let acme = app.create(organization("Acme")).await;
    relate(&app, &eve, &acme, RelationshipType::EmployeeOf).await;
    app.client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(pb::Party {
                id: eve.id.clone(),
                etag: eve.etag.clone(),
                family_name: "Secret".into(),
                ..Default::default()
            }),
            update_mask: mask(&["family_name"]),
        }))
        .await
        .unwrap();

    let export = app
        .client
        .clone()
        .export_party(app.req(pb::ExportPartyRequest { id: eve.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.party.unwrap().family_name, "Secret");
    assert_eq!(export.relationships.len(), 1);
    let actions: Vec<&str> = export.audit_entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["created", "updated"]);
    assert!(export.audit_entries[1].changes_json.contains("Secret"));

    let erased = app
        .client
        .clone()
        .erase_party(app.req(pb::ErasePartyRequest {
            id: eve.id.clone(),
            reason: "GDPR request 42".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(erased.erase_time.is_some());
    let tomb = app.get(&eve.id).await.unwrap();
    assert_eq!(tomb.status, PartyStatus::Erased as i32);
    assert!(
        tomb.given_name.is_empty()
            && tomb.family_name.is_empty()
            && tomb.display_name.is_empty()
            && tomb.birth_date.is_empty()
    );
    assert!(tomb.contact_points.is_empty());
    let indexed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM party_search_grams WHERE party_id = $1")
        .bind(&eve.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(indexed, 0, "the erased name leaves the search index");
    let leftovers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE entity_id = $1 AND (changes LIKE '%Secret%' OR changes LIKE '%eve@%')")
        .bind(&eve.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(leftovers, 0, "the audit trail keeps no erased data");
    let edges: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM relationships")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(edges, 0);
    let searched = app
        .client
        .clone()
        .search_parties(app.req(pb::SearchPartiesRequest {
            query: "eve@example.com".into(),
            page_size: 0,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(searched.parties.is_empty());

    let again = app
        .client
        .clone()
        .erase_party(app.req(pb::ErasePartyRequest {
            id: eve.id.clone(),
            reason: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    let update = app
        .client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(pb::Party {
                id: eve.id.clone(),
                etag: tomb.etag.clone(),
                industry: "x".into(),
                ..Default::default()
            }),
            update_mask: mask(&["industry"]),
        }))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::FailedPrecondition);
    let erased_events: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "crm.customers.party.erased.v1")
        .collect();
    assert_eq!(erased_events.len(), 1);
    assert_eq!(erased_events[0].subject, eve.id);
}

backend_tests!(export_then_erase);
