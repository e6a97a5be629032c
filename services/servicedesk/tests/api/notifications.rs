use std::sync::atomic::Ordering;
use std::time::Duration;

use crm_proto::customers::v1 as cpb;
use crm_proto::marketing::v1::{CampaignContacted, Channel};
use crm_proto::servicedesk::v1::{self as pb, CaseStatus, CaseType, NotificationStatus};
use crm_testkit::{Backend, backend_tests};

use crate::helpers::{Suite, Webhook, case};

async fn notifications_reach_the_webhook_once_with_retries(backend: Backend) {
    let suite = Suite::start(backend).await;
    // Ada was born on 30 November, today in the suite's clock.
    let ada = suite.customer("Ada", "0955000001").await;
    let mut with_birthday = ada.clone();
    with_birthday.birth_date = "1990-11-30".into();
    suite
        .customers
        .clone()
        .update_party(suite.req(cpb::UpdatePartyRequest {
            party: Some(with_birthday),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["birth_date".into()],
            }),
        }))
        .await
        .unwrap();
    let db = suite.desk_db.clone();
    crm_testkit::eventually(Duration::from_secs(30), "birth date copied", || {
        let (db, id) = (db.clone(), ada.id.clone());
        async move {
            let born: String = sqlx::query_scalar("SELECT birth_date FROM customers WHERE party_id = $1")
                .bind(id)
                .fetch_one(db.pool())
                .await
                .ok()?;
            (born == "1990-11-30").then_some(())
        }
    })
    .await;

    let queue = suite.queue("General").await;
    let c = suite
        .open(
            &suite.admin,
            case(&ada.id, &queue, CaseType::Request, 3, "New router"),
        )
        .await
        .unwrap();
    let moved = suite
        .desk()
        .change_case_status(suite.req(pb::ChangeCaseStatusRequest {
            id: c.id.clone(),
            etag: c.etag.clone(),
            status: CaseStatus::InProgress as i32,
            resolution: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();

    // The gateway is down for two requests: both notices are retried after back-off.
    suite.webhook.fail.store(2, Ordering::SeqCst);
    let deliver = || async {
        let r = suite.deliver().await;
        (r.delivered, r.retrying, r.failed)
    };
    assert_eq!(deliver().await, (0, 2, 0));
    assert_eq!(deliver().await, (0, 0, 0), "not due again before the back-off");
    suite.clock.advance(Duration::from_secs(10));
    // Two delivery runs at once (e.g. two replicas) post each notice once between them.
    let (a, b) = tokio::join!(deliver(), deliver());
    assert_eq!((a.0 + b.0, a.1 + b.1, a.2 + b.2), (2, 0, 0));
    assert_eq!(
        deliver().await,
        (0, 0, 0),
        "the birthday greeting is queued once a year"
    );

    let requests = suite.webhook.requests();
    assert_eq!(requests.len(), 4);
    let mut templates: Vec<String> = requests[2..]
        .iter()
        .map(|(_, body)| body["template"].as_str().unwrap().to_string())
        .collect();
    templates.sort();
    assert_eq!(templates, ["birthday", "case_status_changed"]);
    // Retries carry the same idempotency key.
    let mut keys: Vec<&str> = requests.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2);
    let status_notice = requests
        .iter()
        .find(|(_, b)| b["template"] == "case_status_changed")
        .unwrap();
    assert_eq!(status_notice.1["payload"]["status"], "in_progress");
    assert_eq!(status_notice.1["recipient"], ada.id.as_str());
    assert_eq!(status_notice.1["channel"], "sms");

    // A gateway that never recovers: the resolution notice is given up after the last retry.
    suite.webhook.fail.store(usize::MAX, Ordering::SeqCst);
    suite.resolve(&c.id, &moved.etag, "Router sent").await;
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        outcomes.push(deliver().await);
        suite.clock.advance(Duration::from_secs(3600));
    }
    assert_eq!(outcomes[..7], [(0, 1, 0); 7]);
    assert_eq!(outcomes[7], (0, 0, 1));
    let failed = suite.notifications(&ada.id, NotificationStatus::Failed).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].template.as_str(), failed[0].attempts),
        ("case_resolved", 8)
    );
    assert!(failed[0].last_error.contains("503"), "{}", failed[0].last_error);
    let delivered = suite.notifications(&ada.id, NotificationStatus::Delivered).await;
    assert_eq!(delivered.len(), 2);
    // By status alone, of every recipient.
    let ids = |list: &[pb::Notification]| list.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&suite.notifications("", NotificationStatus::Failed).await),
        ids(&failed)
    );
    assert_eq!(
        ids(&suite.notifications("", NotificationStatus::Delivered).await),
        ids(&delivered)
    );
    assert!(
        delivered
            .iter()
            .all(|n| n.attempts == 2 && n.deliver_time.is_some())
    );
    // Newest first, a page at a time: three pages of one give the whole list.
    let whole = suite
        .notifications(&ada.id, NotificationStatus::Unspecified)
        .await;
    assert_eq!(whole.len(), 3);
    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = suite
            .desk()
            .list_notifications(suite.req(pb::ListNotificationsRequest {
                recipient: ada.id.clone(),
                page_size: 1,
                page_token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        paged.extend(page.notifications);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, whole);
}

/// A case status change notified to a messaging gateway over HTTPS whose certificate comes
/// from a private CA: delivered when the CA file is configured, refused (and retried later)
/// when it is not; an unreadable CA file stops the service at start.
async fn notifications_go_over_https_to_a_webhook_of_a_private_ca(backend: Backend) {
    let (webhook, ca_pem) = Webhook::start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = webhook.url.clone();
    let trusting = Suite::start_with(backend, |c| {
        c.webhook_url = Some(url.clone());
        c.webhook_ca_file = Some(ca_file.clone());
    })
    .await;
    let not_trusting = Suite::start_with(backend, |c| c.webhook_url = Some(url.clone())).await;

    for (suite, name) in [(&trusting, "Grace"), (&not_trusting, "Linus")] {
        let party = suite.customer(name, "0955000002").await;
        let queue = suite.queue("General").await;
        let c = suite
            .open(
                &suite.admin,
                case(&party.id, &queue, CaseType::Request, 3, "New router"),
            )
            .await
            .unwrap();
        suite
            .desk()
            .change_case_status(suite.req(pb::ChangeCaseStatusRequest {
                id: c.id.clone(),
                etag: c.etag.clone(),
                status: CaseStatus::InProgress as i32,
                resolution: String::new(),
            }))
            .await
            .unwrap();
    }
    let deliver = |suite: &Suite| {
        let mut desk = suite.desk();
        let request = suite.req(pb::DeliverNotificationsRequest {});
        async move {
            let r = desk.deliver_notifications(request).await.unwrap().into_inner();
            (r.delivered, r.retrying, r.failed)
        }
    };
    assert_eq!(deliver(&trusting).await, (1, 0, 0));
    let posted = webhook.requests();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(
        !posted[0].0.is_empty(),
        "the idempotency key travels over TLS too"
    );

    assert_eq!(deliver(&not_trusting).await, (0, 1, 0));
    assert_eq!(
        webhook.requests().len(),
        1,
        "nothing reaches an untrusted webhook"
    );
    let pending = not_trusting
        .desk()
        .list_notifications(not_trusting.req(pb::ListNotificationsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert!(
        pending
            .iter()
            .any(|n| n.last_error.to_lowercase().contains("certificate")),
        "{pending:?}"
    );

    // A CA file that cannot be read is a configuration error at start.
    let db = crm_testkit::TestDb::new(backend);
    let config = crm_servicedesk::ServicedeskSettings {
        webhook_ca_file: Some(dir.path().join("missing.pem")),
        ..Default::default()
    };
    let instance = crm_platform::Instance::new(&db.url, crm_testkit::auth_config());
    let err = crm_platform::kernel::build::<crm_servicedesk::Servicedesk>(
        instance,
        config,
        trusting.nats.client().await,
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("missing.pem"), "{err:#}");
}

/// Marketing's announcement that the Spring campaign contacted `parties` on `channel`.
fn spring(channel: Channel, parties: &[&str]) -> CampaignContacted {
    CampaignContacted {
        campaign_id: "c-spring".into(),
        campaign_name: "Spring".into(),
        channel: channel as i32,
        code: "SPRING26".into(),
        message: "10% off with SPRING26".into(),
        party_ids: parties.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// Marketing's campaign contacts are sent on the campaign's channel, each once; a customer who
/// opted out since the campaign selected them is not sent to (consent is checked at delivery,
/// the newest consent winning however the announcements arrive); sales' alerts reach the rep
/// and the manager.
async fn campaign_messages_honour_consent_at_delivery(backend: Backend) {
    use crm_proto::marketing::v1 as mpb;
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let bob = suite.customer("Bob", "0922222222").await;
    let consent = |party: &str, opted_out: bool, at: i64| mpb::ConsentChanged {
        consent: Some(mpb::Consent {
            party_id: party.into(),
            channel: mpb::Channel::Email as i32,
            opted_out,
            do_not_contact: false,
            update_time: Some(crm_platform::time::timestamp(at)),
        }),
    };
    let now = crm_platform::time::now_micros();
    // Bob opted out; an older announcement that he had not arrives after it and changes nothing.
    suite
        .nats
        .publish_event(
            "marketing",
            "consent.changed",
            &bob.id,
            &consent(&bob.id, true, now),
        )
        .await;
    suite
        .nats
        .publish_event(
            "marketing",
            "consent.changed",
            &bob.id,
            &consent(&bob.id, false, now - 1_000_000),
        )
        .await;
    let contacted = spring(Channel::Email, &[&ada.id, &bob.id]);
    // Announced twice (a producer's retry): sent once.
    for _ in 0..2 {
        suite
            .nats
            .publish_event("marketing", "campaign.contacted", "c-spring", &contacted)
            .await;
    }
    let count = "SELECT COUNT(*) FROM notifications WHERE template = 'campaign'";
    crm_testkit::fixtures::rows_reach(&suite.desk_db, count, None, 2, "campaign messages queued").await;
    let consents = "SELECT COUNT(*) FROM consents WHERE opted_out = 1";
    crm_testkit::fixtures::rows_reach(&suite.desk_db, consents, None, 1, "Bob's opt-out copied").await;
    let run = suite.deliver().await;
    assert_eq!((run.delivered, run.suppressed), (1, 1));
    let sent: Vec<serde_json::Value> = suite
        .webhook
        .requests()
        .into_iter()
        .map(|(_, body)| body)
        .filter(|b| b["template"] == "campaign")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            &sent[0]["recipient"],
            &sent[0]["channel"],
            &sent[0]["payload"]["code"]
        ),
        (&ada.id.clone().into(), &"email".into(), &"SPRING26".into())
    );
    let bobs = suite.notifications(&bob.id, NotificationStatus::Suppressed).await;
    assert_eq!(bobs.len(), 1);
    assert!(bobs[0].last_error.contains("email"), "{}", bobs[0].last_error);

    // A sales alert reaches the rep and the rep's manager.
    let alert = crm_proto::sales::v1::AlertRaised {
        alert: Some(crm_proto::sales::v1::Alert {
            id: "alert-1".into(),
            kind: crm_proto::sales::v1::AlertKind::StalledDeal as i32,
            subject_id: "opp-1".into(),
            owner_id: "rita".into(),
            manager_id: "max".into(),
            message: "Deal opp-1 has been in stage proposal for 45 days.".into(),
            ..Default::default()
        }),
    };
    suite
        .nats
        .publish_event("sales", "alert.raised", "opp-1", &alert)
        .await;
    let staff = "SELECT COUNT(*) FROM notifications WHERE template = 'sales_alert'";
    crm_testkit::fixtures::rows_reach(&suite.desk_db, staff, None, 2, "the alert queued for both").await;
    for user in ["rita", "max"] {
        let notes = suite.notifications(user, NotificationStatus::Unspecified).await;
        assert_eq!(notes.len(), 1, "{user}");
        assert_eq!(
            (notes[0].channel.as_str(), notes[0].template.as_str()),
            ("staff", "sales_alert")
        );
    }
}

/// Nothing is sent to or about an erased customer, whichever stream brings its news first: a
/// campaign contact or an at-risk outreach arriving after the erasure queues nothing, and a
/// notification that escaped the erasure (queued by a transaction that read the customer before
/// the erasure committed) is withdrawn at delivery.
async fn nothing_is_sent_to_or_about_an_erased_customer(backend: Backend) {
    use crm_proto::marketing::v1 as mpb;
    let suite = Suite::start(backend).await;
    let ada = suite.customer("Ada", "0911111111").await;
    let bob = suite.customer("Bob", "0922222222").await;
    let cy = suite.customer("Cy", "0933333333").await;
    for party in [&bob, &cy] {
        suite.erase(&party.id).await;
    }
    // What the erasure could not see: a message to Cy and a staff notice about Cy.
    for (id, recipient, about) in [
        ("n-to-cy", cy.id.as_str(), ""),
        ("n-about-cy", "rita", cy.id.as_str()),
    ] {
        sqlx::query(
            "INSERT INTO notifications (id, dedupe_key, channel, template, recipient, about, payload, \
             status, created_at, next_attempt_at) VALUES ($1, $1, 'sms', 'case_status', $2, $3, '{}', $4, 0, 0)",
        )
        .bind(id)
        .bind(recipient)
        .bind(about)
        .bind(NotificationStatus::Pending as i64)
        .execute(suite.desk_db.pool())
        .await
        .unwrap();
    }

    let contacted = spring(Channel::Sms, &[&ada.id, &bob.id]);
    suite
        .nats
        .publish_event("marketing", "campaign.contacted", "c-spring", &contacted)
        .await;
    let at_risk = mpb::CustomerAtRisk {
        party_id: bob.id.clone(),
        probability_alive_bps: 1_200,
    };
    suite
        .nats
        .publish_event("marketing", "customer.at_risk", &bob.id, &at_risk)
        .await;
    // Each event is one transaction: Ada's message and Bob's at-risk flag show it was applied.
    let campaign = "SELECT COUNT(*) FROM notifications WHERE template = 'campaign'";
    crm_testkit::fixtures::rows_reach(&suite.desk_db, campaign, None, 1, "Ada's message queued").await;
    let flagged = "SELECT COUNT(*) FROM customers WHERE party_id = $1 AND at_risk = 1";
    crm_testkit::fixtures::rows_reach(&suite.desk_db, flagged, Some(&bob.id), 1, "Bob's flag applied").await;
    let bobs = "SELECT COUNT(*) FROM notifications WHERE recipient = $1 OR about = $1";
    crm_testkit::fixtures::rows_reach(&suite.desk_db, bobs, Some(&bob.id), 0, "nothing queued for Bob").await;

    let run = suite.deliver().await;
    assert_eq!((run.delivered, run.withdrawn, run.suppressed), (1, 2, 0));
    let recipients: Vec<serde_json::Value> = suite
        .webhook
        .requests()
        .into_iter()
        .map(|(_, body)| body["recipient"].clone())
        .collect();
    assert_eq!(recipients, vec![serde_json::Value::from(ada.id.clone())]);
    let cys = "SELECT COUNT(*) FROM notifications WHERE recipient = $1 OR about = $1";
    crm_testkit::fixtures::rows_reach(
        &suite.desk_db,
        cys,
        Some(&cy.id),
        0,
        "Cy's notifications withdrawn",
    )
    .await;
}

backend_tests!(
    campaign_messages_honour_consent_at_delivery,
    nothing_is_sent_to_or_about_an_erased_customer,
    notifications_reach_the_webhook_once_with_retries,
    notifications_go_over_https_to_a_webhook_of_a_private_ca,
);
