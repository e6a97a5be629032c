use std::collections::HashMap;
use std::time::Duration;

use crm_proto::marketing::v1::{self as pb, CampaignStatus, Channel, Condition, Operator};
use crm_proto::sales::v1 as spb;
use crm_testkit::{Backend, all_pages, backend_tests, eventually};
use tonic::Code;

use crate::helpers::{Suite, money, plan, violated};

/// The documented quintile rule, computed here independently: worst first, ties by id,
/// score = 1 + position * 5 / n.
fn quintiles(mut ranked: Vec<(i64, String)>) -> HashMap<String, i32> {
    ranked.sort();
    let n = ranked.len();
    ranked
        .into_iter()
        .enumerate()
        .map(|(i, (_, id))| (id, 1 + (i * 5 / n) as i32))
        .collect()
}

async fn rfm_scores_and_segments(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (widget, book) = suite.shop(10_00).await;
    // Twenty customers; customer i buys (i % 4) + 1 orders of (i + 1) widgets.
    let mut people = Vec::new();
    for i in 0..20 {
        let city = if i % 2 == 0 { "Taipei" } else { "Kaohsiung" };
        let income = if i < 10 { "400000" } else { "650000" };
        people.push(suite.person(&format!("P{i:02}"), city, income).await);
    }
    let never = suite.person("Never", "Taipei", "900000").await;
    let mut expected_orders = 0;
    let mut frequency = Vec::new();
    let mut monetary = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let orders = (i % 4) as i64 + 1;
        for _ in 0..orders {
            suite.order(&p.id, &widget, &book, i as i64 + 1).await;
        }
        expected_orders += orders;
        frequency.push((orders, p.id.clone()));
        monetary.push((orders * (i as i64 + 1) * 10_00, p.id.clone()));
    }
    suite.profiles(21).await;
    suite.purchases(expected_orders).await;

    // RFM against an independent computation. Every order is from today, so recency ties and
    // the id decides.
    let f = quintiles(frequency);
    let m = quintiles(monetary);
    let r = quintiles(people.iter().map(|p| (0, p.id.clone())).collect());
    let scores = suite
        .marketing
        .clone()
        .list_rfm_scores(suite.req(pb::ListRfmScoresRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .scores;
    assert_eq!(scores.len(), 20, "customers without purchases have no RFM score");
    for s in &scores {
        assert_eq!(
            (s.recency, s.frequency, s.monetary),
            (r[&s.party_id], f[&s.party_id], m[&s.party_id]),
            "{}",
            s.party_id
        );
    }
    let cells = suite
        .marketing
        .clone()
        .get_rfm_cells(suite.req(pb::GetRfmCellsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .cells;
    assert_eq!(cells.len(), 125);
    assert_eq!(cells.iter().map(|c| c.customers).sum::<i64>(), 20);
    let total: i64 = scores
        .iter()
        .map(|s| s.total_spend.as_ref().unwrap().amount_minor)
        .sum();
    assert_eq!(
        cells
            .iter()
            .map(|c| c.revenue.as_ref().unwrap().amount_minor)
            .sum::<i64>(),
        total
    );

    // Segment: city = Taipei AND F >= 1 AND income > 500000 (the customer who never bought has no
    // RFM score and is not selected).
    let rule = vec![
        Condition {
            field: "attributes.city".into(),
            operator: Operator::Equals as i32,
            value: "Taipei".into(),
        },
        Condition {
            field: "f".into(),
            operator: Operator::GreaterOrEqual as i32,
            value: "1".into(),
        },
        Condition {
            field: "attributes.income".into(),
            operator: Operator::GreaterThan as i32,
            value: "500000".into(),
        },
    ];
    let preview = suite
        .marketing
        .clone()
        .preview_segment(suite.req(pb::PreviewSegmentRequest {
            conditions: rule.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let expected: Vec<String> = people
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0 && *i >= 10)
        .map(|(_, p)| p.id.clone())
        .collect();
    assert_eq!(preview.count, expected.len() as i64);
    assert!(!preview.sample_party_ids.contains(&never.id));
    let bad = suite
        .marketing
        .clone()
        .preview_segment(suite.req(pb::PreviewSegmentRequest {
            conditions: vec![Condition {
                field: "shoe".into(),
                operator: 0,
                value: "x".into(),
            }],
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec!["conditions[0].field", "conditions[0].operator"]
    );
    let profile = suite
        .marketing
        .clone()
        .get_profile(suite.req(pb::GetProfileRequest {
            party_id: people[12].id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(profile.order_count, 1);
    assert_eq!(
        profile.rfm.unwrap().cell,
        format!(
            "{}-{}-{}",
            r[&people[12].id], f[&people[12].id], m[&people[12].id]
        )
    );
}

/// Twenty customers who bought the same: the id tie-break puts them in the cells 1-1-1 ... 5-5-5,
/// four in each, which makes the test-cell method visible.
async fn the_test_cell_method_end_to_end(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (widget, book) = suite.shop(10_00).await;
    let mut people = Vec::new();
    for i in 0..20 {
        let p = suite.person(&format!("P{i:02}"), "Taipei", "500000").await;
        suite.order(&p.id, &widget, &book, 1).await;
        people.push(p);
    }
    let expected_orders = 20;
    suite.profiles(20).await;
    suite.purchases(expected_orders).await;

    // The campaign targets everybody who bought: a rule over frequency.
    let buyers = pb::Segment {
        name: "Buyers".into(),
        conditions: vec![Condition {
            field: "order_count".into(),
            operator: Operator::GreaterOrEqual as i32,
            value: "1".into(),
        }],
        ..Default::default()
    };
    let buyers = suite
        .marketing
        .clone()
        .create_segment(suite.req(pb::CreateSegmentRequest {
            segment: Some(buyers),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(buyers.count, 20);
    let segment_id = buyers.segment.unwrap().id;

    // One customer opted out of email: never selected.
    let opted_out = people[3].id.clone();
    suite
        .marketing
        .clone()
        .set_consent(suite.req(pb::SetConsentRequest {
            consent: Some(pb::Consent {
                party_id: opted_out.clone(),
                channel: Channel::Email as i32,
                opted_out: true,
                ..Default::default()
            }),
        }))
        .await
        .unwrap();

    let err = suite
        .campaigns
        .clone()
        .create_campaign(suite.req(pb::CreateCampaignRequest {
            campaign: Some(pb::Campaign {
                name: "x".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        vec![
            "campaign.channel",
            "campaign.budget",
            "campaign.cost_per_contact",
            "campaign.net_profit_per_response",
            "campaign.segment_id",
            "campaign.test_every_n"
        ]
    );
    let campaign = suite
        .create_campaign(plan("Spring mailing", Channel::Email, &segment_id, 2))
        .await;
    assert_eq!(campaign.break_even_bps, 178, "0.62 / 35 = 1.77%");
    let selection = suite
        .campaigns
        .clone()
        .select_members(suite.req(pb::SelectMembersRequest {
            campaign_id: campaign.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((selection.selected, selection.suppressed), (19, 1));
    let started = suite.start_test(&campaign.id).await.unwrap();
    assert_eq!(started.phase, pb::ContactPhase::Test as i32);
    assert!(!started.stopped);
    let members = suite
        .campaigns
        .clone()
        .list_campaign_members(suite.req(pb::ListCampaignMembersRequest {
            campaign_id: campaign.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .members;
    assert!(!members.iter().any(|m| m.party_id == opted_out));
    // Pages of three give the same members in the same order.
    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = suite
            .campaigns
            .clone()
            .list_campaign_members(suite.req(pb::ListCampaignMembersRequest {
                campaign_id: campaign.id.clone(),
                page_size: 3,
                page_token,
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.members.len() <= 3);
        paged.extend(page.members);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, members);
    // Independently: in every cell, members sorted by id, positions 1, 3, 5... are tested.
    let mut by_cell: HashMap<String, Vec<String>> = HashMap::new();
    for m in &members {
        by_cell
            .entry(m.cell.clone())
            .or_default()
            .push(m.party_id.clone());
    }
    let mut expected_test = Vec::new();
    for ids in by_cell.values_mut() {
        ids.sort();
        expected_test.extend(ids.iter().step_by(2).cloned());
    }
    let mut tested: Vec<String> = members
        .iter()
        .filter(|m| m.test_group)
        .map(|m| m.party_id.clone())
        .collect();
    tested.sort();
    expected_test.sort();
    assert_eq!(tested, expected_test);
    assert_eq!(started.contacted, tested.len() as i64);
    assert_eq!(
        (started.to_contact, started.considered),
        (started.contacted, started.contacted)
    );

    // Responses from the test group of one cell only.
    let responding_cell = members.iter().find(|m| m.test_group).unwrap().cell.clone();
    let responders: Vec<String> = members
        .iter()
        .filter(|m| m.test_group && m.cell == responding_cell)
        .map(|m| m.party_id.clone())
        .collect();
    for (i, party) in responders.iter().enumerate() {
        let recorded = suite
            .campaigns
            .clone()
            .record_response(suite.req(pb::RecordResponseRequest {
                campaign_id: campaign.id.clone(),
                party_id: party.clone(),
                response_id: format!("coupon-{i}"),
            }))
            .await
            .unwrap()
            .into_inner()
            .recorded;
        assert!(recorded);
    }
    let again = suite
        .campaigns
        .clone()
        .record_response(suite.req(pb::RecordResponseRequest {
            campaign_id: campaign.id.clone(),
            party_id: responders[0].clone(),
            response_id: "coupon-0".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.recorded, "a response is recorded once");
    let untested = members.iter().find(|m| !m.test_group).unwrap().party_id.clone();
    let err = suite
        .campaigns
        .clone()
        .record_response(suite.req(pb::RecordResponseRequest {
            campaign_id: campaign.id.clone(),
            party_id: untested,
            response_id: "x".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "not contacted yet");

    let results = suite
        .campaigns
        .clone()
        .get_test_results(suite.req(pb::GetTestResultsRequest {
            campaign_id: campaign.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(results.break_even_bps, 178);
    let selected: Vec<&str> = results
        .cells
        .iter()
        .filter(|c| c.selected)
        .map(|c| c.cell.as_str())
        .collect();
    assert_eq!(selected, vec![responding_cell.as_str()]);
    let (cells, rolled) = suite.roll_out(&campaign.id).await.unwrap();
    assert_eq!(cells, vec![responding_cell.clone()]);
    assert_eq!(rolled.phase, pb::ContactPhase::RollOut as i32);
    let members = suite
        .campaigns
        .clone()
        .list_campaign_members(suite.req(pb::ListCampaignMembersRequest {
            campaign_id: campaign.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .members;
    for m in &members {
        let contacted = m.status != "selected";
        assert_eq!(
            contacted,
            m.test_group || m.cell == responding_cell,
            "{m:?}: only the chosen cell is rolled out"
        );
    }
    assert_eq!(
        rolled.contacted,
        members
            .iter()
            .filter(|m| !m.test_group && m.cell == responding_cell)
            .count() as i64
    );

    // Each response became one lead in sales.
    let leads = eventually(Duration::from_secs(20), "leads from responses", || {
        let mut pipeline = suite.pipeline.clone();
        let req = suite.req(spb::ListLeadsRequest {
            source: spb::LeadSource::Campaign as i32,
            ..Default::default()
        });
        let n = responders.len();
        async move {
            let leads = pipeline.list_leads(req).await.ok()?.into_inner().leads;
            (leads.len() == n).then_some(leads)
        }
    })
    .await;
    assert!(leads.iter().all(|l| responders.contains(&l.party_id)));

    // A responder orders after the contact: a conversion with its revenue.
    suite.order(&responders[0], &widget, &book, 50).await;
    suite.purchases(expected_orders + 1).await;
    let perf = suite
        .campaigns
        .clone()
        .get_campaign_performance(suite.req(pb::GetCampaignPerformanceRequest {
            campaign_id: campaign.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let overall = perf.overall.unwrap();
    assert_eq!(overall.responses, responders.len() as i64);
    assert_eq!(overall.conversions, 1);
    assert_eq!(overall.revenue.as_ref().unwrap().amount_minor, 500_00);
    assert_eq!(
        overall.cost.as_ref().unwrap().amount_minor,
        overall.contacted * 62
    );
    assert_eq!(
        overall.roi_bps,
        (500_00 - overall.contacted * 62) * 10_000 / (overall.contacted * 62)
    );
    let closed = suite
        .campaigns
        .clone()
        .close_campaign(suite.req(pb::CloseCampaignRequest {
            campaign_id: campaign.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .campaign
        .unwrap();
    assert_eq!(closed.status, CampaignStatus::Closed as i32);
    let profile = suite
        .marketing
        .clone()
        .get_profile(suite.req(pb::GetProfileRequest {
            party_id: responders[0].clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!((profile.campaigns.len(), profile.campaign_count), (1, 1));
    assert!(profile.segment_ids.contains(&segment_id));

    // A campaign cannot contact more than its budget pays for.
    let tiny = suite
        .create_campaign(pb::Campaign {
            budget: money(1_00),
            ..plan("Tiny budget", Channel::Mail, &segment_id, 2)
        })
        .await;
    suite
        .campaigns
        .clone()
        .select_members(suite.req(pb::SelectMembersRequest {
            campaign_id: tiny.id.clone(),
        }))
        .await
        .unwrap();
    let err = suite.start_test(&tiny.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("budget"), "{}", err.message());
    let tiny = suite
        .campaigns
        .clone()
        .get_campaign(suite.req(pb::GetCampaignRequest { id: tiny.id }))
        .await
        .unwrap()
        .into_inner()
        .campaign
        .unwrap();
    assert_eq!(
        tiny.status,
        CampaignStatus::Draft as i32,
        "refused, it is still a draft"
    );
    assert!(tiny.contact_run.is_none());
}

/// A customer's own figures are current at once; their scores move once the quintile
/// boundaries are recomputed from the new purchases.
async fn a_profile_follows_new_purchases(backend: Backend) {
    let suite = Suite::start(backend).await;
    let (widget, book) = suite.shop(10_00).await;
    let mut people = Vec::new();
    for i in 0..10 {
        let p = suite.person(&format!("Q{i}"), "Taipei", "1").await;
        suite.order(&p.id, &widget, &book, i + 1).await;
        people.push(p);
    }
    suite.profiles(10).await;
    suite.purchases(10).await;
    let profile = |id: String| {
        let mut client = suite.marketing.clone();
        let req = suite.req(pb::GetProfileRequest { party_id: id });
        async move {
            client
                .get_profile(req)
                .await
                .unwrap()
                .into_inner()
                .profile
                .unwrap()
        }
    };
    let first = profile(people[0].id.clone()).await;
    assert_eq!((first.order_count, first.rfm.unwrap().monetary), (1, 1));

    suite.order(&people[0].id, &widget, &book, 100).await;
    suite.purchases(11).await;
    let now = profile(people[0].id.clone()).await;
    assert_eq!(now.order_count, 2, "the customer's own figures at once");
    assert_eq!(now.total_spend.unwrap().amount_minor, 101 * 10_00);
    let rfm = eventually(Duration::from_secs(20), "boundaries recomputed", || async {
        let rfm = profile(people[0].id.clone()).await.rfm.unwrap();
        (rfm.monetary == 5).then_some(rfm)
    })
    .await;
    assert_eq!((rfm.frequency, rfm.order_count), (5, 2));
    // Those the customer overtook moved down a bin.
    let overtaken = profile(people[9].id.clone()).await.rfm.unwrap();
    assert_eq!(
        overtaken.monetary, 5,
        "customer 9 still among the top two by spend"
    );
    let pushed = profile(people[7].id.clone()).await.rfm.unwrap();
    assert_eq!(pushed.monetary, 4, "customer 7 is now third by spend");
}

/// Scores page by party id, a cell filters them, and a past date ranks the purchases placed up
/// to its end.
async fn rfm_scores_page_and_look_back(backend: Backend) {
    // Monday 2026-11-23 10:00 UTC.
    let clock = crm_platform::clock::ManualClock::at(1_795_428_000_000_000);
    let suite = Suite::start_at(backend, Some(clock.clone())).await;
    let (widget, book) = suite.shop(10_00).await;
    let mut monetary = Vec::new();
    for i in 0..12i64 {
        let p = suite.person(&format!("R{i:02}"), "Taipei", "1").await;
        suite.order(&p.id, &widget, &book, (i * 7) % 5 + 1).await;
        monetary.push((((i * 7) % 5 + 1) * 10_00, p.id.clone()));
    }
    suite.profiles(12).await;
    suite.purchases(12).await;
    let list = |as_of: &str, cell: &str, page_size: i32, page_token: String| {
        let mut client = suite.marketing.clone();
        let req = suite.req(pb::ListRfmScoresRequest {
            as_of: as_of.into(),
            cell: cell.into(),
            page_size,
            page_token,
        });
        async move { client.list_rfm_scores(req).await.map(|r| r.into_inner()) }
    };
    let fives = |as_of: &'static str| {
        all_pages(move |token| async move {
            let page = list(as_of, "", 5, token).await.unwrap();
            assert!(page.scores.len() <= 5);
            (page.scores, page.next_page_token)
        })
    };
    let whole = list("", "", 0, String::new()).await.unwrap();
    assert_eq!((whole.scores.len(), whole.next_page_token.as_str()), (12, ""));
    let (paged, pages) = fives("").await;
    assert_eq!(pages, 3);
    assert_eq!(paged, whole.scores, "pages of five give the whole list, in order");
    let cell = whole.scores[3].cell.clone();
    let in_cell = list("", &cell, 0, String::new()).await.unwrap().scores;
    assert!(!in_cell.is_empty() && in_cell.iter().all(|s| s.cell == cell));
    assert_eq!(
        in_cell.len(),
        whole.scores.iter().filter(|s| s.cell == cell).count()
    );
    let bad = list("", "6-1-1", 0, String::new()).await.unwrap_err();
    assert_eq!(violated(&bad), vec!["cell"]);
    // A page of one cell looks at so many customers at most: with three, each page ends short
    // and the next goes on from the last customer it looked at; together they give the cell.
    {
        use crm_marketing::storage::{figures, rfm};
        let mut conn = suite.marketing_db.pool().acquire().await.unwrap();
        let (_, cuts) = figures::cuts(&mut conn, "USD").await.unwrap().unwrap();
        let wanted: Vec<i64> = cell.split('-').map(|n| n.parse().unwrap()).collect();
        let wanted = Some((wanted[0], wanted[1], wanted[2]));
        let (mut found, mut after, mut short) = (Vec::new(), String::new(), 0);
        loop {
            let scoring = rfm::Scoring::Current(&cuts);
            let page = rfm::page(&mut conn, "USD", scoring, wanted, &after, 100, 3)
                .await
                .unwrap();
            found.extend(page.rows.into_iter().map(|row| row.party_id));
            let Some(looked_to) = page.looked_to else {
                break;
            };
            after = looked_to;
            short += 1;
        }
        let expected: Vec<String> = in_cell.iter().map(|s| s.party_id.clone()).collect();
        assert_eq!(found, expected);
        assert_eq!(short, 4, "twelve customers, three a page");
    }

    // Two days on, the Monday ranks the same purchases in SQL and gives the same scores.
    clock.advance(Duration::from_secs(2 * 86_400));
    let monday = list("2026-11-23", "", 0, String::new()).await.unwrap().scores;
    let m = quintiles(monetary);
    assert_eq!(monday.len(), 12);
    for s in &monday {
        assert_eq!(s.monetary, m[&s.party_id], "{s:?}");
        assert_eq!(s.recency_days, 0);
    }
    // A past day's later pages score their customers against the boundaries the first page
    // computed, and give the same list.
    let (paged, pages) = fives("2026-11-23").await;
    assert_eq!(pages, 3);
    assert_eq!(paged, monday, "a past day's pages give its whole list, in order");
    let first = list("2026-11-23", "", 5, String::new()).await.unwrap();
    let in_cell = list("2026-11-23", &monday[7].cell, 0, String::new())
        .await
        .unwrap()
        .scores;
    assert!(!in_cell.is_empty() && in_cell.iter().all(|s| s.cell == monday[7].cell));
    for other_day in ["2026-11-20", ""] {
        let bad = list(other_day, "", 5, first.next_page_token.clone())
            .await
            .unwrap_err();
        assert_eq!(violated(&bad), vec!["page_token"], "{other_day}");
    }
    let sunday = list("2026-11-22", "", 0, String::new()).await.unwrap().scores;
    assert!(sunday.is_empty(), "nothing was bought before the Monday");
    let cells = suite
        .marketing
        .clone()
        .get_rfm_cells(suite.req(pb::GetRfmCellsRequest {
            as_of: "2026-11-22".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .cells;
    assert_eq!(cells.len(), 125);
    assert!(cells.iter().all(|c| c.customers == 0));
}

backend_tests!(
    rfm_scores_page_and_look_back,
    a_profile_follows_new_purchases,
    rfm_scores_and_segments,
    the_test_cell_method_end_to_end
);
