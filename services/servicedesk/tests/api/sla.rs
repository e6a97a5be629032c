use std::time::Duration;

use crm_platform::clock::{Clock as _, ManualClock};
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_proto::servicedesk::v1::{self as pb, CaseStatus, CaseType, NotificationStatus};
use crm_servicedesk::domain::escalation::Chain;
use crm_testkit::{Backend, authed, backend_tests, eventually, fixtures, start};
use futures::StreamExt as _;
use tonic::transport::Channel;

use crate::helpers::{MINUTE, Suite, agent_token, case, violated};

async fn overdue_cases_climb_the_escalation_chain_once(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0933333333").await;
    let queue = suite.queue("General").await;
    let mut events = suite.nats.subscribe("crm.servicedesk.case.escalated").await;
    // Priority 1: resolution due in 240 business minutes, Monday 14:00.
    let urgent = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Line down"),
        )
        .await
        .unwrap();
    assert_eq!(urgent.priority, 1);
    let resolved = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Fixed fast"),
        )
        .await
        .unwrap();
    suite.resolve(&resolved.id, &resolved.etag, "Rebooted").await;
    let run = || async {
        let raised = suite
            .desk()
            .run_escalations(suite.req(pb::RunEscalationsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .raised;
        raised
            .into_iter()
            .map(|e| (e.case_id, e.level))
            .collect::<Vec<_>>()
    };
    assert!(run().await.is_empty(), "nothing is overdue yet");
    suite
        .clock
        .advance(Duration::from_micros((4 * 60 + 1) as u64 * MINUTE as u64));
    assert_eq!(run().await, [(urgent.id.clone(), "supervisor".to_string())]);
    assert!(run().await.is_empty(), "a level is raised once");
    // Three working days after opening (Thursday) the director hears of it; ten working days in
    // (Monday after next), everyone has.
    suite.clock.advance(Duration::from_secs(3 * 24 * 3600));
    assert_eq!(run().await, [(urgent.id.clone(), "director".to_string())]);
    suite.clock.advance(Duration::from_secs(11 * 24 * 3600));
    let levels: Vec<String> = run().await.into_iter().map(|(_, l)| l).collect();
    assert_eq!(levels, ["vp", "general_manager"]);
    let log = suite
        .desk()
        .list_escalations(suite.req(pb::ListEscalationsRequest {
            case_id: urgent.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .escalations;
    assert_eq!(log.len(), 4);
    // Every case's escalations a page at a time, newest first; the two raised at the same
    // instant in level order, each on a page of its own.
    let (paged, pages) = crm_testkit::all_pages(|page_token| {
        let mut desk = suite.desk();
        let request = suite.req(pb::ListEscalationsRequest {
            page_size: 1,
            page_token,
            ..Default::default()
        });
        async move {
            let page = desk.list_escalations(request).await.unwrap().into_inner();
            let levels = page.escalations.into_iter().map(|e| e.level).collect();
            (levels, page.next_page_token)
        }
    })
    .await;
    assert_eq!(paged, ["general_manager", "vp", "director", "supervisor"]);
    assert_eq!(pages, 4);
    // Each escalation is published once.
    let mut published = Vec::new();
    while published.len() < 4 {
        let msg = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("escalation event")
            .unwrap();
        let e: pb::CaseEscalated = prost::Message::decode(msg.payload).unwrap();
        published.push(e.escalation.unwrap().level);
    }
    assert_eq!(published, ["supervisor", "director", "vp", "general_manager"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.next())
            .await
            .is_err()
    );
}

async fn a_tier_change_reprioritises_open_cases_and_callers_are_identified(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "+886 2 2345 6789").await;
    let queue = suite.queue("General").await;
    let inquiry = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Inquiry, 3, "Plan change"),
        )
        .await
        .unwrap();
    assert_eq!((inquiry.priority, inquiry.customer_tier.as_str()), (3, ""));
    // An outage is urgent whatever her tier; a resolved case keeps the tier it was handled at.
    let outage = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Line down"),
        )
        .await
        .unwrap();
    assert_eq!(outage.priority, 1);
    let done = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Inquiry, 3, "Invoice copy"),
        )
        .await
        .unwrap();
    suite.resolve(&done.id, &done.etag, "Sent").await;
    let entries = suite.get(&inquiry.id).await.timeline.len();
    let mut moves = suite
        .nats
        .subscribe("crm.servicedesk.case.priority_changed")
        .await;

    // Ada becomes a top customer: her open case moves up.
    let usd = |amount_minor| {
        Some(Money {
            amount_minor,
            currency_code: "USD".into(),
        })
    };
    suite
        .customers
        .clone()
        .set_party_value(suite.req(cpb::SetPartyValueRequest {
            party_id: ada.id.clone(),
            lifetime_revenue: usd(5_000_000),
            trailing_12m_revenue: usd(1_000_000),
        }))
        .await
        .unwrap();
    suite
        .customers
        .clone()
        .recompute_value_tiers(suite.req(cpb::RecomputeValueTiersRequest {}))
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "case reprioritised", || async {
        let c = suite.get(&inquiry.id).await;
        (c.priority == 2 && c.customer_tier == "top").then_some(())
    })
    .await;
    // The case that moved says so on its timeline, numbered after what it had, and in one
    // event; the outage takes the tier without moving; the resolved case is left as it was.
    let moved = suite.get(&inquiry.id).await;
    let entry = moved.timeline.last().unwrap();
    assert_eq!(
        (entry.kind.as_str(), entry.text.as_str(), moved.timeline.len()),
        ("priority", "priority 3 -> 2 (customer tier top)", entries + 1)
    );
    let outage = suite.get(&outage.id).await;
    assert_eq!((outage.priority, outage.customer_tier.as_str()), (1, "top"));
    assert!(outage.timeline.iter().all(|e| e.kind != "priority"));
    assert_eq!(suite.get(&done.id).await.customer_tier, "");
    let msg = tokio::time::timeout(Duration::from_secs(30), moves.next())
        .await
        .expect("a priority event")
        .unwrap();
    let e: pb::CasePriorityChanged = prost::Message::decode(msg.payload).unwrap();
    let announced = e.case.unwrap();
    assert_eq!(
        (announced.id.as_str(), announced.priority, e.previous_priority),
        (inquiry.id.as_str(), 2, 3)
    );
    assert_eq!(
        announced.etag, moved.etag,
        "the event carries the version written"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), moves.next())
            .await
            .is_err(),
        "one event: the outage did not move"
    );
    // New cases of a top customer get the tier's shorter SLA: priority 2 halves to 30 minutes.
    let next = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Inquiry, 3, "Roaming"),
        )
        .await
        .unwrap();
    assert_eq!(next.priority, 2);
    let response_minutes = (next.response_due_time.unwrap().seconds - next.open_time.unwrap().seconds) / 60;
    assert_eq!(response_minutes, 30);

    // The call centre recognises her number however it is written, with her open cases and
    // where they stand against their SLAs.
    suite.clock.advance(Duration::from_secs(3600));
    let call = suite
        .desk()
        .identify_caller(authed(
            pb::IdentifyCallerRequest {
                phone: "00886-2-2345-6789".into(),
            },
            &agent_token("amy"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(call.identified);
    assert_eq!(
        (
            call.party_id.as_str(),
            call.display_name.as_str(),
            call.tier.as_str()
        ),
        (ada.id.as_str(), "Ada Chen", "top")
    );
    assert_eq!(call.open_cases.len(), 3);
    let sla = call.sla.iter().find(|s| s.case_id == next.id).unwrap();
    assert!(sla.response_breached, "no reply within 30 minutes");
    assert!(!sla.resolution_breached);
    // Priority 2 for a top customer: 480 minutes to resolve, 60 of them gone.
    assert_eq!(sla.minutes_to_resolution_due, 420);

    let unknown = suite
        .desk()
        .identify_caller(suite.req(pb::IdentifyCallerRequest {
            phone: "+1 555 0100 999".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!unknown.identified && unknown.open_cases.is_empty());
    let err = suite
        .desk()
        .identify_caller(suite.req(pb::IdentifyCallerRequest { phone: "12".into() }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["phone"]);

    // A new number identifies her once it is copied, and the old one no longer does.
    let current = suite
        .customers
        .clone()
        .get_party(suite.req(cpb::GetPartyRequest { id: ada.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    suite
        .customers
        .clone()
        .update_party(suite.req(cpb::UpdatePartyRequest {
            party: Some(cpb::Party {
                contact_points: vec![fixtures::contact(
                    cpb::ContactPointKind::Phone,
                    "+886 2 2345 0000",
                )],
                ..current
            }),
            update_mask: fixtures::mask(&["contact_points"]),
        }))
        .await
        .unwrap();
    let caller = |phone: &'static str| {
        let desk = suite.desk();
        let request = suite.req(pb::IdentifyCallerRequest { phone: phone.into() });
        async move {
            let mut desk = desk;
            desk.identify_caller(request).await.unwrap().into_inner().party_id
        }
    };
    eventually(Duration::from_secs(30), "new number copied", || async {
        (caller("+886 2 2345 0000").await == ada.id).then_some(())
    })
    .await;
    assert_eq!(caller("+886 2 2345 6789").await, "", "the old number is gone");

    // An erased customer's case texts are wiped and the number no longer identifies them.
    suite
        .desk()
        .add_comment(suite.req(pb::AddCommentRequest {
            id: next.id.clone(),
            text: "Ada asked us to call her at home".into(),
            internal: false,
        }))
        .await
        .unwrap();
    let etag = suite.get(&next.id).await.etag;
    suite
        .desk()
        .change_case_status(suite.req(pb::ChangeCaseStatusRequest {
            id: next.id.clone(),
            etag,
            status: CaseStatus::InProgress as i32,
            resolution: String::new(),
        }))
        .await
        .unwrap();
    assert_eq!(
        suite
            .notifications(&ada.id, NotificationStatus::Unspecified)
            .await
            .len(),
        2,
        "two pending status notices: the invoice copy's resolution and this one's"
    );
    suite
        .customers
        .clone()
        .erase_party(suite.req(cpb::ErasePartyRequest {
            id: ada.id.clone(),
            reason: "data subject request".into(),
        }))
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "customer erased", || async {
        let call = suite
            .desk()
            .identify_caller(suite.req(pb::IdentifyCallerRequest {
                phone: "+886 2 2345 0000".into(),
            }))
            .await
            .ok()?
            .into_inner();
        (!call.identified).then_some(())
    })
    .await;
    let indexed = "SELECT COUNT(*) FROM customer_phones WHERE party_id = $1";
    fixtures::rows_reach(&suite.desk_db, indexed, Some(&ada.id), 0, "phones unindexed").await;
    let wiped = suite.get(&next.id).await;
    assert!(
        wiped
            .timeline
            .iter()
            .filter(|t| t.kind == "comment")
            .all(|t| t.text.is_empty())
    );
    assert!(
        suite
            .notifications(&ada.id, NotificationStatus::Unspecified)
            .await
            .is_empty(),
        "nothing more is sent to an erased customer"
    );
    // And no new case is opened about her.
    let refused = suite
        .open(&suite.admin, case(&ada.id, &queue, CaseType::Inquiry, 3, "Again"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("erased"), "{}", refused.message());
}

async fn the_escalation_chain_is_configurable(backend: Backend) {
    let suite = Suite::start_with(backend, |config| {
        config.escalation_chain = Chain::parse("team_lead=response,manager=2h").unwrap();
    })
    .await;
    let queue = suite.queue("General").await;
    // Priority 3: first response due in 240 business minutes.
    let silent = suite
        .open(&suite.admin, case("p-1", &queue, CaseType::Inquiry, 3, "Silent"))
        .await
        .unwrap();
    let answered = suite
        .open(
            &suite.admin,
            case("p-2", &queue, CaseType::Inquiry, 3, "Answered"),
        )
        .await
        .unwrap();
    let reply = pb::AddCommentRequest {
        id: answered.id.clone(),
        text: "Looking into it".into(),
        internal: false,
    };
    suite
        .desk()
        .add_comment(authed(reply, &agent_token("amy")))
        .await
        .unwrap();
    let run = || async {
        let raised = suite
            .desk()
            .run_escalations(suite.req(pb::RunEscalationsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .raised;
        let mut raised: Vec<(String, String)> = raised.into_iter().map(|e| (e.case_id, e.level)).collect();
        raised.sort();
        raised
    };
    suite.clock.advance(Duration::from_secs(2 * 3600));
    let mut expected = vec![
        (silent.id.clone(), "manager".to_string()),
        (answered.id.clone(), "manager".to_string()),
    ];
    expected.sort();
    assert_eq!(run().await, expected);
    suite.clock.advance(Duration::from_secs(2 * 3600 + 60));
    assert_eq!(
        run().await,
        [(silent.id.clone(), "team_lead".to_string())],
        "answered cases skip the response level"
    );
    let log = suite
        .desk()
        .list_escalations(suite.req(pb::ListEscalationsRequest {
            case_id: silent.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .escalations;
    let reasons: Vec<&str> = log.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["first response overdue", "unresolved for 2 business hours"]
    );
}

/// A case scheduled for its next level under one chain is looked at again when the chain
/// changes (a new level may be due before the old next one); a case changed after the job read
/// it keeps being due.
async fn a_changed_chain_reschedules_open_cases(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0933333333").await;
    let queue = suite.queue("General").await;
    let urgent = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Line down"),
        )
        .await
        .unwrap();
    let run = |desk: ServiceDeskServiceClient<Channel>| {
        let req = suite.req(pb::RunEscalationsRequest {});
        async move {
            let mut desk = desk;
            desk.run_escalations(req)
                .await
                .unwrap()
                .into_inner()
                .raised
                .into_iter()
                .map(|e| e.level)
                .collect::<Vec<_>>()
        }
    };
    // Past its resolution time (Monday 14:00): the supervisor; the director is next, three working days in.
    suite
        .clock
        .advance(Duration::from_micros((4 * 60 + 1) as u64 * MINUTE as u64));
    assert_eq!(run(suite.desk()).await, ["supervisor"]);
    let check_at = || async {
        sqlx::query_scalar::<_, i64>("SELECT escalation_check_at FROM cases WHERE id = $1")
            .bind(&urgent.id)
            .fetch_one(suite.desk_db.pool())
            .await
            .unwrap()
    };
    assert!(
        check_at().await > suite.clock.now_micros(),
        "scheduled for the director"
    );

    // A desk with a chain that has a level at 5 hours, five hours and a minute in.
    suite.clock.advance(Duration::from_secs(3600));
    let clock = ManualClock::at(suite.clock.now_micros());
    let changed = start::<crm_servicedesk::Servicedesk>(
        &suite.desk_url,
        suite.nats.client().await,
        |instance, config| {
            instance.clock = clock.clone();
            config.escalation_interval = Duration::from_secs(3600);
            config.notification_interval = Duration::from_secs(3600);
            config.escalation_chain = Chain::parse("supervisor=resolution,lead=5h,director=72h").unwrap();
        },
    )
    .await;
    let levels = run(ServiceDeskServiceClient::new(changed.channel())).await;
    assert_eq!(
        levels,
        ["lead"],
        "the new level is raised though the case was scheduled for three working days"
    );

    // The job keeps a check time only for the case as it read it.
    let version: i64 = sqlx::query_scalar("SELECT version FROM cases WHERE id = $1")
        .bind(&urgent.id)
        .fetch_one(suite.desk_db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE cases SET escalation_check_at = 0, version = version + 1 WHERE id = $1")
        .bind(&urgent.id)
        .execute(suite.desk_db.pool())
        .await
        .unwrap();
    let mut conn = suite.desk_db.pool().acquire().await.unwrap();
    crm_servicedesk::storage::cases::set_escalation_check(&mut conn, &urgent.id, version, i64::MAX)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(check_at().await, 0, "a case changed since it was read stays due");
}

backend_tests!(
    a_changed_chain_reschedules_open_cases,
    the_escalation_chain_is_configurable,
    overdue_cases_climb_the_escalation_chain_once,
    a_tier_change_reprioritises_open_cases_and_callers_are_identified,
);
