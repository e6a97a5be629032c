use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, backend_tests};

use crate::helpers::{TestApp, mask, person};

async fn update(app: &TestApp, party: &pb::Party, industry: &str) -> Result<pb::Party, tonic::Status> {
    Ok(app
        .client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(pb::Party {
                id: party.id.clone(),
                etag: party.etag.clone(),
                industry: industry.into(),
                ..Default::default()
            }),
            update_mask: mask(&["industry"]),
        }))
        .await?
        .into_inner()
        .party
        .unwrap())
}

async fn one_event_per_committed_change_and_none_for_rejected_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = app.create(person("Evan", "Events", "evan@example.com")).await;
    let p2 = update(&app, &p, "Retail").await.unwrap();
    update(&app, &p, "Stale").await.unwrap_err(); // stale etag
    app.client
        .clone()
        .create_party(app.req(pb::CreatePartyRequest {
            party: Some(person("", "", "bad")),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    update(&app, &p2, "Retail").await.unwrap(); // no change: nothing to announce
    let events = app.events().await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec!["crm.customers.party.created.v1", "crm.customers.party.updated.v1"]
    );
    assert!(
        events
            .iter()
            .all(|e| e.subject == p.id && e.source == "/crm/customers")
    );
    let updated: pb::PartyUpdated = events[1].decode().unwrap();
    assert_eq!(updated.changed_fields, vec!["industry"]);
    assert_eq!(updated.party.unwrap().industry, "Retail");
}

async fn changes_made_while_nats_is_down_are_published_in_order_after_it_returns(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let mut p = app.create(person("Nora", "Outage", "")).await;
    assert_eq!(app.events().await.len(), 1);
    app.nats.stop();
    for industry in ["A", "B", "C"] {
        p = update(&app, &p, industry)
            .await
            .expect("the API keeps working while NATS is down");
    }
    app.nats.restart();
    let events = app.events().await;
    let industries: Vec<String> = events[1..]
        .iter()
        .map(|e| e.decode::<pb::PartyUpdated>().unwrap().party.unwrap().industry)
        .collect();
    assert_eq!(industries, vec!["A", "B", "C"]);
    app.stop().await.unwrap();
}

backend_tests!(
    one_event_per_committed_change_and_none_for_rejected_ones,
    changes_made_while_nats_is_down_are_published_in_order_after_it_returns,
);
