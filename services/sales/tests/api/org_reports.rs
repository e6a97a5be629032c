//! Organisation, territories, quotas, reports and alerts.

use std::time::Duration;

use crm_auth::Role;
use crm_proto::customers::v1 as cpb;
use crm_proto::sales::v1::{self as pb, AlertKind, QuotaOwnerKind};
use crm_testkit::{Backend, authed, backend_tests, eventually};
use tonic::Code;

use crate::helpers::{Suite, mask, money, violated};

/// The whole funnel, as the admin sees it.
async fn whole_funnel(suite: &Suite) -> Vec<pb::FunnelStage> {
    suite
        .reports
        .clone()
        .get_funnel(suite.req(pb::GetFunnelRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .stages
}

pub(crate) async fn org(suite: &Suite) -> (pb::Department, pb::Team, pb::Team) {
    let dept = suite
        .org
        .clone()
        .create_department(suite.req(pb::CreateDepartmentRequest {
            department: Some(pb::Department {
                name: "Enterprise".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .department
        .unwrap();
    let team = |name: &str| pb::CreateTeamRequest {
        team: Some(pb::Team {
            name: name.into(),
            department_id: dept.id.clone(),
            manager_user_id: "mia".into(),
            ..Default::default()
        }),
    };
    let north = suite
        .org
        .clone()
        .create_team(suite.req(team("North")))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    let south = suite
        .org
        .clone()
        .create_team(suite.req(team("South")))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    for (user, team) in [("alice", &north), ("bob", &south)] {
        suite
            .org
            .clone()
            .upsert_rep(suite.req(pb::UpsertRepRequest {
                rep: Some(pb::Rep {
                    user_id: user.into(),
                    display_name: user.into(),
                    team_id: team.id.clone(),
                    active: true,
                }),
            }))
            .await
            .unwrap();
    }
    (dept, north, south)
}

async fn territories_assign_accounts_by_rules(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (_, north, _) = org(&suite).await;
    let mut party = cpb::Party {
        kind: cpb::PartyKind::Organization as i32,
        organization_name: "Taipei Bank".into(),
        industry: "Banking".into(),
        ..Default::default()
    };
    let bank = suite
        .customers
        .clone()
        .create_party(suite.req(cpb::CreatePartyRequest {
            party: Some(party.clone()),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    party.organization_name = "Corner Shop".into();
    party.industry = "Retail".into();
    let shop = suite
        .customers
        .clone()
        .create_party(suite.req(cpb::CreatePartyRequest {
            party: Some(party),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    // Wait until sales has the accounts from customers' events.
    let db = suite.sales_db.clone();
    eventually(Duration::from_secs(20), "accounts copied", || {
        let db = db.clone();
        async move {
            (sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM accounts")
                .fetch_one(db.pool())
                .await
                .ok()?
                == 2)
                .then_some(())
        }
    })
    .await;

    let bad = suite
        .org
        .clone()
        .create_territory(suite.req(pb::CreateTerritoryRequest {
            territory: Some(pb::Territory {
                name: " ".into(),
                industries: vec!["".into()],
                priority: 5000,
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec!["territory.name", "territory.priority", "territory.industries[0]"]
    );
    let finance = suite
        .org
        .clone()
        .create_territory(suite.req(pb::CreateTerritoryRequest {
            territory: Some(pb::Territory {
                name: "Finance".into(),
                industries: vec!["banking".into(), "insurance".into()],
                priority: 10,
                team_id: north.id.clone(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        finished(&suite, &finance.reassignment).await.reassigned,
        1,
        "the bank moves into the new territory"
    );
    let finance = finance.territory.unwrap();
    let catch_all = suite
        .org
        .clone()
        .create_territory(suite.req(pb::CreateTerritoryRequest {
            territory: Some(pb::Territory {
                name: "Everyone else".into(),
                priority: 100,
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finished(&suite, &catch_all.reassignment).await.reassigned, 1);
    let catch_all = catch_all.territory.unwrap();
    let assigned = |id: String| {
        let mut org = suite.org.clone();
        let req = suite.req(pb::GetAccountAssignmentRequest { party_id: id });
        async move {
            org.get_account_assignment(req)
                .await
                .unwrap()
                .into_inner()
                .territory_id
        }
    };
    assert_eq!(assigned(bank.id.clone()).await, finance.id);
    assert_eq!(assigned(shop.id.clone()).await, catch_all.id);

    // Changing the rules reassigns: retail joins the finance territory.
    let updated = suite
        .org
        .clone()
        .update_territory(suite.req(pb::UpdateTerritoryRequest {
            territory: Some(pb::Territory {
                id: finance.id.clone(),
                etag: finance.etag.clone(),
                industries: vec!["banking".into(), "retail".into()],
                ..Default::default()
            }),
            update_mask: mask(&["industries"]),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finished(&suite, &updated.reassignment).await.reassigned, 1);
    assert_eq!(assigned(shop.id.clone()).await, finance.id);
    let stale = suite
        .org
        .clone()
        .update_territory(suite.req(pb::UpdateTerritoryRequest {
            territory: Some(pb::Territory {
                id: finance.id.clone(),
                etag: finance.etag.clone(),
                priority: 1,
                ..Default::default()
            }),
            update_mask: mask(&["priority"]),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    // New opportunities take the account's territory; a rep of that territory sees them.
    let o = suite.opportunity(&shop, 1_000_00).await;
    assert_eq!(o.territory_id, finance.id);
    let mut claims = crm_auth::Claims::new("carol", &[Role::SalesRep], Duration::from_secs(600));
    claims.territories = vec![finance.id.clone()];
    let carol = crm_testkit::token_with(claims);
    suite
        .pipeline
        .clone()
        .get_opportunity(authed(pb::GetOpportunityRequest { id: o.id.clone() }, &carol))
        .await
        .unwrap();

    let deleted = suite
        .org
        .clone()
        .delete_territory(suite.req(pb::DeleteTerritoryRequest {
            id: finance.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finished(&suite, &deleted.reassignment).await.reassigned, 2);
    assert_eq!(assigned(bank.id.clone()).await, catch_all.id);
    let assigned: Vec<pb::AccountAssigned> = suite
        .events("CRM_SALES", &suite.sales_db)
        .await
        .iter()
        .filter(|e| e.event_type == "crm.sales.account.assigned.v1")
        .map(|e| e.decode().unwrap())
        .collect();
    assert_eq!(assigned.len(), 5, "bank, shop, shop again, then both on deletion");
}

/// Waits for the reassignment a change `started` to finish, and returns it.
async fn finished(suite: &Suite, started: &Option<pb::AccountReassignment>) -> pb::AccountReassignment {
    let generation = started.as_ref().expect("a reassignment").generation;
    eventually(Duration::from_secs(30), "accounts reassigned", || {
        let mut org = suite.org.clone();
        let req = suite.req(pb::GetAccountReassignmentRequest {});
        async move {
            let run = org
                .get_account_reassignment(req)
                .await
                .ok()?
                .into_inner()
                .reassignment?;
            assert!(run.generation <= generation, "no other change was made");
            (run.generation == generation && run.done).then_some(run)
        }
    })
    .await
}

/// 2,500 accounts, more than a page: a new territory's reassignment evaluates each once, a page
/// per transaction, and moves the ones its rules take.
async fn a_reassignment_runs_in_pages(backend: Backend) {
    const ACCOUNTS: i64 = 2_500;
    let suite = Suite::start(backend).await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO accounts (party_id, industry) \
         SELECT 'p' || (100000 + i), CASE WHEN i % 5 = 0 THEN 'banking' ELSE 'retail' END FROM n",
    )
    .bind(ACCOUNTS)
    .execute(suite.sales_db.pool())
    .await
    .unwrap();
    let created = suite
        .org
        .clone()
        .create_territory(suite.req(pb::CreateTerritoryRequest {
            territory: Some(pb::Territory {
                name: "Finance".into(),
                industries: vec!["banking".into()],
                priority: 10,
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let started = created.reassignment.unwrap();
    let finance = created.territory.unwrap();
    let run = finished(&suite, &created.reassignment).await;
    assert_eq!((run.evaluated, run.reassigned), (ACCOUNTS, ACCOUNTS / 5));
    assert!(run.finish_time.is_some() && run.request_time == started.request_time);
    let moved: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE territory_id = $1")
        .bind(&finance.id)
        .fetch_one(suite.sales_db.pool())
        .await
        .unwrap();
    assert_eq!(moved, ACCOUNTS / 5);

    // Asked again, a run starts over from the first account and finds nothing to move.
    let again = suite
        .org
        .clone()
        .reassign_accounts(suite.req(pb::ReassignAccountsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .reassignment;
    assert_eq!(again.as_ref().unwrap().generation, started.generation + 1);
    let run = finished(&suite, &again).await;
    assert_eq!((run.evaluated, run.reassigned), (ACCOUNTS, 0));
}

async fn quotas_attainment_reports_and_alerts(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (dept, north, south) = org(&suite).await;
    let acme = suite.organization("Acme").await;
    let laptop = suite.product("LAP-14", "hardware").await;
    let usd = suite.price_book("List USD", "USD").await;
    suite.set_price(&usd, &laptop, 1_000_00).await;
    let period = chrono::Utc::now().format("%Y").to_string();
    for (kind, owner, amount) in [
        (QuotaOwnerKind::Rep, "alice", 4_000_00),
        (QuotaOwnerKind::Team, north.id.as_str(), 10_000_00),
        (QuotaOwnerKind::Department, dept.id.as_str(), 50_000_00),
    ] {
        suite
            .org
            .clone()
            .set_quota(suite.req(pb::SetQuotaRequest {
                quota: Some(pb::Quota {
                    owner_kind: kind as i32,
                    owner_id: owner.into(),
                    period: period.clone(),
                    product_line: String::new(),
                    amount: money(amount, "USD"),
                }),
            }))
            .await
            .unwrap();
    }
    let bad = suite
        .org
        .clone()
        .set_quota(suite.req(pb::SetQuotaRequest {
            quota: Some(pb::Quota {
                owner_kind: 0,
                owner_id: String::new(),
                period: "2026-Q5".into(),
                product_line: String::new(),
                amount: None,
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec![
            "quota.owner_kind",
            "quota.owner_id",
            "quota.period",
            "quota.amount"
        ]
    );

    // Alice (team north) sells 2 laptops; 1 more order is cancelled and does not count.
    let alice = crate::helpers_token("alice", Role::SalesRep, &north.id);
    let place = |quantity: i64| pb::PlaceOrderRequest {
        order: Some(pb::Order {
            party_id: acme.id.clone(),
            lines: vec![pb::LineItem {
                product_id: laptop.id.clone(),
                quantity,
                ..Default::default()
            }],
            ..Default::default()
        }),
        price_book_id: usd.id.clone(),
    };
    suite
        .orders
        .clone()
        .place_order(authed(place(2), &alice))
        .await
        .unwrap();
    let cancelled = suite
        .orders
        .clone()
        .place_order(authed(place(5), &alice))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    suite
        .orders
        .clone()
        .update_order_status(authed(
            pb::UpdateOrderStatusRequest {
                id: cancelled.id,
                etag: cancelled.etag,
                status: pb::OrderStatus::Cancelled as i32,
                reason: "duplicate".into(),
            },
            &alice,
        ))
        .await
        .unwrap();
    // Bob (team south) sells one, which counts for the department only. Carol, a rep of north
    // whose token names no team, sells one, which counts for north by her rep record.
    suite
        .org
        .clone()
        .upsert_rep(suite.req(pb::UpsertRepRequest {
            rep: Some(pb::Rep {
                user_id: "carol".into(),
                display_name: "carol".into(),
                team_id: north.id.clone(),
                active: true,
            }),
        }))
        .await
        .unwrap();
    for (user, team) in [("bob", south.id.as_str()), ("carol", "")] {
        let token = crate::helpers_token(user, Role::SalesRep, team);
        suite
            .orders
            .clone()
            .place_order(authed(place(1), &token))
            .await
            .unwrap();
    }
    let rows = suite
        .reports
        .clone()
        .get_quota_attainment(suite.req(pb::GetQuotaAttainmentRequest {
            period: period.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .rows;
    let got: Vec<(i32, i64, i32)> = rows
        .iter()
        .map(|r| {
            (
                r.quota.as_ref().unwrap().owner_kind,
                r.attained.as_ref().unwrap().amount_minor,
                r.attainment_bps,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(1, 2_000_00, 5000), (2, 3_000_00, 3000), (3, 4_000_00, 800)],
        "rolled up rep -> team -> department"
    );
    // One team's quota reads that team's orders, with those of its reps without a team.
    let north_only = suite
        .reports
        .clone()
        .get_quota_attainment(suite.req(pb::GetQuotaAttainmentRequest {
            period: period.clone(),
            owner_kind: QuotaOwnerKind::Team as i32,
            owner_id: north.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert_eq!(north_only.len(), 1);
    assert_eq!(north_only[0].attained.as_ref().unwrap().amount_minor, 3_000_00);
    assert!(rows[0].expected_bps > 0 && rows[0].expected_bps <= 10_000);
    // Quotas per product line count the line nets of that line only.
    for (kind, owner, line) in [
        (QuotaOwnerKind::Rep, "alice", "hardware"),
        (QuotaOwnerKind::Team, north.id.as_str(), "hardware"),
        (QuotaOwnerKind::Rep, "alice", "software"),
    ] {
        suite
            .org
            .clone()
            .set_quota(suite.req(pb::SetQuotaRequest {
                quota: Some(pb::Quota {
                    owner_kind: kind as i32,
                    owner_id: owner.into(),
                    period: period.clone(),
                    product_line: line.into(),
                    amount: money(4_000_00, "USD"),
                }),
            }))
            .await
            .unwrap();
    }
    let by_line: Vec<(i32, String, i64)> = suite
        .reports
        .clone()
        .get_quota_attainment(suite.req(pb::GetQuotaAttainmentRequest {
            period: period.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .rows
        .iter()
        .filter(|r| !r.quota.as_ref().unwrap().product_line.is_empty())
        .map(|r| {
            let q = r.quota.as_ref().unwrap();
            (
                q.owner_kind,
                q.product_line.clone(),
                r.attained.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    let mut by_line = by_line;
    by_line.sort();
    assert_eq!(
        by_line,
        [
            (1, "hardware".to_string(), 2_000_00),
            (1, "software".to_string(), 0),
            (2, "hardware".to_string(), 3_000_00)
        ]
    );
    // A rep sees only their own quotas.
    let mine = suite
        .reports
        .clone()
        .get_quota_attainment(authed(
            pb::GetQuotaAttainmentRequest {
                period: period.clone(),
                ..Default::default()
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .rows;
    assert!(
        mine.len() == 3 && mine.iter().all(|r| r.quota.as_ref().unwrap().owner_id == "alice"),
        "her total and her two product lines: {mine:?}"
    );
    let attained: Vec<i64> = mine
        .iter()
        .map(|r| r.attained.as_ref().unwrap().amount_minor)
        .collect();
    assert_eq!(
        attained.iter().sum::<i64>(),
        2 * 2_000_00,
        "her total and her hardware line"
    );
    let err = suite
        .reports
        .clone()
        .get_quota_attainment(suite.req(pb::GetQuotaAttainmentRequest {
            period: "last year".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["period"]);

    // Pipeline: three open deals (one moved to proposal), one won, one lost.
    let mut opps = Vec::new();
    for amount in [1_000_00, 2_000_00, 3_000_00, 4_000_00, 5_000_00] {
        opps.push(suite.opportunity(&acme, amount).await);
    }
    let moved = suite
        .pipeline
        .clone()
        .move_opportunity_stage(suite.req(pb::MoveOpportunityStageRequest {
            id: opps[1].id.clone(),
            etag: opps[1].etag.clone(),
            stage_code: "proposal".into(),
            planned_leave_date: "2000-01-01".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    suite
        .pipeline
        .clone()
        .close_opportunity(suite.req(pb::CloseOpportunityRequest {
            id: opps[3].id.clone(),
            etag: opps[3].etag.clone(),
            won: true,
            lost_reason: String::new(),
        }))
        .await
        .unwrap();
    suite
        .pipeline
        .clone()
        .close_opportunity(suite.req(pb::CloseOpportunityRequest {
            id: opps[4].id.clone(),
            etag: opps[4].etag.clone(),
            won: false,
            lost_reason: "budget".into(),
        }))
        .await
        .unwrap();

    let funnel = whole_funnel(&suite).await;
    let counts: Vec<(&str, i64, i64)> = funnel
        .iter()
        .map(|s| {
            (
                s.stage_code.as_str(),
                s.count,
                s.amount.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("prospecting", 2, 4_000_00),
            ("qualification", 0, 0),
            ("proposal", 1, 2_000_00),
            ("negotiation", 0, 0),
            ("closed_won", 1, 4_000_00),
            ("closed_lost", 1, 5_000_00)
        ]
    );
    assert_eq!(funnel[0].reached, 5);
    let forecast = suite
        .reports
        .clone()
        .get_forecast(suite.req(pb::GetForecastRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .months;
    assert_eq!(forecast.len(), 1);
    assert_eq!(forecast[0].month, "2030-06");
    assert_eq!(forecast[0].pipeline.as_ref().unwrap().amount_minor, 6_000_00);
    // 1000*10% + 3000*10% + 2000*50% = 1400.00
    assert_eq!(forecast[0].weighted.as_ref().unwrap().amount_minor, 1_400_00);
    let win = suite
        .reports
        .clone()
        .get_win_rate(suite.req(pb::GetWinRateRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((win.won, win.lost, win.win_rate_bps), (1, 1, 5000));

    // Alerts: the deal past its planned date is stalled; raised once however often evaluated.
    // The job reads the late deals without their alert: this one until its alert is raised.
    let candidates = || async {
        let mut conn = suite.sales_db.pool().acquire().await.unwrap();
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        crm_sales::storage::reporting::alert_candidates(&mut conn, &today, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|deal| deal.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(candidates().await, vec![moved.id.clone()]);
    let raised = suite
        .reports
        .clone()
        .evaluate_alerts(suite.req(pb::EvaluateAlertsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised;
    let stalled: Vec<&pb::Alert> = raised
        .iter()
        .filter(|a| a.kind == AlertKind::StalledDeal as i32)
        .collect();
    assert_eq!(stalled.len(), 1);
    assert_eq!(stalled[0].subject_id, moved.id);
    let again = suite
        .reports
        .clone()
        .evaluate_alerts(suite.req(pb::EvaluateAlertsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised;
    assert!(again.is_empty());
    assert_eq!(candidates().await, Vec::<String>::new(), "its alert is raised");
    let listed = suite
        .reports
        .clone()
        .list_alerts(suite.req(pb::ListAlertsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(listed.len(), raised.len());
    let resolved = suite
        .reports
        .clone()
        .resolve_alert(suite.req(pb::ResolveAlertRequest {
            id: stalled[0].id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert!(resolved.resolve_time.is_some());
    let open = suite
        .reports
        .clone()
        .list_alerts(suite.req(pb::ListAlertsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert_eq!(open.len(), raised.len() - 1);
    let types = suite.sales_event_types().await;
    assert_eq!(
        types.iter().filter(|t| *t == "alert.raised").count(),
        raised.len()
    );

    let settings = pb::AlertSettings {
        default_stage_days: 0,
        pile_up_threshold: 1,
        early_stage_max_position: 2,
        falling_rate_bps: 5000,
    };
    let err = suite
        .reports
        .clone()
        .update_alert_settings(suite.req(pb::UpdateAlertSettingsRequest {
            settings: Some(settings),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["settings.default_stage_days"]);
    // With a pile-up threshold of 1 the two early-stage deals of the owner raise a pile-up.
    let settings = pb::AlertSettings {
        default_stage_days: 30,
        pile_up_threshold: 1,
        early_stage_max_position: 2,
        falling_rate_bps: 5000,
    };
    suite
        .reports
        .clone()
        .update_alert_settings(suite.req(pb::UpdateAlertSettingsRequest {
            settings: Some(settings),
        }))
        .await
        .unwrap();
    assert_eq!(
        suite
            .reports
            .clone()
            .get_alert_settings(suite.req(pb::GetAlertSettingsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .settings
            .unwrap(),
        settings
    );
    let raised = suite
        .reports
        .clone()
        .evaluate_alerts(suite.req(pb::EvaluateAlertsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised;
    assert_eq!(
        raised.iter().map(|a| a.kind).collect::<Vec<_>>(),
        vec![AlertKind::EarlyStagePileUp as i32]
    );

    // A deal that went on to negotiation and came back to qualification reached negotiation by
    // its visit, but not proposal; a deal now in proposal reached qualification without a
    // visit; the won deal reached every open stage.
    let mut etag = opps[2].etag.clone();
    for stage in ["negotiation", "qualification"] {
        etag = suite
            .pipeline
            .clone()
            .move_opportunity_stage(suite.req(pb::MoveOpportunityStageRequest {
                id: opps[2].id.clone(),
                etag: etag.clone(),
                stage_code: stage.into(),
                planned_leave_date: "2099-01-01".into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .opportunity
            .unwrap()
            .etag;
    }
    let funnel = whole_funnel(&suite).await;
    let reached: Vec<(&str, i64, i64)> = funnel
        .iter()
        .map(|s| (s.stage_code.as_str(), s.count, s.reached))
        .collect();
    assert_eq!(
        reached,
        vec![
            ("prospecting", 1, 5),
            ("qualification", 1, 3),
            ("proposal", 1, 2),
            ("negotiation", 0, 2),
            ("closed_won", 1, 1),
            ("closed_lost", 1, 1)
        ]
    );
}

async fn opportunities_route_to_the_territory_selling_their_product_line(backend: Backend) {
    let suite = Suite::start(backend).await;
    let territory = |name: &str, lines: &[&str], priority: i32| pb::CreateTerritoryRequest {
        territory: Some(pb::Territory {
            name: name.into(),
            industries: vec!["retail".into()],
            product_lines: lines.iter().map(|l| l.to_string()).collect(),
            priority,
            ..Default::default()
        }),
    };
    let retail = suite
        .org
        .clone()
        .create_territory(suite.req(territory("Retail", &[], 10)))
        .await
        .unwrap()
        .into_inner()
        .territory
        .unwrap();
    let hardware = suite
        .org
        .clone()
        .create_territory(suite.req(territory("Retail hardware", &["hardware"], 20)))
        .await
        .unwrap()
        .into_inner()
        .territory
        .unwrap();
    let party = cpb::Party {
        kind: cpb::PartyKind::Organization as i32,
        organization_name: "Shop".into(),
        industry: "Retail".into(),
        ..Default::default()
    };
    let shop = suite
        .customers
        .clone()
        .create_party(suite.req(cpb::CreatePartyRequest {
            party: Some(party),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    let db = suite.sales_db.clone();
    eventually(Duration::from_secs(20), "account assigned", || {
        let db = db.clone();
        async move {
            (!sqlx::query_scalar::<_, String>("SELECT territory_id FROM accounts")
                .fetch_one(db.pool())
                .await
                .ok()?
                .is_empty())
            .then_some(())
        }
    })
    .await;
    let laptop = suite.product("LAP-14", "hardware").await;
    let plain = suite.opportunity(&shop, 1_00).await;
    assert_eq!(plain.territory_id, retail.id, "the account's territory");
    let with_laptops = pb::Opportunity {
        name: "Laptops".into(),
        party_id: shop.id.clone(),
        amount: money(1_00, "USD"),
        expected_close_date: "2030-01-01".into(),
        products: vec![pb::OpportunityProduct {
            product_id: laptop.id.clone(),
            quantity: 3,
        }],
        ..Default::default()
    };
    let routed = suite
        .pipeline
        .clone()
        .create_opportunity(suite.req(pb::CreateOpportunityRequest {
            opportunity: Some(with_laptops),
        }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        routed.territory_id, hardware.id,
        "the territory selling hardware to retail"
    );
}

/// Each opportunity's weight is rounded on its own, half away from zero, before the month adds
/// them up: two deals of 5 cents at 10% weigh 1 cent each, not 1 cent together.
async fn the_forecast_rounds_each_opportunity(backend: Backend) {
    let suite = Suite::start(backend).await;
    let shop = suite.organization("Shop").await;
    suite.opportunity(&shop, 5).await;
    suite.opportunity(&shop, 5).await;
    let months = suite
        .reports
        .clone()
        .get_forecast(suite.req(pb::GetForecastRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .months;
    assert_eq!(months.len(), 1);
    assert_eq!(
        (
            months[0].count,
            months[0].pipeline.as_ref().unwrap().amount_minor,
            months[0].weighted.as_ref().unwrap().amount_minor
        ),
        (2, 10, 2)
    );
}

/// An opportunity of `owner` in `stage`, stored as the import stores one: created at `created`,
/// in its stage since `entered` (µs).
async fn stored_deal(
    conn: &mut crm_storage::Conn,
    owner: &str,
    status: pb::OpportunityStatus,
    close: &str,
    created: i64,
    entered: i64,
) -> String {
    let mut o = pb::Opportunity {
        name: format!("{owner} deal"),
        party_id: "party-1".into(),
        stage_code: match status {
            pb::OpportunityStatus::Won => "closed_won",
            _ => "proposal",
        }
        .into(),
        amount: money(1_000_00, "USD"),
        expected_close_date: close.into(),
        owner_id: owner.into(),
        status: status as i32,
        ..Default::default()
    };
    crm_sales::storage::opportunities::insert_at(conn, &mut o, created, entered)
        .await
        .unwrap();
    o.id
}

/// The alert job reads the late open deals from ranges of their indexes, and counts each rep's
/// new opportunities in SQL, with the windows' bounds where the rules put them.
async fn the_alert_job_reads_the_late_deals_and_counts_new_ones_in_sql(backend: Backend) {
    use crm_sales::storage::{opportunities, reporting};
    use pb::OpportunityStatus::{Open, Won};

    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_sales::Sales>(&db)
        .await
        .unwrap();
    let day = 86_400_000_000_i64;
    let now = chrono::NaiveDate::from_ymd_opt(2026, 3, 10)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    let store = crm_platform::Store::new(
        db.clone(),
        std::sync::Arc::default(),
        crm_platform::clock::ManualClock::at(now),
    );
    let mut conn = db.pool().acquire().await.unwrap();
    let long_ago = now - 200 * day;

    // New opportunities, open or won, none late. rep-a: none in the last 30 days, four in the 90
    // before (the first at exactly 30 days, the last a microsecond inside 120), one at exactly
    // 120 days and one tomorrow, outside both windows. rep-b: one a microsecond inside the last 30
    // days and three before.
    for (owner, status, created) in [
        ("rep-a", Won, now - 30 * day),
        ("rep-a", Open, now - 60 * day),
        ("rep-a", Won, now - 90 * day),
        ("rep-a", Open, now - 120 * day + 1),
        ("rep-a", Open, now - 120 * day),
        ("rep-a", Open, now + day),
        ("rep-b", Open, now - 30 * day + 1),
        ("rep-b", Won, now - 31 * day),
        ("rep-b", Won, now - 40 * day),
        ("rep-b", Open, now - 50 * day),
    ] {
        stored_deal(&mut conn, owner, status, "2026-12-31", created, now).await;
    }
    let windows = crm_sales::domain::alerts::NewDealWindows::ending(now);
    let counts: Vec<(String, i64, i64)> = reporting::new_deal_counts(&mut conn, &windows)
        .await
        .unwrap()
        .into_iter()
        .map(|(rep, n)| (rep, n.recent, n.baseline))
        .collect();
    assert_eq!(
        counts,
        vec![("rep-a".to_string(), 0, 4), ("rep-b".to_string(), 1, 3)]
    );

    // rep-c's deals, created long ago: late ones and some that are not.
    let overdue = stored_deal(&mut conn, "rep-c", Open, "2026-03-09", long_ago, now).await;
    stored_deal(&mut conn, "rep-c", Open, "2026-03-10", long_ago, now).await;
    stored_deal(&mut conn, "rep-c", Won, "2026-01-01", long_ago, long_ago).await;
    let past_plan = stored_deal(&mut conn, "rep-c", Open, "2026-12-31", long_ago, now).await;
    opportunities::set_plan(&mut conn, &past_plan, "proposal", "2026-03-09")
        .await
        .unwrap();
    let planned = stored_deal(&mut conn, "rep-c", Open, "2026-12-31", long_ago, long_ago).await;
    opportunities::set_plan(&mut conn, &planned, "proposal", "2026-03-10")
        .await
        .unwrap();
    let in_stage_31_days =
        stored_deal(&mut conn, "rep-c", Open, "2026-12-31", long_ago, now - 31 * day).await;
    stored_deal(&mut conn, "rep-c", Open, "2026-12-31", long_ago, now - 30 * day).await;
    let moved_on = stored_deal(&mut conn, "rep-c", Open, "2026-12-31", long_ago, long_ago).await;
    opportunities::enter_stage(&mut conn, &moved_on, "negotiation", "", now)
        .await
        .unwrap();
    // A deal moved on by the release before the copy of the visit on the opportunity: its copy
    // still has the visit before.
    let moved_by_the_release_before =
        stored_deal(&mut conn, "rep-c", Open, "2026-12-31", long_ago, long_ago).await;
    opportunities::enter_stage(&mut conn, &moved_by_the_release_before, "negotiation", "", now)
        .await
        .unwrap();
    sqlx::query("UPDATE opportunities SET stage_entered_at = $1 WHERE id = $2")
        .bind(long_ago)
        .bind(&moved_by_the_release_before)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    let candidates = || async {
        let mut conn = db.pool().acquire().await.unwrap();
        reporting::alert_candidates(&mut conn, "2026-03-10", now - 30 * day)
            .await
            .unwrap()
            .into_iter()
            .map(|deal| deal.0)
            .collect::<Vec<_>>()
    };
    // Read by its copy, the deal moved on by the release before is judged by its history.
    let mut late = vec![
        overdue.clone(),
        past_plan.clone(),
        in_stage_31_days.clone(),
        moved_by_the_release_before.clone(),
    ];
    late.sort();
    assert_eq!(candidates().await, late);

    let raised: Vec<(i32, String)> = crm_sales::alerts::run_once(&store)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.kind, a.subject_id))
        .collect();
    let mut stalled = [past_plan, in_stage_31_days];
    stalled.sort();
    let mut expected: Vec<(i32, String)> = stalled
        .into_iter()
        .map(|id| (AlertKind::StalledDeal as i32, id))
        .collect();
    expected.push((AlertKind::FallingNewOpportunities as i32, "rep-a".into()));
    expected.push((AlertKind::OverdueClose as i32, overdue));
    assert_eq!(raised, expected);
    assert_eq!(
        candidates().await,
        vec![moved_by_the_release_before],
        "the alerts of the others are raised"
    );
    assert!(crm_sales::alerts::run_once(&store).await.unwrap().is_empty());
}

backend_tests!(
    the_forecast_rounds_each_opportunity,
    territories_assign_accounts_by_rules,
    a_reassignment_runs_in_pages,
    quotas_attainment_reports_and_alerts,
    opportunities_route_to_the_territory_selling_their_product_line,
    the_alert_job_reads_the_late_deals_and_counts_new_ones_in_sql,
);
