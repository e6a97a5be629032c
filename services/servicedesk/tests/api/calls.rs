use std::time::Duration;

use crm_proto::marketing::v1::CustomerAtRisk;
use crm_proto::servicedesk::v1::{self as pb, CallListSource, CallOutcome, CaseStatus, CaseType};
use crm_testkit::{Backend, authed, backend_tests, eventually};
use tonic::Code;

use crate::helpers::{MINUTE, MONDAY_10AM, Suite, agent_token, case, violated};

async fn outbound_call_lists_follow_ups_and_at_risk_customers(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911000001").await;
    let bob = suite.customer("Bob", "0911000002").await;
    let cyd = suite.customer("Cyd", "0911000003").await;
    let queue = suite.queue("General").await;
    let staff = agent_token("amy");

    // Ada's case waits on her; Bob's is resolved and not rated yet; Cyd has nothing open.
    let waiting = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Request, 3, "Need a form"),
        )
        .await
        .unwrap();
    let resolved = suite
        .open(
            &suite.admin,
            case(&bob.id, &queue, CaseType::Request, 3, "Address change"),
        )
        .await
        .unwrap();
    for (c, status, resolution) in [
        (&waiting, CaseStatus::WaitingOnCustomer, ""),
        (&resolved, CaseStatus::Resolved, "Address updated"),
    ] {
        suite
            .desk()
            .change_case_status(suite.req(pb::ChangeCaseStatusRequest {
                id: c.id.clone(),
                etag: c.etag.clone(),
                status: status as i32,
                resolution: resolution.into(),
            }))
            .await
            .unwrap();
    }
    let create = |name: &str, source: CallListSource, party_ids: Vec<String>| pb::CreateCallListRequest {
        name: name.into(),
        source: source as i32,
        party_ids,
    };
    let list = suite
        .desk()
        .create_call_list(authed(
            create("Follow-ups", CallListSource::FollowUpsDue, vec![]),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .call_list
        .unwrap();
    let mut entries: Vec<(String, String, String)> = list
        .entries
        .iter()
        .map(|e| (e.party_id.clone(), e.phone.clone(), e.reason.clone()))
        .collect();
    entries.sort();
    let mut expected = vec![
        (
            ada.id.clone(),
            "0911000001".to_string(),
            "case waiting on the customer".to_string(),
        ),
        (
            bob.id.clone(),
            "0911000002".to_string(),
            "satisfaction follow-up".to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(entries, expected);

    // Marketing says Cyd is at risk: Cyd is on the at-risk list.
    let at_risk = CustomerAtRisk {
        party_id: cyd.id.clone(),
        probability_alive_bps: 1200,
    };
    suite
        .nats
        .publish_event("marketing", "customer.at_risk", &cyd.id, &at_risk)
        .await;
    let db = suite.desk_db.clone();
    eventually(Duration::from_secs(30), "at-risk flag copied", || {
        let (db, id) = (db.clone(), cyd.id.clone());
        async move {
            let flag: i64 = sqlx::query_scalar("SELECT at_risk FROM customers WHERE party_id = $1")
                .bind(id)
                .fetch_one(db.pool())
                .await
                .ok()?;
            (flag == 1).then_some(())
        }
    })
    .await;
    let at_risk = suite
        .desk()
        .create_call_list(authed(
            create("Save them", CallListSource::AtRisk, vec![]),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .call_list
        .unwrap();
    assert_eq!(at_risk.entries.len(), 1);
    let notices = suite
        .desk()
        .list_notifications(suite.req(pb::ListNotificationsRequest {
            recipient: cyd.id.clone(),
            status: 0,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(
        notices.iter().map(|n| n.template.as_str()).collect::<Vec<_>>(),
        ["at_risk_outreach"]
    );
    assert_eq!(at_risk.entries[0].party_id, cyd.id);

    // A list of given parties skips unknown ones; outcomes are recorded per call.
    let campaign = suite
        .desk()
        .create_call_list(authed(
            create(
                "Campaign",
                CallListSource::Parties,
                vec![bob.id.clone(), "unknown".into(), bob.id.clone()],
            ),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .call_list
        .unwrap();
    assert_eq!(campaign.entries.len(), 1);
    let outcome = |party: &str, outcome: CallOutcome| pb::RecordCallOutcomeRequest {
        call_list_id: campaign.id.clone(),
        party_id: party.into(),
        outcome: outcome as i32,
        note: "Interested in the upgrade".into(),
    };
    let entry = suite
        .desk()
        .record_call_outcome(authed(outcome(&bob.id, CallOutcome::Reached), &staff))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(
        (entry.outcome, entry.agent_id.as_str()),
        (CallOutcome::Reached as i32, "amy")
    );
    let err = suite
        .desk()
        .record_call_outcome(authed(outcome(&ada.id, CallOutcome::Reached), &staff))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = suite
        .desk()
        .record_call_outcome(authed(outcome(&bob.id, CallOutcome::Unspecified), &staff))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["outcome"]);
    let err = suite
        .desk()
        .create_call_list(authed(create("", CallListSource::Parties, vec![]), &staff))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["name", "party_ids"]);
    let get = |id: &str, page_size: i32, page_token: String, uncalled_only: bool| {
        authed(
            pb::GetCallListRequest {
                id: id.into(),
                page_size,
                page_token,
                uncalled_only,
            },
            &staff,
        )
    };
    let stored = suite
        .desk()
        .get_call_list(get(&campaign.id, 0, String::new(), false))
        .await
        .unwrap()
        .into_inner()
        .call_list
        .unwrap();
    assert_eq!(stored.entries[0].note, "Interested in the upgrade");
    // Recorded again (called back later), the customer still counts as called once.
    suite
        .desk()
        .record_call_outcome(authed(outcome(&bob.id, CallOutcome::Declined), &staff))
        .await
        .unwrap();
    let stored = suite
        .desk()
        .get_call_list(get(&campaign.id, 0, String::new(), false))
        .await
        .unwrap()
        .into_inner()
        .call_list
        .unwrap();
    assert_eq!((stored.entry_count, stored.called_count), (1, 1));
    assert_eq!(stored.entries[0].outcome, CallOutcome::Declined as i32);

    // A list is read a page of entries at a time, by party id; or only the entries still to call.
    assert_eq!((list.entry_count, list.called_count), (2, 0));
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = suite
            .desk()
            .get_call_list(get(&list.id, 1, token, false))
            .await
            .unwrap()
            .into_inner();
        let entries = page.call_list.unwrap().entries;
        assert_eq!(entries.len(), 1);
        seen.extend(entries.into_iter().map(|e| e.party_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let mut both = vec![ada.id.clone(), bob.id.clone()];
    both.sort();
    assert_eq!(seen, both);
    let uncalled = suite
        .desk()
        .get_call_list(get(&campaign.id, 0, String::new(), true))
        .await
        .unwrap()
        .into_inner()
        .call_list
        .unwrap();
    assert!(uncalled.entries.is_empty(), "{uncalled:?}");
    let err = suite
        .desk()
        .get_call_list(get(&list.id, -1, "not a token".into(), false))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["page_size", "page_token"]);

    // The lists, newest first, with their progress and without their entries, a page at a time.
    let lists = |page_token: String| {
        authed(
            pb::ListCallListsRequest {
                page_size: 2,
                page_token,
            },
            &staff,
        )
    };
    let first = suite
        .desk()
        .list_call_lists(lists(String::new()))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = first.call_lists.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["Campaign", "Save them"]);
    assert!(first.call_lists.iter().all(|l| l.entries.is_empty()));
    assert_eq!(
        (first.call_lists[0].entry_count, first.call_lists[0].called_count),
        (1, 1)
    );
    let rest = suite
        .desk()
        .list_call_lists(lists(first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rest.call_lists
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["Follow-ups"]
    );
    assert!(rest.next_page_token.is_empty());
}

async fn the_service_report_measures_volume_slas_backlog_and_satisfaction(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911000009").await;
    let queue = suite.queue("General").await;
    suite.agent("amy", &queue, &[], 10).await;
    let staff = agent_token("amy");
    let desk = suite.desk();
    // Two phone cases and one by e-mail, all priority 3 (response due in 240 minutes).
    let mut ids = Vec::new();
    for channel in [
        pb::CaseChannel::Phone,
        pb::CaseChannel::Phone,
        pb::CaseChannel::Email,
    ] {
        let mut c = case(&ada.id, &queue, CaseType::Inquiry, 3, "Question");
        c.channel = channel as i32;
        ids.push(suite.open(&suite.admin, c).await.unwrap());
    }
    // The first is answered after 30 minutes and resolved after 60, then rated 4.
    suite.clock.advance(Duration::from_secs(30 * 60));
    let comment = pb::AddCommentRequest {
        id: ids[0].id.clone(),
        text: "On it".into(),
        internal: false,
    };
    let answered = desk
        .clone()
        .add_comment(authed(comment, &staff))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    suite.clock.advance(Duration::from_secs(30 * 60));
    desk.clone()
        .change_case_status(authed(
            pb::ChangeCaseStatusRequest {
                id: ids[0].id.clone(),
                etag: answered.etag,
                status: CaseStatus::Resolved as i32,
                resolution: "Explained".into(),
            },
            &staff,
        ))
        .await
        .unwrap();
    desk.clone()
        .rate_case(suite.req(pb::RateCaseRequest {
            id: ids[0].id.clone(),
            rating: 4,
            comment: String::new(),
        }))
        .await
        .unwrap();
    // Two days later the other two are still unanswered: both missed the response target.
    suite.clock.set(MONDAY_10AM + 2 * 24 * 60 * MINUTE);
    let report = desk
        .clone()
        .get_service_report(suite.req(pb::GetServiceReportRequest {
            period: "2026-11".into(),
            queue_id: queue.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((report.opened, report.resolved), (3, 1));
    let counts = |rows: &[pb::CountRow]| rows.iter().map(|r| (r.key.clone(), r.count)).collect::<Vec<_>>();
    assert_eq!(
        counts(&report.by_channel),
        [("email".to_string(), 1), ("phone".to_string(), 2)]
    );
    assert_eq!(counts(&report.by_type), [("inquiry".to_string(), 3)]);
    assert_eq!(report.response_compliance_bps, 3333);
    assert_eq!(report.resolution_compliance_bps, 10_000);
    assert_eq!(
        (report.mean_response_minutes, report.mean_resolution_minutes),
        (30, 60)
    );
    assert_eq!(counts(&report.backlog_ageing)[1], ("1-3d".to_string(), 2));
    assert_eq!(report.workload.len(), 1);
    assert_eq!(
        (report.workload[0].open_cases, report.workload[0].resolved_cases),
        (2, 1)
    );
    assert_eq!((report.mean_satisfaction_x100, report.rated), (400, 1));
    // Another period holds nothing; a malformed one is refused.
    let december = desk
        .clone()
        .get_service_report(suite.req(pb::GetServiceReportRequest {
            period: "2026-12".into(),
            queue_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(december.opened, 0);
    let err = desk
        .clone()
        .get_service_report(suite.req(pb::GetServiceReportRequest {
            period: "November".into(),
            queue_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["period"]);
}

backend_tests!(
    outbound_call_lists_follow_ups_and_at_risk_customers,
    the_service_report_measures_volume_slas_backlog_and_satisfaction,
);
