//! Handling cases after they open: corrections, transfers between departments, watch lists,
//! and escalations that reach people on a business-hours clock.

use std::time::Duration;

use crm_auth::Role;
use crm_proto::servicedesk::v1::{self as pb, CaseStatus, CaseType, NotificationStatus};
use crm_servicedesk::domain::escalation::Recipients;
use crm_testkit::{Backend, authed, backend_tests, token};
use futures::StreamExt as _;

use crate::helpers::{MINUTE, MONDAY_10AM, Suite, agent_token, case, customer_token, micros, violated};

const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The payloads of the staff notices to `user` with `template`.
async fn notices(suite: &Suite, user: &str, template: &str) -> Vec<serde_json::Value> {
    suite
        .notifications(user, NotificationStatus::Unspecified)
        .await
        .into_iter()
        .filter(|n| n.template == template)
        .inspect(|n| assert_eq!(n.channel, "staff"))
        .map(|n| serde_json::from_str(&n.payload).unwrap())
        .collect()
}

/// The notice of `what` among `notices`.
fn notice<'a>(notices: &'a [serde_json::Value], what: &str) -> &'a serde_json::Value {
    notices
        .iter()
        .find(|n| n["what"] == what)
        .unwrap_or_else(|| panic!("no notice of {what} in {notices:?}"))
}

