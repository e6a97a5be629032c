use crm_proto::customers::v1::{self as pb, DuplicateReason, PartyStatus, RelationshipType};
use crm_testkit::{Backend, backend_tests};
use tonic::Code;

use crate::helpers::{TestApp, organization, person, phone, relate, violated};

async fn duplicates_are_found_and_merged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut jon = person("Jon", "Smith", "J.Smith@Example.com");
    jon.tags = vec!["newsletter".into()];
    jon.attributes.insert("shoe_size".into(), "44".into());
    let jon = app.create(jon).await;
    let mut john = person("John", "Smith", "j.smith@example.com");
    john.contact_points.push(phone("+1 202 555 0100"));
    john.industry = "Finance".into();
    let john = app.create(john).await;
    app.create(person("Mary", "Jones", "mary@example.com")).await;
    let acme = app.create(organization("Acme")).await;
    relate(&app, &john, &acme, RelationshipType::EmployeeOf).await;

    let groups = app
        .client
        .clone()
        .find_duplicates(app.req(pb::FindDuplicatesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(groups.len(), 1);
    let ids: Vec<&str> = groups[0].parties.iter().map(|p| p.id.as_str()).collect();
    assert!(ids.contains(&jon.id.as_str()) && ids.contains(&john.id.as_str()));
    assert!(groups[0].reasons.contains(&(DuplicateReason::SameEmail as i32)));
    assert!(groups[0].reasons.contains(&(DuplicateReason::SimilarName as i32)));
    let for_jon = app
        .client
        .clone()
        .find_duplicates(app.req(pb::FindDuplicatesRequest {
            party_id: jon.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(for_jon.groups.len(), 1);

    let survivor = app
        .client
        .clone()
        .merge_parties(app.req(pb::MergePartiesRequest {
            survivor_id: jon.id.clone(),
            merged_ids: vec![john.id.clone()],
        }))
        .await
        .unwrap()
        .into_inner()
        .survivor
        .unwrap();
    assert_eq!(survivor.industry, "Finance", "gaps filled from the merged record");
    assert_eq!(
        survivor.attributes.get("shoe_size").map(String::as_str),
        Some("44")
    );
    let kinds: Vec<String> = survivor
        .contact_points
        .iter()
        .map(|c| c.normalized.clone())
        .collect();
    assert_eq!(
        kinds,
        vec!["j.smith@example.com", "12025550100"],
        "the duplicate email is not copied, the phone is"
    );
    assert_eq!(
        survivor.contact_points.iter().filter(|c| c.primary).count(),
        2,
        "one primary per kind"
    );

    // The merged party redirects to the survivor.
    let got = app
        .client
        .clone()
        .get_party(app.req(pb::GetPartyRequest { id: john.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.redirected_from_id, john.id);
    assert_eq!(got.party.unwrap().id, jon.id);
    // Its relationships now belong to the survivor.
    let rels = app
        .client
        .clone()
        .list_relationships(app.req(pb::ListRelationshipsRequest {
            party_id: jon.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .relationships;
    assert_eq!(rels.len(), 1);
    assert_eq!(rels[0].to_party_id, acme.id);
    // A merged party cannot be changed or merged again.
    let err = app
        .client
        .clone()
        .merge_parties(app.req(pb::MergePartiesRequest {
            survivor_id: jon.id.clone(),
            merged_ids: vec![john.id.clone()],
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let merged_row: i64 = sqlx::query_scalar("SELECT status FROM parties WHERE id = $1")
        .bind(&john.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(merged_row, PartyStatus::Merged as i64);

    let merged_events: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.event_type == "crm.customers.party.merged.v1")
        .collect();
    assert_eq!(merged_events.len(), 1);
    let payload: pb::PartyMerged = merged_events[0].decode().unwrap();
    assert_eq!(
        payload,
        pb::PartyMerged {
            survivor_id: jon.id.clone(),
            merged_ids: vec![john.id.clone()],
            // The merge is John's last change: a copy ignores whatever older state of him comes later.
            merged_versions: [(john.id.clone(), john.version() + 1)].into(),
        }
    );
}

async fn merge_input_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create(person("A", "A", "")).await;
    let err = app
        .client
        .clone()
        .merge_parties(app.req(pb::MergePartiesRequest {
            survivor_id: a.id.clone(),
            merged_ids: vec![a.id.clone(), String::new()],
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["merged_ids[0]", "merged_ids[1]"]);
    let err = app
        .client
        .clone()
        .merge_parties(app.req(pb::MergePartiesRequest {
            survivor_id: a.id.clone(),
            merged_ids: vec!["0192f0c0-0000-7000-8000-000000000000".into()],
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        app.get(&a.id).await.unwrap().etag,
        "1",
        "a failed merge changes nothing"
    );
    let err = app
        .client
        .clone()
        .find_duplicates(app.req(pb::FindDuplicatesRequest {
            min_name_similarity: 1.5,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["min_name_similarity"]);
}

/// A party linked to more parties than a group may hold: the group is cut at the cap, the party
/// stays in it, and the answer is the same on a second call.
async fn a_group_larger_than_the_cap_is_cut(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The hub shares one e-mail with 150 parties and another with 150 more: 301 in one group.
    let mut hub = person("Hub", "Star", "left@star.example");
    hub.contact_points.push(crm_testkit::fixtures::contact(
        pb::ContactPointKind::Email,
        "right@star.example",
    ));
    let hub = app.create(hub).await;
    for i in 0..300 {
        let side = if i % 2 == 0 { "left" } else { "right" };
        app.create(person(
            &format!("Member{i}"),
            "Spoke",
            &format!("{side}@star.example"),
        ))
        .await;
    }
    let find = || async {
        app.client
            .clone()
            .find_duplicates(app.req(pb::FindDuplicatesRequest {
                party_id: hub.id.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .groups
    };
    let groups = find().await;
    assert_eq!(groups.len(), 1);
    let ids: Vec<&str> = groups[0].parties.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), 200, "the group is cut at 200 parties");
    assert!(ids.contains(&hub.id.as_str()));
    let again = find().await;
    let again: Vec<&str> = again[0].parties.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, again, "the same parties on every call");
}

/// A merged party's edges move to the survivor in a few statements; those that would loop back
/// to the survivor or repeat one of its edges are dropped.
async fn a_merge_drops_edges_that_would_loop_or_repeat(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let survivor = app.create(person("Ann", "Lee", "")).await;
    let merged = app.create(person("Anne", "Lee", "")).await;
    let x = app.create(person("Xavier", "Diaz", "")).await;
    let y = app.create(person("Yara", "Okafor", "")).await;
    let (knows, family) = (RelationshipType::Knows, RelationshipType::Family);
    relate(&app, &merged, &survivor, knows).await;
    relate(&app, &survivor, &merged, family).await;
    relate(&app, &survivor, &x, knows).await;
    relate(&app, &merged, &x, knows).await;
    relate(&app, &merged, &x, family).await;
    relate(&app, &y, &merged, knows).await;
    relate(&app, &y, &survivor, family).await;
    relate(&app, &y, &merged, family).await;

    app.client
        .clone()
        .merge_parties(app.req(pb::MergePartiesRequest {
            survivor_id: survivor.id.clone(),
            merged_ids: vec![merged.id.clone()],
        }))
        .await
        .unwrap();

    let edges: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT from_party_id, to_party_id, type FROM relationships")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    let name = |id: &str| {
        [(&survivor, "survivor"), (&merged, "merged"), (&x, "x"), (&y, "y")]
            .into_iter()
            .find(|(p, _)| p.id == id)
            .map_or("?", |(_, n)| n)
    };
    let mut named: Vec<(&str, &str, i64)> = edges
        .iter()
        .map(|(from, to, t)| (name(from), name(to), *t))
        .collect();
    named.sort();
    assert_eq!(
        named,
        vec![
            ("survivor", "x", knows as i64),
            ("survivor", "x", family as i64),
            ("y", "survivor", knows as i64),
            ("y", "survivor", family as i64),
        ]
    );
}

backend_tests!(
    duplicates_are_found_and_merged,
    merge_input_is_checked,
    a_group_larger_than_the_cap_is_cut,
    a_merge_drops_edges_that_would_loop_or_repeat
);
