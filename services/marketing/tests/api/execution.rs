//! Campaign execution: contacting sends (announced for the service desk to deliver), consent is
//! applied again at send time, a per-customer contact cap holds across campaigns, the messaging
//! gateway's bounces and opt-outs become consent, and an order redeeming a campaign's code is
//! the member's response.

use std::time::Duration;

use crm_proto::marketing::v1::{self as pb, Channel, Condition, ContactFeedbackKind, Operator};
use crm_proto::sales::v1 as spb;
use crm_testkit::{Backend, backend_tests, eventually};
use futures::StreamExt as _;
use tonic::Code;

use crate::helpers::{Suite, money, violated};

/// A campaign to every buyer on `channel`, testing everyone (1 in 1), with `code`.
fn campaign(name: &str, channel: Channel, segment_id: &str, code: &str) -> pb::Campaign {
    pb::Campaign {
        name: name.into(),
        channel: channel as i32,
        budget: money(1_000_00),
        cost_per_contact: money(62),
        net_profit_per_response: money(35_00),
        segment_id: segment_id.into(),
        test_every_n: 1,
        code: code.into(),
        message: format!("{name}: 10% off with {code}"),
        ..Default::default()
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
    let segment_id = suite
        .marketing
        .clone()
        .create_segment(suite.req(pb::CreateSegmentRequest {
            segment: Some(pb::Segment {
                name: "Buyers".into(),
                conditions: vec![Condition {
                    field: "order_count".into(),
                    operator: Operator::GreaterOrEqual as i32,
                    value: "1".into(),
                }],
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .segment
        .unwrap()
        .id;
    let mut contacted_events = suite
        .nats
        .client()
        .await
        .subscribe("crm.marketing.campaign.contacted")
        .await
        .unwrap();
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
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::StartTestRequest { campaign_id: id });
        async move { campaigns.start_test(req).await.unwrap().into_inner() }
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
    let mut changes = suite
        .nats
        .client()
        .await
        .subscribe("crm.marketing.consent.changed.>")
        .await
        .unwrap();
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

backend_tests!(
    campaigns_send_within_consent_and_contact_pressure,
    bounces_and_opt_outs_become_consent,
);
