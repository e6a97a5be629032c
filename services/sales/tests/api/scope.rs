//! Writers keep records within their own scope: they cannot hand a record to a team or
//! territory they do not see, a repeated creation answers only to who may read the record, and
//! a manager's alerts are their team's.

use crm_auth::Role;
use crm_proto::sales::v1::{self as pb, LeadSource};
use crm_testkit::{Backend, authed, backend_tests};
use tonic::Code;

use crate::helpers::{Suite, money, seller};
use crate::org_reports::org;

fn deal(party_id: &str, owner: &str, team: &str, territory: &str) -> pb::CreateOpportunityRequest {
    pb::CreateOpportunityRequest {
        opportunity: Some(pb::Opportunity {
            name: "Fleet renewal".into(),
            party_id: party_id.into(),
            amount: money(10_000_00, "USD"),
            expected_close_date: "2030-06-30".into(),
            owner_id: owner.into(),
            team_id: team.into(),
            territory_id: territory.into(),
            ..Default::default()
        }),
    }
}

async fn writers_assign_records_only_within_their_scope(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (_, north, south) = org(&suite).await;
    let acme = suite.organization("Acme").await;
    let alice = seller("alice", Role::SalesRep, &north.id, &["t-north"]);
    let mia = seller("mia", Role::SalesManager, &north.id, &[]);
    let mut pipeline = suite.pipeline.clone();
    let mut create = async |request: pb::CreateOpportunityRequest, token: &str| {
        pipeline
            .create_opportunity(authed(request, token))
            .await
            .map(|r| r.into_inner().opportunity.unwrap())
    };

    // A rep may not give a deal to someone else, another team or a territory not theirs.
    for (request, field) in [
        (deal(&acme.id, "bob", "", ""), "owner_id"),
        (deal(&acme.id, "", &south.id, ""), "team_id"),
        (deal(&acme.id, "", "", "t-south"), "territory_id"),
    ] {
        let err = create(request, &alice).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{field}: {err:?}");
        assert!(err.message().contains(field), "{err:?}");
    }
    let own = create(deal(&acme.id, "", "", "t-north"), &alice).await.unwrap();
    assert_eq!(
        (own.owner_id.as_str(), own.team_id.as_str()),
        ("alice", north.id.as_str())
    );
    // A manager assigns within the team, not to another team.
    let for_bob = create(deal(&acme.id, "bob", "", ""), &mia).await.unwrap();
    assert_eq!(
        (for_bob.owner_id.as_str(), for_bob.team_id.as_str()),
        ("bob", north.id.as_str())
    );
    let err = create(deal(&acme.id, "", &south.id, ""), &mia).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // Updates: moving her deal to the south team is refused and changes nothing; renaming it
    // while sending the same team is fine.
    let mut moved = own.clone();
    moved.team_id = south.id.clone();
    moved.name = "Moved".into();
    let update = |o: &pb::Opportunity, paths: &[&str]| pb::UpdateOpportunityRequest {
        opportunity: Some(o.clone()),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    let err = suite
        .pipeline
        .clone()
        .update_opportunity(authed(update(&moved, &["name", "team_id"]), &alice))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let unchanged = suite
        .pipeline
        .clone()
        .get_opportunity(suite.req(pb::GetOpportunityRequest { id: own.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (unchanged.name.as_str(), unchanged.etag.as_str()),
        ("Fleet renewal", own.etag.as_str())
    );
    let mut renamed = own.clone();
    renamed.name = "Fleet renewal 2031".into();
    suite
        .pipeline
        .clone()
        .update_opportunity(authed(update(&renamed, &["name", "team_id", "owner_id"]), &alice))
        .await
        .unwrap();
    // An administrator assigns anywhere.
    create(deal(&acme.id, "bob", &south.id, "t-south"), &suite.admin)
        .await
        .unwrap();

    // Leads: a campaign response delivered again is the same lead, but only for those who may
    // read it; the lead of another team's rep is not handed out.
    let lead = |owner: &str| pb::CreateLeadRequest {
        lead: Some(pb::Lead {
            source: LeadSource::Campaign as i32,
            source_ref: "spring:resp-9".into(),
            contact_name: "Hank Scorpio".into(),
            email: "hank@globex.example".into(),
            owner_id: owner.into(),
            ..Default::default()
        }),
    };
    let first = suite
        .pipeline
        .clone()
        .create_lead(authed(lead(""), &alice))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(first.owner_id, "alice");
    let bob = seller("bob", Role::SalesRep, &south.id, &["t-south"]);
    let err = suite
        .pipeline
        .clone()
        .create_lead(authed(lead(""), &bob))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let again = suite
        .pipeline
        .clone()
        .create_lead(authed(lead(""), &mia))
        .await
        .unwrap()
        .into_inner()
        .lead
        .unwrap();
    assert_eq!(again.id, first.id, "her manager sees the same lead");
    let err = suite
        .pipeline
        .clone()
        .create_lead(authed(
            pb::CreateLeadRequest {
                lead: Some(pb::Lead {
                    source_ref: "spring:resp-10".into(),
                    ..lead("bob").lead.unwrap()
                }),
            },
            &alice,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a rep assigns leads to no one else"
    );
}

async fn a_manager_sees_and_resolves_the_alerts_of_their_team(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (_, north, south) = org(&suite).await;
    // Alerts for alice (north), bob (south) and the manager herself.
    for (id, owner) in [("a-alice", "alice"), ("a-bob", "bob"), ("a-mia", "mia")] {
        sqlx::query(
            "INSERT INTO alerts (id, kind, subject_id, owner_id, message, dedupe_key, raised_at) \
             VALUES ($1, 1, $2, $3, 'stalled', $4, 1)",
        )
        .bind(id)
        .bind(format!("opp-{owner}"))
        .bind(owner)
        .bind(format!("dedupe-{id}"))
        .execute(suite.sales_db.pool())
        .await
        .unwrap();
    }
    let list = |token: String| {
        let mut reports = suite.reports.clone();
        async move {
            let mut ids: Vec<String> = reports
                .list_alerts(authed(pb::ListAlertsRequest::default(), &token))
                .await
                .unwrap()
                .into_inner()
                .alerts
                .into_iter()
                .map(|a| a.id)
                .collect();
            ids.sort();
            ids
        }
    };
    let mia = seller("mia", Role::SalesManager, &north.id, &[]);
    let south_manager = seller("sam", Role::SalesManager, &south.id, &[]);
    let alice = seller("alice", Role::SalesRep, &north.id, &[]);
    assert_eq!(list(mia.clone()).await, ["a-alice", "a-mia"]);
    assert_eq!(list(south_manager.clone()).await, ["a-bob"]);
    assert_eq!(list(alice.clone()).await, ["a-alice"]);
    assert_eq!(list(suite.admin.clone()).await, ["a-alice", "a-bob", "a-mia"]);

    let resolve = |id: &str, token: &str| {
        let mut reports = suite.reports.clone();
        let request = authed(pb::ResolveAlertRequest { id: id.into() }, token);
        async move { reports.resolve_alert(request).await }
    };
    let err = resolve("a-bob", &mia).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = resolve("a-mia", &alice).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        resolve("a-alice", &mia)
            .await
            .unwrap()
            .into_inner()
            .alert
            .unwrap()
            .resolve_time
            .is_some()
    );
    assert_eq!(list(south_manager).await, ["a-bob"], "bob's alert is still open");
}

/// 120 deals of three owners, two teams and two territories (and none): a rep and a manager
/// page through exactly the deals they may read, in id order, every page full but the last,
/// and export the same; and the same for 60 leads.
async fn sellers_page_through_exactly_the_deals_they_may_read(backend: Backend) {
    let suite = Suite::start(backend).await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) \
         INSERT INTO opportunities (id, name, party_id, stage_code, amount_minor, currency_code, \
         expected_close_date, owner_id, team_id, territory_id, status, version, created_at) \
         SELECT 'o' || (1000 + i), 'Deal', 'p', 'prospect', 100, 'USD', '2030-06-30', \
         CASE i % 3 WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' ELSE 'carol' END, \
         CASE WHEN i % 4 < 2 THEN 'north' ELSE 'south' END, \
         CASE i % 5 WHEN 0 THEN 'west' WHEN 1 THEN 'east' ELSE '' END, 1, 1, 0 FROM n",
    )
    .execute(suite.sales_db.pool())
    .await
    .unwrap();
    let expected = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
        (1..=120)
            .filter(|i| keep(*i))
            .map(|i| format!("o{}", 1000 + i))
            .collect()
    };
    let rep = seller("alice", Role::SalesRep, "south", &["west"]);
    let manager = seller("mgr", Role::SalesManager, "north", &["east"]);
    let nobody = seller("dave", Role::SalesRep, "south", &[]);
    for (token, visible, status) in [
        (&rep, expected(&|i| i % 3 == 0 || i % 5 == 0), 0),
        (&manager, expected(&|i| i % 4 < 2), 0),
        (
            &manager,
            expected(&|i| i % 4 < 2),
            pb::OpportunityStatus::Open as i32,
        ),
        (&nobody, Vec::new(), 0),
    ] {
        let (found, pages) = crm_testkit::all_pages(|token_| {
            let mut c = suite.pipeline.clone();
            let req = authed(
                pb::ListOpportunitiesRequest {
                    page_size: 7,
                    page_token: token_,
                    status,
                    ..Default::default()
                },
                token,
            );
            async move {
                let r = c.list_opportunities(req).await.unwrap().into_inner();
                assert!(
                    r.opportunities.len() == 7 || r.next_page_token.is_empty(),
                    "a full page"
                );
                (r.opportunities, r.next_page_token)
            }
        })
        .await;
        let ids: Vec<String> = found.into_iter().map(|o| o.id).collect();
        assert_eq!(ids, visible);
        // A full last page is followed by an empty one.
        assert_eq!(pages, visible.len() / 7 + 1);
        let mut stream = suite
            .pipeline
            .clone()
            .export_opportunities(authed(pb::ExportOpportunitiesRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        let mut exported = Vec::new();
        while let Some(page) = stream.message().await.unwrap() {
            exported.extend(page.opportunities.into_iter().map(|o| o.id));
        }
        assert_eq!(exported, visible);
    }

    // Leads have no territory: a rep reads their own, a manager their own and their team's.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) \
         INSERT INTO leads (id, source, owner_id, team_id, status, version, created_at) \
         SELECT 'l' || (1000 + i), 1, CASE i % 3 WHEN 0 THEN 'alice' WHEN 1 THEN 'mgr' ELSE 'carol' END, \
         CASE WHEN i % 4 < 2 THEN 'north' ELSE 'south' END, 1, 1, 0 FROM n",
    )
    .execute(suite.sales_db.pool())
    .await
    .unwrap();
    let leads = |keep: &dyn Fn(i64) -> bool| -> Vec<String> {
        (1..=60)
            .filter(|i| keep(*i))
            .map(|i| format!("l{}", 1000 + i))
            .collect()
    };
    for (token, visible) in [
        (&rep, leads(&|i| i % 3 == 0)),
        (&manager, leads(&|i| i % 3 == 1 || i % 4 < 2)),
        (&nobody, Vec::new()),
    ] {
        let (found, _) = crm_testkit::all_pages(|token_| {
            let mut c = suite.pipeline.clone();
            let req = authed(
                pb::ListLeadsRequest {
                    page_size: 4,
                    page_token: token_,
                    ..Default::default()
                },
                token,
            );
            async move {
                let r = c.list_leads(req).await.unwrap().into_inner();
                assert!(r.leads.len() == 4 || r.next_page_token.is_empty(), "a full page");
                (r.leads, r.next_page_token)
            }
        })
        .await;
        assert_eq!(found.into_iter().map(|l| l.id).collect::<Vec<_>>(), visible);
    }
}

backend_tests!(
    writers_assign_records_only_within_their_scope,
    a_manager_sees_and_resolves_the_alerts_of_their_team,
    sellers_page_through_exactly_the_deals_they_may_read
);
