use crm_proto::customers::v1::{self as pb, Direction, RelationshipType as T};
use crm_testkit::{Backend, backend_tests};
use tonic::Code;

use crate::helpers::{TestApp, organization, person, relate, violated};
use crate::import::{import, options, row};

/// alice -employee_of-> sales -department_of-> acme -subsidiary_of-> group <-subsidiary_of- beta <-employee_of- bob
async fn network_queries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.create(person("Alice", "A", "")).await;
    let bob = app.create(person("Bob", "B", "")).await;
    let sales = app.create(organization("Acme Sales Dept")).await;
    let acme = app.create(organization("Acme")).await;
    let beta = app.create(organization("Beta")).await;
    let group = app.create(organization("Holding Group")).await;
    let e1 = relate(&app, &alice, &sales, T::EmployeeOf).await;
    relate(&app, &sales, &acme, T::DepartmentOf).await;
    relate(&app, &acme, &group, T::SubsidiaryOf).await;
    relate(&app, &beta, &group, T::SubsidiaryOf).await;
    relate(&app, &bob, &beta, T::EmployeeOf).await;

    // Who do we know at Beta, starting from Alice?
    let path = app
        .client
        .clone()
        .find_shortest_path(app.req(pb::FindShortestPathRequest {
            from_party_id: alice.id.clone(),
            to_party_id: bob.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(path.found);
    let via: Vec<String> = path
        .steps
        .iter()
        .map(|s| s.party.as_ref().unwrap().display_name.clone())
        .collect();
    assert_eq!(
        via,
        vec!["Acme Sales Dept", "Acme", "Holding Group", "Beta", "Bob B"]
    );
    assert_eq!(path.steps[0].relationship.as_ref().unwrap().id, e1.id);
    let too_short = app
        .client
        .clone()
        .find_shortest_path(app.req(pb::FindShortestPathRequest {
            from_party_id: alice.id.clone(),
            to_party_id: bob.id.clone(),
            max_hops: 3,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!too_short.found);

    let neighbours = app
        .client
        .clone()
        .list_neighbours(app.req(pb::ListNeighboursRequest {
            party_id: alice.id.clone(),
            max_hops: 2,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .neighbours;
    let got: Vec<(String, i32)> = neighbours
        .iter()
        .map(|n| (n.party.as_ref().unwrap().display_name.clone(), n.hops))
        .collect();
    assert_eq!(got, vec![("Acme Sales Dept".into(), 1), ("Acme".into(), 2)]);
    let employees_of_beta = app
        .client
        .clone()
        .list_neighbours(app.req(pb::ListNeighboursRequest {
            party_id: beta.id.clone(),
            max_hops: 1,
            types: vec![T::EmployeeOf as i32],
            direction: Direction::Incoming as i32,
        }))
        .await
        .unwrap()
        .into_inner()
        .neighbours;
    assert_eq!(employees_of_beta.len(), 1);
    assert_eq!(employees_of_beta[0].party.as_ref().unwrap().id, bob.id);

    let tree = app
        .client
        .clone()
        .get_group_tree(app.req(pb::GetGroupTreeRequest {
            party_id: sales.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tree.root_id, group.id);
    let nodes: Vec<(String, i32)> = tree
        .nodes
        .iter()
        .map(|n| (n.party.as_ref().unwrap().display_name.clone(), n.depth))
        .collect();
    let mut expected = vec![
        ("Holding Group".to_string(), 0),
        ("Acme".into(), 1),
        ("Acme Sales Dept".into(), 2),
        ("Beta".into(), 1),
    ];
    if beta.id < acme.id {
        expected = vec![
            ("Holding Group".to_string(), 0),
            ("Beta".into(), 1),
            ("Acme".into(), 1),
            ("Acme Sales Dept".into(), 2),
        ];
    }
    assert_eq!(
        nodes, expected,
        "the whole group, depth first; employees are not part of the corporate tree"
    );

    let list = |page_size: i32, page_token: String| {
        let mut client = app.client.clone();
        let request = app.req(pb::ListRelationshipsRequest {
            party_id: group.id.clone(),
            direction: Direction::Incoming as i32,
            types: vec![],
            page_size,
            page_token,
        });
        async move { client.list_relationships(request).await }
    };
    let listed = list(0, String::new()).await.unwrap().into_inner();
    assert_eq!(listed.relationships.len(), 2);
    assert!(listed.next_page_token.is_empty(), "one page holds both");
    // A page at a time, in id order, each edge once.
    let first = list(1, String::new()).await.unwrap().into_inner();
    assert_eq!(first.relationships.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = list(1, first.next_page_token).await.unwrap().into_inner();
    assert_eq!(second.relationships.len(), 1);
    assert!(first.relationships[0].id < second.relationships[0].id);
    assert!(second.next_page_token.is_empty(), "the last page");
    let err = list(-1, "not-a-token".into()).await.unwrap_err();
    assert_eq!(crm_testkit::violated(&err), vec!["page_size", "page_token"]);
}

async fn relationship_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.create(person("A", "A", "")).await;
    let b = app.create(organization("B")).await;
    let rel = |from: &str, to: &str, t: i32, custom: &str| pb::CreateRelationshipRequest {
        relationship: Some(pb::Relationship {
            from_party_id: from.into(),
            to_party_id: to.into(),
            r#type: t,
            custom_type: custom.into(),
            ..Default::default()
        }),
    };
    let err = app
        .client
        .clone()
        .create_relationship(app.req(rel(&a.id, &a.id, 0, "")))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        vec!["relationship.to_party_id", "relationship.type"]
    );
    let err = app
        .client
        .clone()
        .create_relationship(app.req(rel(&a.id, &b.id, T::Custom as i32, "Bad Name")))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["relationship.custom_type"]);
    let err = app
        .client
        .clone()
        .create_relationship(app.req(rel(
            &a.id,
            "0192f0c0-0000-7000-8000-000000000000",
            T::Knows as i32,
            "",
        )))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let created = app
        .client
        .clone()
        .create_relationship(app.req(rel(&a.id, &b.id, T::Custom as i32, "mentor_of")))
        .await
        .unwrap()
        .into_inner();
    let err = app
        .client
        .clone()
        .create_relationship(app.req(rel(&a.id, &b.id, T::Custom as i32, "mentor_of")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let id = created.relationship.unwrap().id;
    app.client
        .clone()
        .delete_relationship(app.req(pb::DeleteRelationshipRequest { id: id.clone() }))
        .await
        .unwrap();
    let err = app
        .client
        .clone()
        .delete_relationship(app.req(pb::DeleteRelationshipRequest { id }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .client
        .clone()
        .list_neighbours(app.req(pb::ListNeighboursRequest {
            party_id: a.id.clone(),
            max_hops: 9,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["max_hops"]);
    let types: Vec<String> = app
        .event_types()
        .await
        .into_iter()
        .filter(|t| t.starts_with("relationship"))
        .collect();
    assert_eq!(types, vec!["relationship.created", "relationship.deleted"]);
}

/// A hub with more subsidiaries (2,500, imported) than a network query returns: its
/// neighbourhood and its group tree stop at 2,000 parties, the tree reading no more of the
/// hub's edges than it keeps.
async fn a_hub_is_walked_only_as_far_as_a_query_returns(backend: Backend) {
    const SUBSIDIARIES: usize = 2_500;
    let app = TestApp::spawn(backend).await;
    let parties: Vec<pb::PartyImportRow> = std::iter::once(row(2, "hub", "Hub", ""))
        .chain((0..SUBSIDIARIES).map(|i| row(3 + i as i64, &format!("s-{i}"), &format!("Sub{i}"), "")))
        .collect();
    let batches: Vec<Vec<pb::PartyImportRow>> = parties.chunks(500).map(<[_]>::to_vec).collect();
    let imported = import(&app, &app.admin, "erp", false, batches).await.unwrap();
    assert_eq!(imported.created as usize, SUBSIDIARIES + 1);
    let edges: Vec<pb::ImportRelationshipsRequest> = (0..SUBSIDIARIES)
        .collect::<Vec<_>>()
        .chunks(500)
        .enumerate()
        .map(|(n, chunk)| pb::ImportRelationshipsRequest {
            options: if n == 0 { options("erp", false) } else { None },
            rows: chunk
                .iter()
                .map(|i| pb::RelationshipImportRow {
                    row: 2 + *i as i64,
                    external_id: format!("r-{i}"),
                    from_party_external_id: format!("s-{i}"),
                    to_party_external_id: "hub".into(),
                    r#type: T::SubsidiaryOf as i32,
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    let linked = app
        .client
        .clone()
        .import_relationships(app.req(futures::stream::iter(edges)))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(linked.created as usize, SUBSIDIARIES);
    let hub: String = sqlx::query_scalar("SELECT id FROM parties WHERE external_id = 'hub'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();

    let neighbours = app
        .client
        .clone()
        .list_neighbours(app.req(pb::ListNeighboursRequest {
            party_id: hub.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .neighbours;
    assert_eq!(neighbours.len(), 2_000);
    let tree = app
        .client
        .clone()
        .get_group_tree(app.req(pb::GetGroupTreeRequest {
            party_id: hub.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tree.root_id, hub);
    assert_eq!(
        tree.nodes.len(),
        2_000,
        "the hub and its first 1,999 subsidiaries"
    );
    assert!(tree.nodes[1..].iter().all(|n| n.parent_id == hub && n.depth == 1));
}

backend_tests!(
    network_queries,
    relationship_rules,
    a_hub_is_walked_only_as_far_as_a_query_returns
);
