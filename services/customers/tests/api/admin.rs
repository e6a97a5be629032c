use crm_auth::Role;
use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, authed, backend_tests, token};
use tonic::Code;

use crate::helpers::{TestApp, mask, organization, violated};

fn competitor(name: &str) -> pb::Competitor {
    pb::Competitor {
        name: name.into(),
        website: "https://rival.example".into(),
        strengths: vec!["price".into()],
        weaknesses: vec!["support".into()],
        notes: "aggressive in APAC".into(),
        ..Default::default()
    }
}

async fn competitors_are_for_administrators(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .client
        .clone()
        .create_competitor(app.req(pb::CreateCompetitorRequest {
            competitor: Some(competitor("Rival")),
        }))
        .await
        .unwrap()
        .into_inner()
        .competitor
        .unwrap();
    let dup = app
        .client
        .clone()
        .create_competitor(app.req(pb::CreateCompetitorRequest {
            competitor: Some(competitor("rival")),
        }))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    let bad = app
        .client
        .clone()
        .create_competitor(app.req(pb::CreateCompetitorRequest {
            competitor: Some(pb::Competitor {
                website: "ftp://x".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), vec!["competitor.name", "competitor.website"]);

    let updated = app
        .client
        .clone()
        .update_competitor(app.req(pb::UpdateCompetitorRequest {
            competitor: Some(pb::Competitor {
                id: created.id.clone(),
                etag: created.etag.clone(),
                notes: "retreating".into(),
                ..Default::default()
            }),
            update_mask: mask(&["notes"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .competitor
        .unwrap();
    assert_eq!(updated.notes, "retreating");
    assert_eq!(updated.strengths, vec!["price"]);
    let stale = app
        .client
        .clone()
        .update_competitor(app.req(pb::UpdateCompetitorRequest {
            competitor: Some(pb::Competitor {
                id: created.id.clone(),
                etag: created.etag.clone(),
                notes: "lost update".into(),
                ..Default::default()
            }),
            update_mask: mask(&["notes"]),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    for role in [Role::SalesManager, Role::SalesRep, Role::Auditor, Role::Marketer] {
        let t = token("someone", &[role]);
        let err = app
            .client
            .clone()
            .get_competitor(authed(
                pb::GetCompetitorRequest {
                    id: created.id.clone(),
                },
                &t,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::PermissionDenied,
            "{role} must not read competitors"
        );
        let err = app
            .client
            .clone()
            .list_competitors(authed(pb::ListCompetitorsRequest::default(), &t))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    let listed = app
        .client
        .clone()
        .list_competitors(app.req(pb::ListCompetitorsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.competitors.len(), 1);
    app.client
        .clone()
        .delete_competitor(app.req(pb::DeleteCompetitorRequest {
            id: created.id.clone(),
        }))
        .await
        .unwrap();
    let gone = app
        .client
        .clone()
        .get_competitor(app.req(pb::GetCompetitorRequest { id: created.id }))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

async fn regions_and_audit_trail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let upsert = |code: &str, parent: &str| pb::UpsertRegionRequest {
        region: Some(pb::Region {
            code: code.into(),
            name: format!("Region {code}"),
            parent_code: parent.into(),
        }),
    };
    app.client
        .clone()
        .upsert_region(app.req(upsert("APAC", "")))
        .await
        .unwrap();
    app.client
        .clone()
        .upsert_region(app.req(upsert("TW", "APAC")))
        .await
        .unwrap();
    let cycle = app
        .client
        .clone()
        .upsert_region(app.req(upsert("APAC", "TW")))
        .await
        .unwrap_err();
    assert_eq!(violated(&cycle), vec!["region.parent_code"]);
    let unknown = app
        .client
        .clone()
        .upsert_region(app.req(upsert("EU", "NOWHERE")))
        .await
        .unwrap_err();
    assert_eq!(violated(&unknown), vec!["region.parent_code"]);
    let bad = app
        .client
        .clone()
        .upsert_region(app.req(upsert("eu west", "")))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), vec!["region.code"]);
    let regions = app
        .client
        .clone()
        .list_regions(app.req(pb::ListRegionsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .regions;
    assert_eq!(
        regions.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        vec!["APAC", "TW"]
    );
    let (paged, pages) = crm_testkit::all_pages(|page_token| {
        let mut client = app.client.clone();
        let req = app.req(pb::ListRegionsRequest {
            page_size: 1,
            page_token,
        });
        async move {
            let r = client.list_regions(req).await.unwrap().into_inner();
            (r.regions, r.next_page_token)
        }
    })
    .await;
    assert_eq!((paged, pages), (regions, 2), "one region a page");

    let mut org = organization("Taipei Traders");
    org.region_code = "TW".into();
    let org = app.create(org).await;
    app.client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(pb::Party {
                id: org.id.clone(),
                etag: org.etag.clone(),
                industry: "Trade".into(),
                ..Default::default()
            }),
            update_mask: mask(&["industry"]),
        }))
        .await
        .unwrap();
    let trail = app
        .client
        .clone()
        .list_audit_entries(app.req(pb::ListAuditEntriesRequest {
            entity_id: org.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<(&str, &str)> = trail
        .entries
        .iter()
        .map(|e| (e.action.as_str(), e.actor_id.as_str()))
        .collect();
    assert_eq!(got, vec![("created", "admin-1"), ("updated", "admin-1")]);
    assert_eq!(trail.entries[1].changes_json, r#"{"industry":"Trade"}"#);
    let auditor = token("aud", &[Role::Auditor]);
    let all = app
        .client
        .clone()
        .list_audit_entries(authed(
            pb::ListAuditEntriesRequest {
                page_size: 2,
                ..Default::default()
            },
            &auditor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.entries.len(), 2);
    assert!(!all.next_page_token.is_empty());
    let rep = token("rep", &[Role::SalesRep]);
    let denied = app
        .client
        .clone()
        .list_audit_entries(authed(pb::ListAuditEntriesRequest::default(), &rep))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

backend_tests!(competitors_are_for_administrators, regions_and_audit_trail);
