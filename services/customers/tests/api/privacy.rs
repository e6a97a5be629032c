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

    let export = export_whole(&app, &eve.id).await.unwrap();
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

/// The ExportParty answer for `id`.
async fn export_whole(app: &TestApp, id: &str) -> Result<pb::ExportPartyResponse, tonic::Status> {
    app.client
        .clone()
        .export_party(app.req(pb::ExportPartyRequest { id: id.into() }))
        .await
        .map(tonic::Response::into_inner)
}

/// Every message of an ExportPartyStream call.
async fn export_in_pages(app: &TestApp, id: &str) -> Vec<pb::ExportPartyStreamResponse> {
    let mut stream = app
        .client
        .clone()
        .export_party_stream(app.req(pb::ExportPartyStreamRequest { id: id.into() }))
        .await
        .unwrap()
        .into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        messages.push(message);
    }
    messages
}

/// The stream's messages, joined into one export.
fn joined(messages: Vec<pb::ExportPartyStreamResponse>) -> pb::ExportPartyResponse {
    let mut export = pb::ExportPartyResponse::default();
    for (n, m) in messages.into_iter().enumerate() {
        assert_eq!(m.party.is_some(), n == 0, "the party comes first, and only first");
        export.party = export.party.or(m.party);
        export.relationships.extend(m.relationships);
        export.audit_entries.extend(m.audit_entries);
        export.merged_party_ids.extend(m.merged_party_ids);
    }
    export
}

/// A party with edges on both sides, a trail and merged duplicates: the stream holds what the
/// single answer holds, in the same order.
async fn an_export_in_pages_holds_what_one_answer_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let eve = app.create(person("Eve", "Private", "eve@example.com")).await;
    let acme = app.create(organization("Acme")).await;
    let bob = app.create(person("Bob", "Private", "bob@example.com")).await;
    relate(&app, &eve, &acme, RelationshipType::EmployeeOf).await;
    relate(&app, &bob, &eve, RelationshipType::Family).await;
    let twins = [
        app.create(person("Eve", "Private", "eve.p@example.com")).await,
        app.create(person("Eva", "Private", "eva@example.com")).await,
    ];
    app.client
        .clone()
        .merge_parties(app.req(pb::MergePartiesRequest {
            survivor_id: eve.id.clone(),
            merged_ids: twins.iter().map(|p| p.id.clone()).collect(),
        }))
        .await
        .unwrap();

    let whole = export_whole(&app, &eve.id).await.unwrap();
    assert_eq!(whole.relationships.len(), 2);
    assert!(whole.audit_entries.len() >= 2, "created and merged");
    let mut merged: Vec<String> = twins.iter().map(|p| p.id.clone()).collect();
    merged.sort();
    assert_eq!(whole.merged_party_ids, merged);
    assert_eq!(joined(export_in_pages(&app, &eve.id).await), whole);

    let missing = app
        .client
        .clone()
        .export_party_stream(app.req(pb::ExportPartyStreamRequest { id: "nobody".into() }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let unnamed = app
        .client
        .clone()
        .export_party_stream(app.req(pb::ExportPartyStreamRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(unnamed.code(), Code::InvalidArgument);
}

/// A hub of 1,200 edges with a trail of 20,000 entries (about 4 MiB): ExportParty refuses it,
/// naming the stream, and the stream returns all of it in pages of at most 500.
async fn a_party_too_large_for_one_answer_is_exported_in_pages(backend: Backend) {
    const EDGES: i64 = 1_200;
    const ENTRIES: i64 = 20_000;
    let app = TestApp::spawn(backend).await;
    let hub = app.create(organization("Hub")).await;
    let other = app.create(organization("Spoke")).await;
    // Written straight to the tables: what matters here is how much there is.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3) \
         INSERT INTO relationships (id, from_party_id, to_party_id, type, created_at) \
         SELECT 'r' || (100000 + i), CASE WHEN i % 2 = 0 THEN $1 ELSE $2 END, \
                CASE WHEN i % 2 = 0 THEN $2 ELSE $1 END, $4, 0 FROM n",
    )
    .bind(&hub.id)
    .bind(&other.id)
    .bind(EDGES)
    .bind(RelationshipType::SubsidiaryOf as i64)
    .execute(app.db.pool())
    .await
    .unwrap();
    let changes = serde_json::json!({ "note": "x".repeat(200) }).to_string();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3) \
         INSERT INTO audit_log (entity_type, entity_id, action, actor_id, at, changes) \
         SELECT 'party', $1, 'updated', 'importer', i, $2 FROM n",
    )
    .bind(&hub.id)
    .bind(&changes)
    .bind(ENTRIES)
    .execute(app.db.pool())
    .await
    .unwrap();

    let refused = export_whole(&app, &hub.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("ExportPartyStream"),
        "{}",
        refused.message()
    );

    let messages = export_in_pages(&app, &hub.id).await;
    assert!(
        messages
            .iter()
            .all(|m| m.relationships.len() + m.audit_entries.len() <= 500)
    );
    let export = joined(messages);
    let ids: Vec<&str> = export.relationships.iter().map(|r| r.id.as_str()).collect();
    let expected: Vec<String> = (1..=EDGES).map(|i| format!("r{}", 100_000 + i)).collect();
    assert_eq!(ids, expected, "every edge, on both sides, once, in id order");
    assert_eq!(
        export.audit_entries.len() as i64,
        ENTRIES + 1,
        "the import's and the creation"
    );
    assert!(
        export
            .audit_entries
            .windows(2)
            .all(|w| w[0].sequence < w[1].sequence)
    );
    assert!(export.merged_party_ids.is_empty());
}

backend_tests!(
    export_then_erase,
    an_export_in_pages_holds_what_one_answer_holds,
    a_party_too_large_for_one_answer_is_exported_in_pages
);