async fn run_escalations(suite: &Suite) -> Vec<pb::Escalation> {
    suite
        .desk()
        .run_escalations(suite.req(pb::RunEscalationsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised
}

fn levels_of(raised: &[pb::Escalation], case_id: &str) -> Vec<String> {
    raised
        .iter()
        .filter(|e| e.case_id == case_id)
        .map(|e| e.level.clone())
        .collect()
}

async fn cases_are_corrected_and_transferred(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let billing = suite.queue("Billing").await;
    let technical = suite.queue("Technical").await;
    suite.agent("amy", &billing, &["billing"], 1).await;
    suite.agent("tom", &technical, &["network"], 5).await;
    let mut updates = suite.nats.subscribe("crm.servicedesk.case.updated.>").await;
    // Priority 3: resolution due 1,920 business minutes after opening.
    let first = suite
        .open(
            &suite.admin,
            case(&ada.id, &billing, CaseType::Inquiry, 3, "Bill too high"),
        )
        .await
        .unwrap();
    assert_eq!((first.priority, first.agent_id.as_str()), (3, "amy"));
    let second = suite
        .open(
            &suite.admin,
            case(&ada.id, &billing, CaseType::Inquiry, 4, "Copy of invoice"),
        )
        .await
        .unwrap();
    assert!(second.agent_id.is_empty(), "amy is at capacity");

    // Bad corrections change nothing.
    let update = |etag: &str, severity: Option<i32>| pb::UpdateCaseRequest {
        id: first.id.clone(),
        etag: etag.into(),
        severity,
        ..Default::default()
    };
    let amy = agent_token("amy");
    let err = suite
        .desk()
        .update_case(authed(update(&first.etag, Some(7)), &amy))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["severity"]);
    let err = suite
        .desk()
        .update_case(authed(update(&first.etag, None), &amy))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["type"], "nothing to change");
    let err = suite
        .desk()
        .update_case(authed(update("99", Some(1)), &amy))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "stale etag");
    let err = suite
        .desk()
        .update_case(authed(update(&first.etag, Some(1)), &customer_token(&ada.id)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // An outage after all: an incident of severity 1 is priority 1, due four business hours
    // after it was opened.
    let corrected = suite
        .desk()
        .update_case(authed(
            pb::UpdateCaseRequest {
                r#type: CaseType::Incident as i32,
                category: Some(" Network ".into()),
                reason: "outage confirmed".into(),
                ..update(&first.etag, Some(1))
            },
            &amy,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (
            corrected.priority,
            corrected.severity,
            corrected.category.as_str()
        ),
        (1, 1, "network")
    );
    assert_eq!(micros(&corrected.resolution_due_time), MONDAY_10AM + 240 * MINUTE);
    assert_eq!(micros(&corrected.response_due_time), MONDAY_10AM + 30 * MINUTE);
    let entry = corrected.timeline.iter().find(|t| t.kind == "updated").unwrap();
    assert_eq!(
        entry.text,
        "type inquiry -> incident, category \"\" -> \"network\", severity 3 -> 1, \
         priority 3 -> 1: outage confirmed"
    );
    assert!(entry.internal);

    // Transfers need a reason and another queue.
    let transfer = |queue: &str, reason: &str| pb::TransferCaseRequest {
        id: first.id.clone(),
        etag: corrected.etag.clone(),
        queue_id: queue.into(),
        reason: reason.into(),
    };
    for (req, field) in [
        (transfer(&technical, " "), "reason"),
        (transfer(&billing, "wrong desk"), "queue_id"),
        (transfer("no-such-queue", "wrong desk"), "queue_id"),
    ] {
        let err = suite.desk().transfer_case(authed(req, &amy)).await.unwrap_err();
        assert_eq!(violated(&err), [field]);
    }
    let moved = suite
        .desk()
        .transfer_case(authed(transfer(&technical, "needs a network engineer"), &amy))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (moved.queue_id.as_str(), moved.agent_id.as_str(), moved.status),
        (technical.as_str(), "tom", CaseStatus::Assigned as i32)
    );
    let entry = moved.timeline.iter().find(|t| t.kind == "transferred").unwrap();
    assert_eq!(
        entry.text,
        "transferred from Billing to Technical: needs a network engineer"
    );
    // Amy has room again and takes the waiting case.
    assert_eq!(suite.get(&second.id).await.agent_id, "amy");
    // Each change is published once, about the customer.
    for previous_queue in [&billing, &billing] {
        let msg = tokio::time::timeout(Duration::from_secs(30), updates.next())
            .await
            .expect("case.updated")
            .unwrap();
        assert!(msg.subject.ends_with(&ada.id));
        let e: pb::CaseUpdated = prost::Message::decode(msg.payload).unwrap();
        assert_eq!(&e.previous_queue_id, previous_queue);
    }

    // A resolved case is reopened before it is changed.
    let resolved = suite
        .desk()
        .change_case_status(authed(
            pb::ChangeCaseStatusRequest {
                id: moved.id.clone(),
                etag: moved.etag.clone(),
                status: CaseStatus::Resolved as i32,
                resolution: "Replaced the router".into(),
            },
            &agent_token("tom"),
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let err = suite
        .desk()
        .update_case(authed(update(&resolved.etag, Some(2)), &amy))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
}

async fn watchers_hear_of_their_customers_cases(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let bob = suite.customer("Bob", "0922222222").await;
    let queue = suite.queue("General").await;
    let (amy, manager) = (agent_token("amy"), token("mgr-1", &[Role::ServiceManager]));
    let watch = |party: &str, watcher: &str| pb::WatchCustomerRequest {
        party_id: party.into(),
        watcher_id: watcher.into(),
        note: "key account in renewal".into(),
    };
    let mine = suite
        .desk()
        .watch_customer(authed(watch(&ada.id, ""), &amy))
        .await
        .unwrap()
        .into_inner()
        .watch
        .unwrap();
    assert_eq!(
        (mine.watcher_id.as_str(), mine.note.as_str()),
        ("amy", "key account in renewal")
    );
    let err = suite
        .desk()
        .watch_customer(authed(watch(&ada.id, "sam"), &amy))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::PermissionDenied,
        "an agent keeps their own list"
    );
    suite
        .desk()
        .watch_customer(authed(watch(&ada.id, "sam"), &manager))
        .await
        .unwrap();
    let err = suite
        .desk()
        .watch_customer(authed(watch("no-such-party", ""), &amy))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["party_id"]);
    // Listed a watch per page, to the end.
    let list = |party: &str, watcher: &str| {
        let suite = &suite;
        let mut req = pb::ListWatchesRequest {
            party_id: party.into(),
            watcher_id: watcher.into(),
            page_size: 1,
            ..Default::default()
        };
        async move {
            let mut out = Vec::new();
            loop {
                let page = suite
                    .desk()
                    .list_watches(suite.req(req.clone()))
                    .await
                    .unwrap()
                    .into_inner();
                out.extend(page.watches.into_iter().map(|w| (w.party_id, w.watcher_id)));
                if page.next_page_token.is_empty() {
                    break out;
                }
                req.page_token = page.next_page_token;
            }
        }
    };
    assert_eq!(
        list(&ada.id, "").await,
        [
            (ada.id.clone(), "amy".to_string()),
            (ada.id.clone(), "sam".to_string())
        ]
    );
    assert_eq!(list("", "amy").await, [(ada.id.clone(), "amy".to_string())]);

    // A case of Ada's opens: both hear of it; Bob's case is nobody's business here.
    let ada_case = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Line down"),
        )
        .await
        .unwrap();
    suite
        .open(
            &suite.admin,
            case(&bob.id, &queue, CaseType::Incident, 2, "Line down too"),
        )
        .await
        .unwrap();
    for watcher in ["amy", "sam"] {
        let got = notices(&suite, watcher, "watched_case").await;
        assert_eq!(got.len(), 1, "{watcher}: {got:?}");
        assert_eq!(got[0]["what"], "opened");
        assert_eq!(got[0]["case_id"], ada_case.id.as_str());
        assert_eq!(got[0]["customer"], "Ada Chen");
    }
    // Amy moves it along: Sam hears, Amy (who did it) does not.
    suite
        .desk()
        .change_case_status(authed(
            pb::ChangeCaseStatusRequest {
                id: ada_case.id.clone(),
                etag: ada_case.etag.clone(),
                status: CaseStatus::InProgress as i32,
                resolution: String::new(),
            },
            &amy,
        ))
        .await
        .unwrap();
    assert_eq!(notices(&suite, "amy", "watched_case").await.len(), 1);
    let sam = notices(&suite, "sam", "watched_case").await;
    assert_eq!(sam.len(), 2);
    assert_eq!(notice(&sam, "status_changed")["detail"], "New -> InProgress");

    // Amy stops watching; when the case goes overdue only Sam hears.
    suite
        .desk()
        .unwatch_customer(authed(
            pb::UnwatchCustomerRequest {
                party_id: ada.id.clone(),
                watcher_id: String::new(),
            },
            &amy,
        ))
        .await
        .unwrap();
    let err = suite
        .desk()
        .unwatch_customer(authed(
            pb::UnwatchCustomerRequest {
                party_id: ada.id.clone(),
                watcher_id: String::new(),
            },
            &amy,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    suite.clock.set(MONDAY_10AM + 4 * HOUR + MINUTE);
    assert_eq!(
        levels_of(&run_escalations(&suite).await, &ada_case.id),
        ["supervisor"]
    );
    assert_eq!(notices(&suite, "amy", "watched_case").await.len(), 1);
    let sam = notices(&suite, "sam", "watched_case").await;
    assert_eq!(sam.len(), 3);
    assert_eq!(notice(&sam, "overdue:supervisor")["detail"], "resolution overdue");
}

/// The practice's chain: the queue's supervisor when the resolution is overdue, the director
/// after three working days, each notified with the case, its customer, tier and how long it is
/// overdue; a case that waited four days on the customer does not jump to the director when it
/// resumes.
async fn escalations_reach_people_on_a_business_clock(backend: Backend) {
    let suite = Suite::start_with(backend, |config| {
        config.escalation_recipients =
            Recipients::parse("supervisor=queue_supervisor,director=dir-1,vp=vp-1,general_manager=gm-1")
                .unwrap();
    })
    .await;
    let ada = suite.customer("Ada", "0911111111").await;
    let queue = suite.queue("General").await;
    let err = suite
        .desk()
        .update_queue(suite.req(pb::UpdateQueueRequest {
            queue: Some(pb::Queue {
                id: "no-such-queue".into(),
                name: "General".into(),
                supervisor_id: "sup-1".into(),
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    suite
        .desk()
        .update_queue(suite.req(pb::UpdateQueueRequest {
            queue: Some(pb::Queue {
                id: queue.clone(),
                name: "General enquiries".into(),
                supervisor_id: "sup-1".into(),
            }),
        }))
        .await
        .unwrap();
    let listed = suite
        .desk()
        .list_queues(suite.req(pb::ListQueuesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .queues;
    assert_eq!(
        (listed[0].name.as_str(), listed[0].supervisor_id.as_str()),
        ("General enquiries", "sup-1")
    );

    // Two priority-1 cases opened Monday 10:00, resolution due 14:00.
    let open = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Line down"),
        )
        .await
        .unwrap();
    let waiting = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Incident, 2, "Router lights"),
        )
        .await
        .unwrap();
    // An hour later the second waits on the customer, until Friday 11:00: four working days.
    suite.clock.set(MONDAY_10AM + HOUR);
    suite
        .desk()
        .change_case_status(suite.req(pb::ChangeCaseStatusRequest {
            id: waiting.id.clone(),
            etag: waiting.etag.clone(),
            status: CaseStatus::WaitingOnCustomer as i32,
            resolution: String::new(),
        }))
        .await
        .unwrap();
    // Nor is it looked at: a waiting case checked "now" would be read by every run.
    let check_at = || async {
        sqlx::query_scalar::<_, i64>("SELECT escalation_check_at FROM cases WHERE id = $1")
            .bind(&waiting.id)
            .fetch_one(suite.desk_db.pool())
            .await
            .unwrap()
    };
    assert_eq!(check_at().await, i64::MAX, "not scheduled while it waits");

    suite.clock.set(MONDAY_10AM + 4 * HOUR + MINUTE);
    let raised = run_escalations(&suite).await;
    assert_eq!(levels_of(&raised, &open.id), ["supervisor"]);
    assert!(levels_of(&raised, &waiting.id).is_empty(), "its clock is paused");
    assert_eq!(raised[0].notified, ["sup-1"]);
    // Thursday 10:00: three working days open, twenty business hours overdue.
    suite.clock.set(MONDAY_10AM + 3 * DAY);
    let raised = run_escalations(&suite).await;
    assert_eq!(levels_of(&raised, &open.id), ["director"]);
    assert!(levels_of(&raised, &waiting.id).is_empty());
    assert_eq!(
        (raised[0].notified.clone(), raised[0].overdue_minutes),
        (vec!["dir-1".to_string()], 20 * 60)
    );
    let told = notices(&suite, "dir-1", "case_escalated").await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["case_id"], open.id.as_str());
    assert_eq!(told[0]["customer"], "Ada Chen");
    assert_eq!(told[0]["level"], "director");
    assert_eq!(told[0]["overdue_minutes"], 1200);
    assert_eq!(told[0]["detail"], "unresolved for 3 business days");
    assert!(told[0].get("tier").is_some());
    assert_eq!(notices(&suite, "sup-1", "case_escalated").await.len(), 1);

    // Friday 11:00 the customer answers: the case resumes with one business hour on its clock
    // and its resolution due moved out by the 32 business hours it waited (to Friday 14:00).
    suite.clock.set(MONDAY_10AM + 4 * DAY + HOUR);
    let resumed = suite
        .desk()
        .add_comment(authed(
            pb::AddCommentRequest {
                id: waiting.id.clone(),
                text: "The lights are green now".into(),
                internal: false,
            },
            &customer_token(&ada.id),
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(resumed.status, CaseStatus::InProgress as i32);
    assert_eq!(check_at().await, 0, "resumed: the next run looks at it");
    assert_eq!(
        micros(&resumed.resolution_due_time),
        MONDAY_10AM + 4 * DAY + 4 * HOUR
    );
    assert!(levels_of(&run_escalations(&suite).await, &waiting.id).is_empty());
    // Its director comes three working days of its own after opening, plus the four waited:
    // Wednesday next week at 10:00, not a minute before.
    suite.clock.set(MONDAY_10AM + 9 * DAY - MINUTE);
    assert_eq!(
        levels_of(&run_escalations(&suite).await, &waiting.id),
        ["supervisor"]
    );
    suite.clock.set(MONDAY_10AM + 9 * DAY);
    assert_eq!(
        levels_of(&run_escalations(&suite).await, &waiting.id),
        ["director"]
    );
    let log = suite
        .desk()
        .list_escalations(suite.req(pb::ListEscalationsRequest {
            case_id: waiting.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .escalations;
    assert_eq!(log[0].notified, ["dir-1"]);
}

/// The installed base: customers and staff register products with their warranty; a case
/// about one shows whether it was under warranty, and follows a warranty extension.
async fn the_installed_base_backs_cases(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let bob = suite.customer("Bob", "0922222222").await;
    let queue = suite.queue("Repairs").await;
    let (ada_token, amy) = (customer_token(&ada.id), agent_token("amy"));
    let asset = |party: &str, name: &str, serial: &str, bought: &str, warranty: &str| pb::Asset {
        party_id: party.into(),
        product_name: name.into(),
        serial_number: serial.into(),
        purchase_date: bought.into(),
        warranty_end_date: warranty.into(),
        ..Default::default()
    };
    let register = |a: pb::Asset, token: &str| {
        let req = authed(pb::RegisterAssetRequest { asset: Some(a) }, token);
        let mut desk = suite.desk();
        async move {
            desk.register_asset(req)
                .await
                .map(|r| r.into_inner().asset.unwrap())
        }
    };
    // Ada registers her laptop herself; the desk registers her old router.
    let laptop = register(
        asset("", "Laptop 14", "SN-1", "2026-01-15", "2027-01-14"),
        &ada_token,
    )
    .await
    .unwrap();
    assert_eq!(laptop.party_id, ada.id);
    assert_eq!(laptop.registered_by, format!("user-{}", ada.id));
    assert!(laptop.under_warranty);
    let router = register(
        asset(&ada.id, "Router X", "RX-9", "2023-05-01", "2025-05-01"),
        &amy,
    )
    .await
    .unwrap();
    assert!(!router.under_warranty);
    let err = register(asset(&bob.id, "Phone", "", "2026-01-01", ""), &ada_token)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = register(asset(&bob.id, "Laptop 14", "SN-1", "2026-02-01", ""), &amy)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::AlreadyExists,
        "a serial number is one product"
    );
    let err = register(asset("no-such-party", " ", "", "2026-12-01", ""), &amy)
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        ["asset.product_name", "asset.purchase_date", "asset.party_id"],
    );
    let err = register(asset(&bob.id, "Phone", "", "2026-03-01", "2026-02-01"), &amy)
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["asset.warranty_end_date"]);

    // Her installed base, newest purchase first, a page at a time.
    let list = |token: &str, party: &str, under_warranty_only: bool| {
        let req = authed(
            pb::ListAssetsRequest {
                party_id: party.into(),
                under_warranty_only,
                ..Default::default()
            },
            token,
        );
        let mut desk = suite.desk();
        async move {
            desk.list_assets(req).await.map(|r| {
                r.into_inner()
                    .assets
                    .into_iter()
                    .map(|a| a.product_name)
                    .collect::<Vec<_>>()
            })
        }
    };
    assert_eq!(
        list(&amy, &ada.id, false).await.unwrap(),
        ["Laptop 14", "Router X"]
    );
    assert_eq!(list(&amy, &ada.id, true).await.unwrap(), ["Laptop 14"]);
    assert_eq!(list(&ada_token, "", false).await.unwrap().len(), 2, "her own");
    let err = list(&customer_token(&bob.id), &ada.id, false).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(violated(&list(&amy, "", false).await.unwrap_err()), ["party_id"]);
    let paged = suite
        .desk()
        .list_assets(suite.req(pb::ListAssetsRequest {
            party_id: ada.id.clone(),
            page_size: 1,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let rest = suite
        .desk()
        .list_assets(suite.req(pb::ListAssetsRequest {
            party_id: ada.id.clone(),
            page_size: 1,
            page_token: paged.next_page_token,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            paged.assets[0].id.as_str(),
            rest.assets[0].id.as_str(),
            rest.next_page_token.as_str()
        ),
        (laptop.id.as_str(), router.id.as_str(), "")
    );

    // Cases about them show the warranty.
    let about = |asset_id: &str, subject: &str| pb::Case {
        asset_id: asset_id.into(),
        ..case(&ada.id, &queue, CaseType::Request, 3, subject)
    };
    let repair = suite
        .open(&ada_token, about(&laptop.id, "Hinge broke"))
        .await
        .unwrap();
    assert!(repair.under_warranty);
    assert_eq!(repair.warranty_end_date, "2027-01-14");
    let old = suite.open(&amy, about(&router.id, "No signal")).await.unwrap();
    assert!(!old.under_warranty);
    let bobs = register(asset(&bob.id, "Phone", "", "2026-01-01", ""), &amy)
        .await
        .unwrap();
    let err = suite.open(&amy, about(&bobs.id, "Not hers")).await.unwrap_err();
    assert_eq!(violated(&err), ["case.asset_id"]);

    // A goodwill extension of the router's warranty: the case follows.
    let extend = |etag: &str| {
        authed(
            pb::UpdateAssetRequest {
                asset: Some(pb::Asset {
                    id: router.id.clone(),
                    etag: etag.into(),
                    warranty_end_date: "2027-06-30".into(),
                    ..router.clone()
                }),
            },
            &amy,
        )
    };
    let err = suite.desk().update_asset(extend("9")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let extended = suite
        .desk()
        .update_asset(extend(&router.etag))
        .await
        .unwrap()
        .into_inner()
        .asset
        .unwrap();
    assert!(extended.under_warranty);
    let old = suite.get(&old.id).await;
    assert_eq!(
        (old.warranty_end_date.as_str(), old.under_warranty),
        ("2027-06-30", true)
    );
    let mut as_customer = extend(&extended.etag);
    as_customer
        .metadata_mut()
        .insert("authorization", format!("Bearer {ada_token}").parse().unwrap());
    let err = suite.desk().update_asset(as_customer).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "staff correct assets");
    let got = suite
        .desk()
        .get_asset(authed(
            pb::GetAssetRequest {
                id: laptop.id.clone(),
            },
            &customer_token(&bob.id),
        ))
        .await
        .unwrap_err();
    assert_eq!(got.code(), tonic::Code::PermissionDenied);
}

backend_tests!(
    the_installed_base_backs_cases,
    cases_are_corrected_and_transferred,
    watchers_hear_of_their_customers_cases,
    escalations_reach_people_on_a_business_clock,
);
