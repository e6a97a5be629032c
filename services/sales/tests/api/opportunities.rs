use crm_auth::Role;
use crm_proto::sales::v1::{self as pb, ActivityKind, OpportunityStatus};
use crm_testkit::{Backend, authed, backend_tests, token};
use tonic::Code;

use crate::helpers::{Suite, mask, money, violated};

async fn opportunities_move_through_the_pipeline_with_plans(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let o = suite.opportunity(&acme, 80_000_00).await;
    assert_eq!(
        (o.stage_code.as_str(), o.win_probability_bps),
        ("prospecting", 1000)
    );
    assert_eq!(o.stage_history.len(), 1);

    let planned = suite
        .pipeline
        .clone()
        .set_stage_plan(suite.req(pb::SetStagePlanRequest {
            id: o.id.clone(),
            etag: o.etag.clone(),
            plans: vec![
                pb::StagePlan {
                    stage_code: "prospecting".into(),
                    planned_leave_date: "2030-01-15".into(),
                },
                pb::StagePlan {
                    stage_code: "proposal".into(),
                    planned_leave_date: "2030-03-01".into(),
                },
            ],
        }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(planned.stage_history[0].planned_leave_date, "2030-01-15");
    let moved = suite
        .pipeline
        .clone()
        .move_opportunity_stage(suite.req(pb::MoveOpportunityStageRequest {
            id: o.id.clone(),
            etag: planned.etag.clone(),
            stage_code: "proposal".into(),
            planned_leave_date: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (moved.stage_code.as_str(), moved.win_probability_bps),
        ("proposal", 5000)
    );
    assert_eq!(moved.stage_history.len(), 2);
    assert!(
        moved.stage_history[0].leave_time.is_some(),
        "actual leave date recorded"
    );
    assert_eq!(
        moved.stage_history[1].planned_leave_date, "2030-03-01",
        "the plan made before reaching the stage applies"
    );

    let bad = suite
        .pipeline
        .clone()
        .move_opportunity_stage(suite.req(pb::MoveOpportunityStageRequest {
            id: o.id.clone(),
            etag: moved.etag.clone(),
            stage_code: "closed_won".into(),
            planned_leave_date: "soon".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), vec!["planned_leave_date"]);
    let stale = suite
        .pipeline
        .clone()
        .move_opportunity_stage(suite.req(pb::MoveOpportunityStageRequest {
            id: o.id.clone(),
            etag: o.etag.clone(),
            stage_code: "negotiation".into(),
            planned_leave_date: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    let updated = suite
        .pipeline
        .clone()
        .update_opportunity(suite.req(pb::UpdateOpportunityRequest {
            opportunity: Some(pb::Opportunity {
                id: o.id.clone(),
                etag: moved.etag.clone(),
                next_step: "Send proposal".into(),
                amount: money(90_000_00, "USD"),
                ..Default::default()
            }),
            update_mask: mask(&["next_step", "amount"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(updated.next_step, "Send proposal");
    let no_reason = suite
        .pipeline
        .clone()
        .close_opportunity(suite.req(pb::CloseOpportunityRequest {
            id: o.id.clone(),
            etag: updated.etag.clone(),
            won: false,
            lost_reason: " ".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&no_reason), vec!["lost_reason"]);
    let lost = suite
        .pipeline
        .clone()
        .close_opportunity(suite.req(pb::CloseOpportunityRequest {
            id: o.id.clone(),
            etag: updated.etag.clone(),
            won: false,
            lost_reason: "price".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (lost.status, lost.stage_code.as_str(), lost.lost_reason.as_str()),
        (OpportunityStatus::Lost as i32, "closed_lost", "price")
    );
    assert!(lost.close_time.is_some());
    let closed = suite
        .pipeline
        .clone()
        .move_opportunity_stage(suite.req(pb::MoveOpportunityStageRequest {
            id: o.id.clone(),
            etag: lost.etag.clone(),
            stage_code: "proposal".into(),
            planned_leave_date: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);

    let activity = suite
        .pipeline
        .clone()
        .log_activity(suite.req(pb::LogActivityRequest {
            activity: Some(pb::Activity {
                kind: ActivityKind::Call as i32,
                subject: "Debrief".into(),
                opportunity_id: o.id.clone(),
                duration_minutes: 15,
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    assert_eq!(activity.party_id, acme.id);
    let listed = suite
        .pipeline
        .clone()
        .list_activities(suite.req(pb::ListActivitiesRequest {
            party_id: acme.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.activities.len(), 1);
    let types = suite.sales_event_types().await;
    assert_eq!(
        types,
        vec![
            "opportunity.created",
            "opportunity.stage_changed",
            "opportunity.lost"
        ]
    );
}

async fn opportunity_rules(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let missing = suite
        .pipeline
        .clone()
        .create_opportunity(suite.req(pb::CreateOpportunityRequest {
            opportunity: Some(pb::Opportunity {
                name: "x".into(),
                party_id: "0192f0c0-0000-7000-8000-000000000000".into(),
                amount: money(1, "USD"),
                expected_close_date: "2030-01-01".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&missing), vec!["opportunity.party_id"]);
    let bad = suite
        .pipeline
        .clone()
        .create_opportunity(suite.req(pb::CreateOpportunityRequest {
            opportunity: Some(pb::Opportunity {
                amount: money(-1, "usd"),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec![
            "opportunity.name",
            "opportunity.party_id",
            "opportunity.amount.amount_minor",
            "opportunity.amount.currency_code",
            "opportunity.expected_close_date"
        ]
    );

    // A rep owns what they open; another rep can neither read nor change it, their manager can.
    let alice = crate::helpers_token("alice", Role::SalesRep, "north");
    let o = suite.opportunity_as(&alice, &acme, 1_000).await;
    assert_eq!((o.owner_id.as_str(), o.team_id.as_str()), ("alice", "north"));
    let bob = crate::helpers_token("bob", Role::SalesRep, "south");
    let err = suite
        .pipeline
        .clone()
        .get_opportunity(authed(pb::GetOpportunityRequest { id: o.id.clone() }, &bob))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let listed = suite
        .pipeline
        .clone()
        .list_opportunities(authed(pb::ListOpportunitiesRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.opportunities.is_empty());
    let manager = crate::helpers_token("mia", Role::SalesManager, "north");
    suite
        .pipeline
        .clone()
        .get_opportunity(authed(pb::GetOpportunityRequest { id: o.id.clone() }, &manager))
        .await
        .unwrap();
    let marketer = token("m", &[Role::Marketer]);
    let err = suite
        .pipeline
        .clone()
        .close_opportunity(authed(
            pb::CloseOpportunityRequest {
                id: o.id.clone(),
                etag: o.etag.clone(),
                won: true,
                lost_reason: String::new(),
            },
            &marketer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // The pipeline is configurable, within rules.
    let stages = suite
        .pipeline
        .clone()
        .get_pipeline(suite.req(pb::GetPipelineRequest {}))
        .await
        .unwrap()
        .into_inner()
        .stages;
    assert_eq!(stages.len(), 6);
    let err = suite
        .pipeline
        .clone()
        .update_pipeline(suite.req(pb::UpdatePipelineRequest {
            stages: stages[..4].to_vec(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["stages"]);
    let mut renamed = stages.clone();
    renamed.remove(1); // qualification is unused
    renamed[0].win_probability_bps = 500;
    let updated = suite
        .pipeline
        .clone()
        .update_pipeline(suite.req(pb::UpdatePipelineRequest { stages: renamed }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.stages.len(), 5);
    let mut without_prospecting = stages.clone();
    without_prospecting.remove(0);
    without_prospecting.remove(0);
    let err = suite
        .pipeline
        .clone()
        .update_pipeline(suite.req(pb::UpdatePipelineRequest {
            stages: without_prospecting,
        }))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "open opportunities sit in prospecting"
    );
}

async fn activity_input_is_checked(backend: Backend) {
    let suite = Suite::start(backend).await;
    let err = suite
        .pipeline
        .clone()
        .log_activity(suite.req(pb::LogActivityRequest {
            activity: Some(pb::Activity {
                duration_minutes: -5,
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        vec![
            "activity.kind",
            "activity.subject",
            "activity.party_id",
            "activity.duration_minutes"
        ]
    );
    let err = suite
        .pipeline
        .clone()
        .list_activities(suite.req(pb::ListActivitiesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["party_id"]);
    let acme = suite.organization("Acme").await;
    for subject in ["First call", "Second call", "Visit"] {
        suite
            .pipeline
            .clone()
            .log_activity(suite.req(pb::LogActivityRequest {
                activity: Some(pb::Activity {
                    kind: ActivityKind::Visit as i32,
                    subject: subject.into(),
                    party_id: acme.id.clone(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
    }
    let seen: Vec<String> = activities_in_pages(&suite, &acme.id)
        .await
        .into_iter()
        .map(|a| a.subject)
        .collect();
    assert_eq!(
        seen,
        vec!["Visit", "Second call", "First call"],
        "newest first, each once"
    );
    // Activities logged at the same time are paged through by id, each once.
    let globex = suite.organization("Globex").await;
    let at = prost_types::Timestamp {
        seconds: 1_767_225_600,
        nanos: 0,
    };
    for subject in ["A", "B", "C", "D", "E"] {
        suite
            .pipeline
            .clone()
            .log_activity(suite.req(pb::LogActivityRequest {
                activity: Some(pb::Activity {
                    kind: ActivityKind::Call as i32,
                    subject: subject.into(),
                    party_id: globex.id.clone(),
                    occur_time: Some(at),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
    }
    let ids: Vec<String> = activities_in_pages(&suite, &globex.id)
        .await
        .into_iter()
        .map(|a| a.id)
        .collect();
    let mut descending = ids.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, descending, "ties by id, from the last");
    descending.dedup();
    assert_eq!(descending.len(), 5, "each once: {ids:?}");
}

/// Every activity of `party_id`, listed two a page.
async fn activities_in_pages(suite: &Suite, party_id: &str) -> Vec<pb::Activity> {
    let (mut all, mut token) = (Vec::new(), String::new());
    loop {
        let page = suite
            .pipeline
            .clone()
            .list_activities(suite.req(pb::ListActivitiesRequest {
                party_id: party_id.into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        all.extend(page.activities);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

/// Reps record the competitors of a deal from the competitor list the customers service keeps
/// (administrators edit it there) and see their names; an id not on the list is refused.
async fn competitors_are_recorded_on_deals_from_the_list(backend: Backend) {
    use crm_proto::customers::v1 as cpb;
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let competitor = |name: &str| {
        let mut customers = suite.customers.clone();
        let req = suite.req(cpb::CreateCompetitorRequest {
            competitor: Some(cpb::Competitor {
                name: name.into(),
                ..Default::default()
            }),
        });
        async move {
            customers
                .create_competitor(req)
                .await
                .unwrap()
                .into_inner()
                .competitor
                .unwrap()
                .id
        }
    };
    let (rival, other) = (competitor("Rival Systems").await, competitor("Other Corp").await);
    // Sales hears of the list by its events.
    crm_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the competitors copied",
        || async {
            let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM competitors")
                .fetch_one(suite.sales_db.pool())
                .await
                .unwrap();
            (known == 2).then_some(())
        },
    )
    .await;
    let rep = crate::helpers::seller("rita", Role::SalesRep, "north", &[]);
    let deal = |competitor_ids: Vec<String>| pb::CreateOpportunityRequest {
        opportunity: Some(pb::Opportunity {
            name: "Fleet renewal".into(),
            party_id: acme.id.clone(),
            amount: money(10_000_00, "USD"),
            expected_close_date: "2030-06-30".into(),
            competitor_ids,
            ..Default::default()
        }),
    };
    let o = suite
        .pipeline
        .clone()
        .create_opportunity(authed(deal(vec![rival.clone()]), &rep))
        .await
        .expect("a deal against a listed competitor")
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(o.competitor_names, vec!["Rival Systems".to_string()]);
    let err = suite
        .pipeline
        .clone()
        .create_opportunity(authed(deal(vec!["no-such-competitor".into()]), &rep))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["opportunity.competitor_ids[0]"]);

    let mut both = o.clone();
    both.competitor_ids = vec![rival.clone(), other.clone()];
    let updated = suite
        .pipeline
        .clone()
        .update_opportunity(authed(
            pb::UpdateOpportunityRequest {
                opportunity: Some(both),
                update_mask: mask(&["competitor_ids"]),
            },
            &rep,
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        updated.competitor_names,
        vec!["Rival Systems".to_string(), "Other Corp".to_string()]
    );

    // A competitor deleted from the list stays on the deal it was recorded on, without a name.
    suite
        .customers
        .clone()
        .delete_competitor(suite.req(cpb::DeleteCompetitorRequest { id: other.clone() }))
        .await
        .unwrap();
    crm_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the deletion copied",
        || async {
            let listed = suite
                .pipeline
                .clone()
                .list_opportunities(authed(pb::ListOpportunitiesRequest::default(), &rep))
                .await
                .unwrap()
                .into_inner()
                .opportunities;
            listed
                .iter()
                .any(|l| {
                    l.id == o.id && l.competitor_names == vec!["Rival Systems".to_string(), String::new()]
                })
                .then_some(())
        },
    )
    .await;
}

backend_tests!(
    competitors_are_recorded_on_deals_from_the_list,
    opportunities_move_through_the_pipeline_with_plans,
    opportunity_rules,
    activity_input_is_checked
);
