//! Campaign execution: contacting sends (announced for the service desk to deliver), consent is
//! applied again at send time, a per-customer contact cap holds across campaigns, the messaging
//! gateway's bounces and opt-outs become consent, and an order redeeming a campaign's code is
//! the member's response. A large campaign is contacted a page at a time, in the background.

use std::collections::HashMap;
use std::time::Duration;

use crm_marketing::contacting;
use crm_proto::marketing::v1::{self as pb, CampaignStatus, Channel, ContactFeedbackKind};
use crm_proto::sales::v1 as spb;
use crm_testkit::{Backend, backend_tests, eventually};
use futures::StreamExt as _;
use tonic::Code;

use crate::helpers::{Suite, buyers, by_hand, money, plan, violated};

/// A campaign to every buyer on `channel`, testing everyone (1 in 1), with `code`.
fn campaign(name: &str, channel: Channel, segment_id: &str, code: &str) -> pb::Campaign {
    pb::Campaign {
        code: code.into(),
        message: format!("{name}: 10% off with {code}"),
        ..plan(name, channel, segment_id, 1)
    }
}

async fn campaigns_send_within_consent_and_contact_pressure(backend: Backend) {
    let suite = Suite::start_with(backend, |s| s.contact_cap = 2).await;
    let (widget, book) = suite.shop(10_00).await;
    let mut people = Vec::new();
    for i in 0..6 {
        let p = suite.person(&format!("E{i}"), "Taipei", "500000").await;
        suite.order(&p.id, &widget, &book, 1).await;
        people.push(p);
    }
    suite.profiles(6).await;
    suite.purchases(6).await;
    let segment_id = suite.create_segment(buyers("Buyers", 1)).await.id;
    let mut contacted_events = suite.nats.subscribe("crm.marketing.campaign.contacted").await;
    let create = |c: pb::Campaign| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::CreateCampaignRequest { campaign: Some(c) });
        async move {
            campaigns
                .create_campaign(req)
                .await
                .map(|r| r.into_inner().campaign.unwrap())
        }
    };
    let select = |id: String| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::SelectMembersRequest { campaign_id: id });
        async move { campaigns.select_members(req).await.unwrap().into_inner() }
    };
    let start = |id: String| {
        let suite = &suite;
        async move { suite.start_test(&id).await.unwrap() }
    };

    // Codes are validated and unique.
    let err = create(campaign("Bad", Channel::Email, &segment_id, "spring 26"))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["campaign.code"]);
    let spring = create(campaign("Spring", Channel::Email, &segment_id, "SPRING26"))
        .await
        .unwrap();
    assert_eq!(spring.code, "SPRING26");
    let err = create(campaign("Again", Channel::Email, &segment_id, "SPRING26"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // Spring reaches all six.
    assert_eq!(select(spring.id.clone()).await.selected, 6);
    let started = start(spring.id.clone()).await;
    assert_eq!((started.contacted, started.suppressed, started.capped), (6, 0, 0));

    // Summer selects all six, then E0 opts out of e-mail before the test starts: not sent.
    let summer = create(campaign("Summer", Channel::Email, &segment_id, "SUMMER26"))
        .await
        .unwrap();
    assert_eq!(select(summer.id.clone()).await.selected, 6);
    suite
        .marketing
        .clone()
        .set_consent(suite.req(pb::SetConsentRequest {
            consent: Some(pb::Consent {
                party_id: people[0].id.clone(),
                channel: Channel::Email as i32,
                opted_out: true,
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    let started = start(summer.id.clone()).await;
    assert_eq!((started.contacted, started.suppressed, started.capped), (5, 1, 0));

    // Autumn: E1..E5 had two e-mails within 30 days, the cap; E0 opted out. Nobody is mailed.
    let autumn = create(campaign("Autumn", Channel::Email, &segment_id, ""))
        .await
        .unwrap();
    let selection = select(autumn.id.clone()).await;
    assert_eq!((selection.selected, selection.suppressed), (5, 1));
    let started = start(autumn.id.clone()).await;
    assert_eq!((started.contacted, started.suppressed, started.capped), (0, 0, 5));
    // The cap is per channel: an SMS campaign reaches all six.
    let texts = create(campaign("Texts", Channel::Sms, &segment_id, ""))
        .await
        .unwrap();
    select(texts.id.clone()).await;
    let started = start(texts.id.clone()).await;
    assert_eq!((started.contacted, started.capped), (6, 0));

    // Each contact was announced once, for the desk to send.
    let mut announced = Vec::new();
    while announced.len() < 6 + 5 + 6 {
        let msg = tokio::time::timeout(Duration::from_secs(30), contacted_events.next())
            .await
            .expect("campaign.contacted")
            .unwrap();
        let e: pb::CampaignContacted = prost::Message::decode(msg.payload).unwrap();
        for party in e.party_ids {
            announced.push((e.campaign_id.clone(), party));
        }
    }
    assert_eq!(announced.iter().filter(|(c, _)| *c == spring.id).count(), 6);
    assert!(
        !announced
            .iter()
            .any(|(c, p)| *c == summer.id && *p == people[0].id)
    );

    // E1 redeems SPRING26 with an order: that is E1's response to Spring, and no lead.
    suite
        .orders
        .clone()
        .place_order(suite.req(spb::PlaceOrderRequest {
            order: Some(spb::Order {
                party_id: people[1].id.clone(),
                campaign_code: "spring26".into(),
                lines: vec![spb::LineItem {
                    product_id: widget.id.clone(),
                    quantity: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            price_book_id: book.clone(),
        }))
        .await
        .unwrap();
    let status_of = |campaign: String, party: String| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::ListCampaignMembersRequest {
            campaign_id: campaign,
            ..Default::default()
        });
        async move {
            campaigns
                .list_campaign_members(req)
                .await
                .unwrap()
                .into_inner()
                .members
                .into_iter()
                .find(|m| m.party_id == party)
                .map(|m| m.status)
        }
    };
    eventually(
        Duration::from_secs(30),
        "the redemption is E1's response",
        || async {
            (status_of(spring.id.clone(), people[1].id.clone())
                .await
                .as_deref()
                == Some("responded"))
            .then_some(())
        },
    )
    .await;
    // E2 answers by hand: that one is a lead. Sales applies responses in order, so once E2's
    // lead is there, E1's response was seen and made none.
    suite
        .campaigns
        .clone()
        .record_response(suite.req(pb::RecordResponseRequest {
            campaign_id: spring.id.clone(),
            party_id: people[2].id.clone(),
            response_id: "reply-1".into(),
        }))
        .await
        .unwrap();
    let leads = eventually(Duration::from_secs(30), "E2's lead", || async {
        let leads = suite
            .pipeline
            .clone()
            .list_leads(suite.req(spb::ListLeadsRequest {
                source: spb::LeadSource::Campaign as i32,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .leads;
        (!leads.is_empty()).then_some(leads)
    })
    .await;
    assert_eq!(
        leads.iter().map(|l| l.party_id.as_str()).collect::<Vec<_>>(),
        [people[2].id.as_str()]
    );
}

async fn bounces_and_opt_outs_become_consent(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ann = suite.person("Ann", "Taipei", "500000").await;
    suite.profiles(1).await;
    let mut changes = suite.nats.subscribe("crm.marketing.consent.changed.>").await;
    let feedback = |id: &str, channel: Channel, kind: ContactFeedbackKind| {
        let mut marketing = suite.marketing.clone();
        let req = suite.req(pb::RecordContactFeedbackRequest {
            feedback_id: id.into(),
            party_id: ann.id.clone(),
            channel: channel as i32,
            kind: kind as i32,
            campaign_id: String::new(),
        });
        async move {
            marketing
                .record_contact_feedback(req)
                .await
                .map(|r| r.into_inner())
        }
    };
    let err = feedback(" ", Channel::Unspecified, ContactFeedbackKind::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["feedback_id", "channel", "kind"]);

    // A full mailbox changes nothing; a dead address stops e-mail; a complaint opts out of SMS.
    let soft = feedback("b-1", Channel::Email, ContactFeedbackKind::SoftBounce)
        .await
        .unwrap();
    let consent = soft.consent.unwrap();
    assert!(soft.recorded && !consent.opted_out && !consent.do_not_contact);
    let hard = feedback("b-2", Channel::Email, ContactFeedbackKind::HardBounce)
        .await
        .unwrap();
    assert!(hard.consent.unwrap().do_not_contact);
    let again = feedback("b-2", Channel::Email, ContactFeedbackKind::HardBounce)
        .await
        .unwrap();
    assert!(!again.recorded, "once per feedback id");
    let complaint = feedback("c-1", Channel::Sms, ContactFeedbackKind::Complaint)
        .await
        .unwrap();
    assert!(complaint.consent.unwrap().opted_out);
    let consents = suite
        .marketing
        .clone()
        .get_consent(suite.req(pb::GetConsentRequest {
            party_id: ann.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .consents;
    assert_eq!(
        consents
            .iter()
            .map(|c| (c.channel, c.opted_out, c.do_not_contact))
            .collect::<Vec<_>>(),
        [
            (Channel::Email as i32, false, true),
            (Channel::Sms as i32, true, false)
        ]
    );
    // Two changes announced, about Ann.
    for expected in [Channel::Email, Channel::Sms] {
        let msg = tokio::time::timeout(Duration::from_secs(30), changes.next())
            .await
            .expect("consent.changed")
            .unwrap();
        assert!(msg.subject.ends_with(&ann.id));
        let e: pb::ConsentChanged = prost::Message::decode(msg.payload).unwrap();
        assert_eq!(e.consent.unwrap().channel, expected as i32);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), changes.next())
            .await
            .is_err(),
        "nothing for the soft bounce or the repeat"
    );
}

/// `n` members of a campaign, as SelectMembers leaves them (`m00000`, `m00001`, ... in two
/// cells), written straight into marketing's database: a campaign of thousands without
/// thousands of customers.
async fn selected(suite: &Suite, campaign_id: &str, n: usize) {
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('{campaign_id}', 'm{i:05}', '{}', 'selected')",
                    444 + (i % 2) * 111
                )
            })
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO campaign_members (campaign_id, party_id, cell, status) VALUES {}",
            rows.join(", ")
        )))
        .execute(suite.marketing_db.pool())
        .await
        .unwrap();
    }
}

/// How many members of a campaign were contacted, read from the table.
async fn contacted(suite: &Suite, campaign_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM campaign_members WHERE campaign_id = $1 AND contacted_at IS NOT NULL",
    )
    .bind(campaign_id)
    .fetch_one(suite.marketing_db.pool())
    .await
    .unwrap()
}

async fn a_large_campaign_is_contacted_a_page_at_a_time(backend: Backend) {
    let settings = by_hand();
    let suite = Suite::start_with(backend, |s| *s = settings.clone()).await;
    let store = suite.marketing_store();
    let segment_id = suite.create_segment(buyers("Everyone", 0)).await.id;
    let create = |name: &str, channel: Channel, budget_contacts: i64| {
        let mut campaigns = suite.campaigns.clone();
        let mut c = campaign(name, channel, &segment_id, "");
        c.budget = money(budget_contacts * 62);
        let req = suite.req(pb::CreateCampaignRequest { campaign: Some(c) });
        async move {
            campaigns
                .create_campaign(req)
                .await
                .unwrap()
                .into_inner()
                .campaign
                .unwrap()
        }
    };
    let get = |id: &str| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::GetCampaignRequest { id: id.into() });
        async move {
            campaigns
                .get_campaign(req)
                .await
                .unwrap()
                .into_inner()
                .campaign
                .unwrap()
        }
    };
    let start = |id: &str| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::StartTestRequest {
            campaign_id: id.into(),
        });
        async move { campaigns.start_test(req).await.map(|r| r.into_inner()) }
    };
    let mut contacted_events = suite.nats.subscribe("crm.marketing.campaign.contacted").await;

    // A test group of 2,500 costs more than a budget for 2,499: refused, nothing marked.
    let over = create("Over", Channel::Email, 2_499).await;
    selected(&suite, &over.id, 2_500).await;
    let err = start(&over.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("budget"), "{}", err.message());
    assert_eq!(get(&over.id).await.status, CampaignStatus::Draft as i32);
    let marked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM campaign_members WHERE campaign_id = $1 AND test_group = 1")
            .bind(&over.id)
            .fetch_one(suite.marketing_db.pool())
            .await
            .unwrap();
    assert_eq!(marked, 0);

    // 2,500 within budget: StartTest answers with the run just begun.
    let big = create("Big", Channel::Email, 2_500).await;
    selected(&suite, &big.id, 2_500).await;
    let started = start(&big.id).await.unwrap();
    let run = started.run.unwrap();
    assert_eq!((run.to_contact, run.considered, started.contacted), (2_500, 0, 0));
    assert!(run.finish_time.is_none());
    let shown = get(&big.id).await;
    assert_eq!(shown.status, CampaignStatus::Testing as i32);
    assert_eq!(shown.contact_run, Some(run));
    let err = suite
        .campaigns
        .clone()
        .roll_out(suite.req(pb::RollOutRequest {
            campaign_id: big.id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "the test is still being contacted"
    );

    // Two replicas on the first page: one page's contacts count, whichever committed.
    let (a, b) = tokio::join!(
        contacting::next_page(&store, &settings, &big.id),
        contacting::next_page(&store, &settings, &big.id)
    );
    assert!(a.unwrap() && b.unwrap(), "the run is still under way");
    let run = get(&big.id).await.contact_run.unwrap();
    assert!([1_000, 2_000].contains(&run.considered), "{run:?}");
    assert_eq!(run.contacted, run.considered);
    assert_eq!(contacted(&suite, &big.id).await, run.contacted);

    // The job goes on with it to its end, then finds nothing.
    assert_eq!(contacting::run_pending(&store, &settings).await.unwrap(), 1);
    let run = get(&big.id).await.contact_run.unwrap();
    assert!(run.finish_time.is_some() && !run.stopped);
    assert_eq!(
        (run.considered, run.contacted, run.suppressed, run.capped),
        (2_500, 2_500, 0, 0)
    );
    assert_eq!(contacted(&suite, &big.id).await, 2_500);
    assert_eq!(contacting::run_pending(&store, &settings).await.unwrap(), 0);

    // Closed after its first page, a run stops there.
    let stopped = create("Stopped", Channel::Sms, 2_500).await;
    selected(&suite, &stopped.id, 2_500).await;
    start(&stopped.id).await.unwrap();
    assert!(
        contacting::next_page(&store, &settings, &stopped.id)
            .await
            .unwrap()
    );
    suite
        .campaigns
        .clone()
        .close_campaign(suite.req(pb::CloseCampaignRequest {
            campaign_id: stopped.id.clone(),
        }))
        .await
        .unwrap();
    assert!(
        !contacting::next_page(&store, &settings, &stopped.id)
            .await
            .unwrap()
    );
    assert_eq!(contacting::run_pending(&store, &settings).await.unwrap(), 0);
    let run = get(&stopped.id).await.contact_run.unwrap();
    assert!(run.stopped && run.finish_time.is_some());
    assert_eq!((run.considered, run.contacted), (1_000, 1_000));
    assert_eq!(contacted(&suite, &stopped.id).await, 1_000);

    // Each contact was announced once, for the desk to send.
    let mut announced: HashMap<(String, String), usize> = HashMap::new();
    while announced.values().sum::<usize>() < 2_500 + 1_000 {
        let msg = tokio::time::timeout(Duration::from_secs(30), contacted_events.next())
            .await
            .expect("campaign.contacted")
            .unwrap();
        let e: pb::CampaignContacted = prost::Message::decode(msg.payload).unwrap();
        for party in e.party_ids {
            *announced.entry((e.campaign_id.clone(), party)).or_default() += 1;
        }
    }
    assert_eq!(announced.len(), 2_500 + 1_000, "nobody twice");
    assert_eq!(announced.keys().filter(|(c, _)| *c == big.id).count(), 2_500);

    // A test of 1 in 3 picks its group page by page, across a cell's pages: in each cell,
    // members by id, positions 1, 4, 7, ..., as one pass would. Its size was counted up front:
    // a budget of exactly the group suffices.
    let one_in_three = |name: &str| {
        let mut c = campaign(name, Channel::Email, &segment_id, "");
        c.test_every_n = 3;
        c.budget = money(2_334 * 62);
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::CreateCampaignRequest { campaign: Some(c) });
        async move {
            let c = campaigns.create_campaign(req).await.unwrap().into_inner();
            c.campaign.unwrap()
        }
    };
    let tested = |id: &str| {
        let query = sqlx::query_scalar::<_, String>(
            "SELECT party_id FROM campaign_members WHERE campaign_id = $1 AND test_group = 1 \
             AND contacted_at IS NOT NULL ORDER BY party_id",
        )
        .bind(id.to_owned());
        let pool = suite.marketing_db.pool().clone();
        async move { query.fetch_all(&pool).await.unwrap() }
    };
    let mut want: Vec<String> = Vec::new();
    for parity in [0, 1] {
        let cell: Vec<usize> = (0..7_001).filter(|i| i % 2 == parity).collect();
        want.extend(cell.iter().step_by(3).map(|i| format!("m{i:05}")));
    }
    want.sort();
    let sampled = one_in_three("Sampled").await;
    selected(&suite, &sampled.id, 7_001).await;
    let run = start(&sampled.id).await.unwrap().run.unwrap();
    assert_eq!(run.to_contact, 1_167 + 1_167);
    let mut pages = 0;
    while contacting::next_page(&store, &settings, &sampled.id)
        .await
        .unwrap()
    {
        pages += 1;
    }
    assert_eq!(pages, 2, "three pages of 3,000 members read, the last short");
    assert_eq!(tested(&sampled.id).await, want);
    assert_eq!(contacted(&suite, &sampled.id).await, 2_334);
    let run = get(&sampled.id).await.contact_run.unwrap();
    assert!(run.finish_time.is_some());
    assert_eq!((run.considered, run.contacted), (2_334, 2_334));

    // A test run the release before left under way (its phase 1, its whole group marked when
    // it started, its place a party id, the group contacted up to it) is gone on with to its
    // end: the same group, nobody twice.
    let legacy = one_in_three("Legacy").await;
    selected(&suite, &legacy.id, 7_001).await;
    start(&legacy.id).await.unwrap();
    for sql in [
        "UPDATE campaigns SET run_phase = 1, run_after = 'm03000' WHERE id = $1",
        "UPDATE campaign_members SET test_group = 1 WHERE campaign_id = $1 AND party_id IN (\
         SELECT party_id FROM (SELECT party_id, ROW_NUMBER() OVER (PARTITION BY cell ORDER BY party_id) AS rn \
         FROM campaign_members WHERE campaign_id = $1) t WHERE (rn - 1) % 3 = 0)",
        "UPDATE campaign_members SET status = 'contacted', contacted_at = 1 \
         WHERE campaign_id = $1 AND test_group = 1 AND party_id <= 'm03000'",
    ] {
        sqlx::query(sql)
            .bind(&legacy.id)
            .execute(suite.marketing_db.pool())
            .await
            .unwrap();
    }
    assert_eq!(contacted(&suite, &legacy.id).await, 1_001);
    while contacting::next_page(&store, &settings, &legacy.id)
        .await
        .unwrap()
    {}
    assert_eq!(tested(&legacy.id).await, want);
    assert_eq!(contacted(&suite, &legacy.id).await, 2_334);
    let run = get(&legacy.id).await.contact_run.unwrap();
    assert_eq!(
        (run.phase, run.contacted),
        (pb::ContactPhase::Test as i32, 2_334 - 1_001)
    );
    assert!(run.finish_time.is_some());
}

backend_tests!(
    campaigns_send_within_consent_and_contact_pressure,
    bounces_and_opt_outs_become_consent,
    a_large_campaign_is_contacted_a_page_at_a_time,
);
