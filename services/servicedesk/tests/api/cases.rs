use crm_auth::Role;
use crm_proto::servicedesk::v1::{self as pb, CaseStatus, CaseType};
use crm_testkit::{Backend, authed, backend_tests, token};
use tonic::Code;

use crate::helpers::{MINUTE, MONDAY_10AM, Suite, agent_token, case, customer_token, micros, violated};

async fn cases_are_prioritised_routed_and_given_sla_due_times(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "+886 2 1234 5678").await;
    let queue = suite.queue("Billing").await;
    suite.agent("amy", &queue, &["billing"], 2).await;
    suite.agent("bob", &queue, &[], 2).await;

    // A billing complaint of severity 3: one step more urgent (priority 2) and routed to the
    // agent with the skill.
    let mut complaint = case(&ada.id, &queue, CaseType::Complaint, 3, "Charged twice");
    complaint.category = "Billing".into();
    complaint.partner_id = " dealer-7 ".into();
    let c = suite.open(&suite.admin, complaint).await.unwrap();
    assert_eq!(
        (c.priority, c.status, c.agent_id.as_str()),
        (2, CaseStatus::Assigned as i32, "amy")
    );
    // Priority 2: first response within 60 and resolution within 960 business minutes
    // (two working days of 09:00-17:00), counted from Monday 10:00.
    assert_eq!(
        c.partner_id, "dealer-7",
        "the partner complained about, for partners' scorecards"
    );
    assert_eq!(micros(&c.open_time), MONDAY_10AM);
    assert_eq!(micros(&c.response_due_time), MONDAY_10AM + 60 * MINUTE);
    assert_eq!(micros(&c.resolution_due_time), MONDAY_10AM + 2 * 24 * 60 * MINUTE);

    // The next billing case goes to amy again (free capacity and the skill), the third to bob
    // (amy is full).
    let mut second = case(&ada.id, &queue, CaseType::Inquiry, 3, "Invoice copy");
    second.category = "billing".into();
    assert_eq!(
        suite.open(&suite.admin, second.clone()).await.unwrap().agent_id,
        "amy"
    );
    assert_eq!(
        suite.open(&suite.admin, second.clone()).await.unwrap().agent_id,
        "bob"
    );
    assert_eq!(
        suite.open(&suite.admin, second.clone()).await.unwrap().agent_id,
        "bob"
    );
    // Everyone is at capacity: the case waits in the queue.
    let waiting = suite.open(&suite.admin, second).await.unwrap();
    assert_eq!(
        (waiting.status, waiting.agent_id.as_str()),
        (CaseStatus::New as i32, "")
    );
    let agents = suite
        .desk()
        .list_agents(suite.req(pb::ListAgentsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(agents.iter().map(|a| a.load).collect::<Vec<_>>(), vec![2, 2]);

    // The queue lists the most urgent first.
    let listed = suite
        .desk()
        .list_cases(suite.req(pb::ListCasesRequest {
            queue_id: queue.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 5);
    assert_eq!(listed[0].id, c.id);
    assert!(listed.windows(2).all(|w| w[0].priority <= w[1].priority));
    // Pages of two give the same list in the same order.
    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = suite
            .desk()
            .list_cases(suite.req(pb::ListCasesRequest {
                queue_id: queue.clone(),
                page_size: 2,
                page_token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.cases.len() <= 2);
        paged.extend(page.cases);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        paged.iter().map(|c| &c.id).collect::<Vec<_>>(),
        listed.iter().map(|c| &c.id).collect::<Vec<_>>()
    );
    let err = suite
        .desk()
        .list_cases(suite.req(pb::ListCasesRequest {
            page_size: -1,
            page_token: "not a token".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["page_size", "page_token"]);

    // An incident arrives while everyone is busy; when amy resolves a case she takes the most
    // urgent waiting case, not the oldest.
    let incident = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 1, "Outage"),
        )
        .await
        .unwrap();
    assert_eq!((incident.priority, incident.status), (1, CaseStatus::New as i32));
    suite
        .desk()
        .change_case_status(authed(
            pb::ChangeCaseStatusRequest {
                id: c.id.clone(),
                etag: c.etag.clone(),
                status: CaseStatus::Resolved as i32,
                resolution: "Refunded".into(),
            },
            &agent_token("amy"),
        ))
        .await
        .unwrap();
    assert_eq!(suite.get(&incident.id).await.agent_id, "amy");
    assert_eq!(suite.get(&waiting.id).await.status, CaseStatus::New as i32);
    // More capacity for bob: he takes the waiting case at once.
    suite.agent("bob", &queue, &[], 3).await;
    let taken = suite.get(&waiting.id).await;
    assert_eq!(
        (taken.agent_id.as_str(), taken.status),
        ("bob", CaseStatus::Assigned as i32)
    );

    // A case opened on Friday at 16:30 is due for first response on Monday at 09:30.
    suite.clock.set(MONDAY_10AM - 3 * 24 * 60 * MINUTE + 390 * MINUTE);
    let late = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Inquiry, 2, "Late call"),
        )
        .await
        .unwrap();
    assert_eq!(micros(&late.response_due_time), MONDAY_10AM - 30 * MINUTE);
}

async fn the_workflow_guards_status_changes_and_versions(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0912345678").await;
    let queue = suite.queue("General").await;
    suite.agent("amy", &queue, &[], 5).await;
    let agent = agent_token("amy");
    let c = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Request, 3, "New SIM card"),
        )
        .await
        .unwrap();
    let desk = suite.desk();

    let change = |etag: &str, status: CaseStatus, resolution: &str| pb::ChangeCaseStatusRequest {
        id: c.id.clone(),
        etag: etag.into(),
        status: status as i32,
        resolution: resolution.into(),
    };
    // Closing an unresolved case and resolving without a resolution are refused.
    let err = desk
        .clone()
        .change_case_status(authed(change(&c.etag, CaseStatus::Closed, ""), &agent))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let err = desk
        .clone()
        .change_case_status(authed(change(&c.etag, CaseStatus::Resolved, ""), &agent))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["resolution"]);

    // Waiting on the customer stops the SLA clock; the customer's reply restarts it and the due
    // time moves out by the business minutes waited.
    let waiting = desk
        .clone()
        .change_case_status(authed(change(&c.etag, CaseStatus::WaitingOnCustomer, ""), &agent))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    // A stale etag changes nothing.
    let err = desk
        .clone()
        .change_case_status(authed(change(&c.etag, CaseStatus::InProgress, ""), &agent))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    suite.clock.advance(std::time::Duration::from_secs(2 * 3600));
    let replied = desk
        .clone()
        .add_comment(authed(
            pb::AddCommentRequest {
                id: c.id.clone(),
                text: "Here is my ID number".into(),
                internal: false,
            },
            &customer_token(&ada.id),
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(replied.status, CaseStatus::InProgress as i32);
    assert_eq!(
        micros(&replied.resolution_due_time),
        micros(&waiting.resolution_due_time) + 120 * MINUTE
    );

    // The agent's first public reply is the first response.
    let answered = desk
        .clone()
        .add_comment(authed(
            pb::AddCommentRequest {
                id: c.id.clone(),
                text: "Card posted".into(),
                internal: false,
            },
            &agent,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(micros(&answered.first_response_time), MONDAY_10AM + 120 * MINUTE);

    // Rating waits for the resolution.
    let rate = pb::RateCaseRequest {
        id: c.id.clone(),
        rating: 5,
        comment: "Quick".into(),
    };
    let err = desk
        .clone()
        .rate_case(authed(rate.clone(), &customer_token(&ada.id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let resolved = desk
        .clone()
        .change_case_status(authed(
            change(&answered.etag, CaseStatus::Resolved, "SIM posted"),
            &agent,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(resolved.resolve_time.is_some());
    let err = desk
        .clone()
        .rate_case(authed(
            pb::RateCaseRequest {
                rating: 6,
                ..rate.clone()
            },
            &customer_token(&ada.id),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["rating"]);
    let rated = desk
        .clone()
        .rate_case(authed(rate, &customer_token(&ada.id)))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(rated.satisfaction, 5);
    // The customer accepts the resolution; a closed case is final.
    let closed = desk
        .clone()
        .change_case_status(authed(
            change(&rated.etag, CaseStatus::Closed, ""),
            &customer_token(&ada.id),
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let err = desk
        .clone()
        .change_case_status(authed(change(&closed.etag, CaseStatus::InProgress, ""), &agent))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let kinds: Vec<String> = suite
        .get(&c.id)
        .await
        .timeline
        .into_iter()
        .map(|t| t.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "opened", "assigned", "status", "comment", "comment", "status", "rating", "status"
        ]
    );
}

async fn a_customers_own_request_goes_to_the_self_service_queue(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let ada_token = customer_token(&ada.id);
    let mut own = case("", "", CaseType::Inquiry, 4, "Opening hours?");
    own.channel = pb::CaseChannel::Web as i32;

    // No queue takes customers' requests yet: the desk says which to create, and opens nothing.
    let err = suite.open(&ada_token, own.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("\"Self-service\""), "{err:?}");

    // The queue by that name, in any letter case, takes them.
    let queue = suite.queue("self-service").await;
    let opened = suite.open(&ada_token, own).await.unwrap();
    assert_eq!(opened.queue_id, queue);
    let listed = suite
        .desk()
        .list_cases(suite.req(pb::ListCasesRequest {
            party_id: ada.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 1, "the refused request opened nothing");

    // Staff still name the queue.
    let err = suite
        .open(&suite.admin, case(&ada.id, "", CaseType::Inquiry, 4, "Call back"))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["case.queue_id"]);
}

async fn customers_reach_only_their_own_cases(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let bob = suite.customer("Bob", "0922222222").await;
    let queue = suite.queue("General").await;
    let (ada_token, bob_token) = (customer_token(&ada.id), customer_token(&bob.id));

    // A customer opens cases for themselves: the party is theirs whatever they send.
    let mut own = case("", &queue, CaseType::Inquiry, 4, "Opening hours?");
    own.channel = pb::CaseChannel::Web as i32;
    let adas = suite.open(&ada_token, own.clone()).await.unwrap();
    assert_eq!(adas.party_id, ada.id);
    let err = suite
        .open(
            &ada_token,
            case(&bob.id, &queue, CaseType::Inquiry, 4, "Bob's case"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    suite.open(&bob_token, own).await.unwrap();

    // Another customer's case is refused, to read or to comment on.
    let err = suite
        .desk()
        .get_case(authed(pb::GetCaseRequest { id: adas.id.clone() }, &bob_token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let comment = pb::AddCommentRequest {
        id: adas.id.clone(),
        text: "hi".into(),
        internal: false,
    };
    let err = suite
        .desk()
        .add_comment(authed(comment, &bob_token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Asking for someone else's list still returns only one's own cases.
    let listed = suite
        .desk()
        .list_cases(authed(
            pb::ListCasesRequest {
                party_id: ada.id.clone(),
                ..Default::default()
            },
            &bob_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(listed.iter().all(|c| c.party_id == bob.id) && listed.len() == 1);

    // Internal notes stay internal, and customers cannot write them or assign cases.
    let note = pb::AddCommentRequest {
        id: adas.id.clone(),
        text: "VIP, be kind".into(),
        internal: true,
    };
    suite
        .desk()
        .add_comment(authed(note.clone(), &agent_token("amy")))
        .await
        .unwrap();
    let err = suite
        .desk()
        .add_comment(authed(note, &ada_token))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["internal"]);
    let seen = suite
        .desk()
        .get_case(authed(pb::GetCaseRequest { id: adas.id.clone() }, &ada_token))
        .await
        .unwrap();
    assert!(
        seen.into_inner()
            .case
            .unwrap()
            .timeline
            .iter()
            .all(|t| !t.internal)
    );
    assert_eq!(
        suite
            .get(&adas.id)
            .await
            .timeline
            .iter()
            .filter(|t| t.internal)
            .count(),
        1
    );
    let assign = pb::AssignCaseRequest {
        id: adas.id.clone(),
        etag: adas.etag.clone(),
        agent_id: "amy".into(),
    };
    let err = suite
        .desk()
        .assign_case(authed(assign, &ada_token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Marketers have no business in the desk.
    let err = suite
        .desk()
        .list_cases(authed(
            pb::ListCasesRequest::default(),
            &token("m", &[Role::Marketer]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

async fn bad_input_names_the_fields_and_changes_nothing(backend: Backend) {
    let suite = Suite::start(backend).await;
    let queue = suite.queue("General").await;
    let err = suite
        .open(
            &suite.admin,
            pb::Case {
                severity: 7,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    let mut fields = violated(&err);
    fields.sort();
    fields.dedup();
    assert_eq!(
        fields,
        [
            "case.channel",
            "case.party_id",
            "case.queue_id",
            "case.severity",
            "case.subject",
            "case.type"
        ]
    );
    let mut with_stranger = case("p-1", &queue, CaseType::Inquiry, 3, "Hello");
    with_stranger.agent_id = "nobody".into();
    assert_eq!(
        violated(&suite.open(&suite.admin, with_stranger).await.unwrap_err()),
        ["case.agent_id"]
    );
    let agent = pb::Agent {
        user_id: "amy".into(),
        name: "Amy".into(),
        queue_ids: vec!["nope".into()],
        ..Default::default()
    };
    let err = suite
        .desk()
        .upsert_agent(suite.req(pb::UpsertAgentRequest { agent: Some(agent) }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["agent.capacity", "agent.queue_ids[0]"]);
    let err = suite
        .desk()
        .create_queue(suite.req(pb::CreateQueueRequest {
            queue: Some(pb::Queue {
                name: "General".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    let err = suite
        .desk()
        .get_case(suite.req(pb::GetCaseRequest { id: "missing".into() }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let all = suite
        .desk()
        .list_cases(suite.req(pb::ListCasesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(all.is_empty());
    let agents = suite
        .desk()
        .list_agents(suite.req(pb::ListAgentsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert!(agents.is_empty());
    // Every other write names its offending fields too, and changes nothing.
    let desk = suite.desk();
    let err = desk
        .clone()
        .create_queue(suite.req(pb::CreateQueueRequest {
            queue: Some(pb::Queue {
                name: "  ".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["queue.name"]);
    let err = desk
        .clone()
        .upsert_article(suite.req(pb::UpsertArticleRequest {
            article: Some(pb::Article::default()),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        ["article.title", "article.body", "article.language"]
    );
    let open = suite
        .open(&suite.admin, case("p-1", &queue, CaseType::Inquiry, 3, "Valid"))
        .await
        .unwrap();
    let assign = pb::AssignCaseRequest {
        id: open.id.clone(),
        etag: String::new(),
        agent_id: String::new(),
    };
    assert_eq!(
        violated(&desk.clone().assign_case(suite.req(assign)).await.unwrap_err()),
        ["etag", "agent_id"]
    );
    let assign = pb::AssignCaseRequest {
        id: open.id.clone(),
        etag: open.etag.clone(),
        agent_id: "ghost".into(),
    };
    assert_eq!(
        violated(&desk.clone().assign_case(suite.req(assign)).await.unwrap_err()),
        ["agent_id"]
    );
    let change = pb::ChangeCaseStatusRequest {
        id: open.id.clone(),
        etag: "x".into(),
        status: 0,
        resolution: String::new(),
    };
    assert_eq!(
        violated(
            &desk
                .clone()
                .change_case_status(suite.req(change))
                .await
                .unwrap_err()
        ),
        ["etag", "status"]
    );
    let comment = pb::AddCommentRequest {
        id: open.id.clone(),
        text: " ".into(),
        internal: false,
    };
    assert_eq!(
        violated(&desk.clone().add_comment(suite.req(comment)).await.unwrap_err()),
        ["text"]
    );
    let unchanged = suite.get(&open.id).await;
    assert_eq!(
        (
            unchanged.etag.as_str(),
            unchanged.status,
            unchanged.timeline.len()
        ),
        (open.etag.as_str(), open.status, 1)
    );
    let queues = desk
        .clone()
        .list_queues(suite.req(pb::ListQueuesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .queues;
    assert_eq!(queues.len(), 1);
}

async fn sla_policies_set_the_targets_per_tier_and_priority(backend: Backend) {
    let suite = Suite::start(backend).await;
    let queue = suite.queue("General").await;
    let policy =
        |tier: &str, priority: i32, response_minutes: i64, resolution_minutes: i64| pb::SetSlaPolicyRequest {
            policy: Some(pb::SlaPolicy {
                tier: tier.into(),
                priority,
                response_minutes,
                resolution_minutes,
            }),
        };
    suite
        .desk()
        .set_sla_policy(suite.req(policy("", 3, 120, 600)))
        .await
        .unwrap();
    suite
        .desk()
        .set_sla_policy(suite.req(policy("gold", 3, 30, 240)))
        .await
        .unwrap();
    let err = suite
        .desk()
        .set_sla_policy(suite.req(policy("gold", 0, 0, -1)))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        [
            "policy.priority",
            "policy.response_minutes",
            "policy.resolution_minutes"
        ]
    );
    let policies = suite
        .desk()
        .list_sla_policies(suite.req(pb::ListSlaPoliciesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert_eq!(
        policies
            .iter()
            .map(|p| (p.tier.as_str(), p.response_minutes))
            .collect::<Vec<_>>(),
        [("", 120), ("gold", 30)]
    );

    // Any tier: 600 business minutes from Monday 10:00 end on Tuesday at 12:00.
    let plain = suite
        .open(
            &suite.admin,
            case("p-plain", &queue, CaseType::Inquiry, 3, "Hello"),
        )
        .await
        .unwrap();
    assert_eq!(micros(&plain.response_due_time), MONDAY_10AM + 120 * MINUTE);
    assert_eq!(micros(&plain.resolution_due_time), MONDAY_10AM + 26 * 60 * MINUTE);
    // A gold customer (the tier as customers' events leave it in the desk's copy) has their own.
    sqlx::query("INSERT INTO customers (party_id, display_name, tier) VALUES ('p-gold', 'Gold Ltd', 'gold')")
        .execute(suite.desk_db.pool())
        .await
        .unwrap();
    let gold = suite
        .open(
            &suite.admin,
            case("p-gold", &queue, CaseType::Inquiry, 3, "Hello"),
        )
        .await
        .unwrap();
    assert_eq!((gold.priority, gold.customer_tier.as_str()), (3, "gold"));
    assert_eq!(micros(&gold.response_due_time), MONDAY_10AM + 30 * MINUTE);
    assert_eq!(micros(&gold.resolution_due_time), MONDAY_10AM + 240 * MINUTE);
    // Priorities without a policy keep the defaults (priority 4: 480 minutes to respond).
    let low = suite
        .open(
            &suite.admin,
            case("p-plain", &queue, CaseType::Inquiry, 4, "Later"),
        )
        .await
        .unwrap();
    // (420 minutes on Monday, 60 on Tuesday).
    assert_eq!(micros(&low.response_due_time), MONDAY_10AM + 24 * 60 * MINUTE);
}

async fn merged_customers_bring_their_cases_along(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0966000001").await;
    let twin = suite.customer("Ada", "0966000002").await;
    let queue = suite.queue("General").await;
    let c = suite
        .open(
            &suite.admin,
            case(&twin.id, &queue, CaseType::Inquiry, 3, "Duplicate me"),
        )
        .await
        .unwrap();
    suite
        .customers
        .clone()
        .merge_parties(suite.req(crm_proto::customers::v1::MergePartiesRequest {
            survivor_id: ada.id.clone(),
            merged_ids: vec![twin.id.clone()],
        }))
        .await
        .unwrap();
    crm_testkit::eventually(std::time::Duration::from_secs(30), "case re-keyed", || async {
        (suite.get(&c.id).await.party_id == ada.id).then_some(())
    })
    .await;
    // The survivor sees the case in self-service.
    let own = suite
        .desk()
        .list_cases(authed(pb::ListCasesRequest::default(), &customer_token(&ada.id)))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(
        own.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [c.id.as_str()]
    );
}

/// Preferential service (one priority ahead, SLAs halved) goes to the customers who make up the
/// top 20% of the value pyramid: top, high and medium under the default pyramid, whatever the
/// tiers are called once the pyramid changes; or to the tiers the settings name.
async fn the_top_20_percent_get_preferential_service(backend: Backend) {
    let suite = Suite::start(backend).await;
    let queue = suite.queue("Front desk").await;
    for (party, tier) in [("p-medium", "medium"), ("p-low", "low"), ("p-gold", "gold")] {
        sqlx::query("INSERT INTO customers (party_id, display_name, tier) VALUES ($1, $1, $2)")
            .bind(party)
            .bind(tier)
            .execute(suite.desk_db.pool())
            .await
            .unwrap();
    }
    let open = |party: &'static str| {
        let (suite, queue) = (&suite, queue.clone());
        async move {
            suite
                .open(&suite.admin, case(party, &queue, CaseType::Inquiry, 3, "Hello"))
                .await
                .unwrap()
        }
    };
    // Medium is within the top 20% (1% + 4% + 15%): priority 3 becomes 2, whose 60 minutes halve.
    let medium = open("p-medium").await;
    assert_eq!(medium.priority, 2);
    assert_eq!(micros(&medium.response_due_time), MONDAY_10AM + 30 * MINUTE);
    assert_eq!(open("p-low").await.priority, 3);

    // The pyramid renamed and reshaped: platinum 5% and gold 15% are the top 20% now.
    let pyramid = [("platinum", 500), ("gold", 1_500), ("rest", 8_000)];
    suite
        .customers
        .clone()
        .update_value_tier_config(
            suite.req(crm_proto::customers::v1::UpdateValueTierConfigRequest {
                config: Some(crm_proto::customers::v1::ValueTierConfig {
                    tiers: pyramid
                        .iter()
                        .map(|(name, bps)| crm_proto::customers::v1::ValueTier {
                            name: name.to_string(),
                            customer_share_bps: *bps,
                        })
                        .collect(),
                }),
            }),
        )
        .await
        .unwrap();
    crm_testkit::eventually(
        std::time::Duration::from_secs(30),
        "the desk heard of the pyramid",
        || async { (open("p-gold").await.priority == 2).then_some(()) },
    )
    .await;
    assert_eq!(
        open("p-medium").await.priority,
        3,
        "medium is no tier of the pyramid now"
    );

    // Named in the settings, exactly those tiers.
    let named = Suite::start_with(backend, |s| s.preferential_tiers = vec!["low".into()]).await;
    let queue = named.queue("Front desk").await;
    sqlx::query("INSERT INTO customers (party_id, display_name, tier) VALUES ('p-low', 'Low', 'low'), ('p-top', 'Top', 'top')")
        .execute(named.desk_db.pool())
        .await
        .unwrap();
    let low = named
        .open(&named.admin, case("p-low", &queue, CaseType::Inquiry, 3, "Hello"))
        .await
        .unwrap();
    let top = named
        .open(&named.admin, case("p-top", &queue, CaseType::Inquiry, 3, "Hello"))
        .await
        .unwrap();
    assert_eq!((low.priority, top.priority), (2, 3));
}

backend_tests!(
    the_top_20_percent_get_preferential_service,
    merged_customers_bring_their_cases_along,
    sla_policies_set_the_targets_per_tier_and_priority,
    cases_are_prioritised_routed_and_given_sla_due_times,
    the_workflow_guards_status_changes_and_versions,
    a_customers_own_request_goes_to_the_self_service_queue,
    customers_reach_only_their_own_cases,
    bad_input_names_the_fields_and_changes_nothing,
);
