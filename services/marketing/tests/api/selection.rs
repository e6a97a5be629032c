//! Selecting a campaign's members a page of the segment at a time, in the background: the call
//! answers with the selection under way, StartTest waits for its end, a page is committed once
//! whoever goes through it, and the selection replaces every member an earlier one left.

use crm_marketing::selecting;
use crm_proto::marketing::v1::{self as pb, CampaignStatus, Channel};
use crm_testkit::{Backend, backend_tests};
use tonic::Code;

use crate::helpers::{Suite, buyers, by_hand, plan};

/// Customers in the segment (everyone); every tenth opted out of e-mail.
const CUSTOMERS: usize = 4_500;
const OPTED_OUT: i64 = 450;

/// `CUSTOMERS` active profiles (`p00000`, ...), the first hundred with purchases, and the
/// opt-outs, written straight into marketing's database: a segment of thousands without
/// thousands of customers.
async fn customers(suite: &Suite) {
    let pool = suite.marketing_db.pool();
    let ids: Vec<usize> = (0..CUSTOMERS).collect();
    for chunk in ids.chunks(500) {
        let rows: Vec<String> = chunk.iter().map(|i| format!("('p{i:05}', 'P{i}')")).collect();
        let consent: Vec<String> = chunk
            .iter()
            .filter(|i| *i % 10 == 9)
            .map(|i| format!("('p{i:05}', {}, 1, 0, 0)", Channel::Email as i64))
            .collect();
        for sql in [
            format!(
                "INSERT INTO profiles (party_id, display_name) VALUES {}",
                rows.join(", ")
            ),
            format!(
                "INSERT INTO consent (party_id, channel, opted_out, do_not_contact, updated_at) VALUES {}",
                consent.join(", ")
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
        }
    }
    sqlx::query(
        "INSERT INTO customer_figures (party_id, currency_code, orders, total_minor, first_at, last_at, last_day) \
         SELECT party_id, 'USD', 1, 100, 0, 0, 0 FROM profiles WHERE party_id < 'p00100'",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// A campaign's members as stored: (party, cell), by party.
async fn members(suite: &Suite, campaign_id: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT party_id, cell FROM campaign_members WHERE campaign_id = $1 ORDER BY party_id")
        .bind(campaign_id)
        .fetch_all(suite.marketing_db.pool())
        .await
        .unwrap()
}

async fn a_large_segment_is_selected_a_page_at_a_time(backend: Backend) {
    let settings = by_hand();
    let suite = Suite::start_with(backend, |s| *s = settings.clone()).await;
    let store = suite.marketing_store();
    customers(&suite).await;
    let segment_id = suite.create_segment(buyers("Everyone", 0)).await.id;
    let campaign = suite
        .create_campaign(plan("Newsletter", Channel::Email, &segment_id, 10))
        .await;
    let select = |id: &str| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::SelectMembersRequest {
            campaign_id: id.into(),
        });
        async move { campaigns.select_members(req).await.map(|r| r.into_inner()) }
    };
    let selection = |id: &str| {
        let mut campaigns = suite.campaigns.clone();
        let req = suite.req(pb::GetCampaignRequest { id: id.into() });
        async move {
            let c = campaigns.get_campaign(req).await.unwrap().into_inner();
            c.campaign.unwrap().selection.expect("a selection")
        }
    };
    // What an earlier selection left: a member still in the segment, in a cell of then, and two
    // no longer in it, before and after every customer of the segment.
    for (party, cell) in [("a-gone", "5-5-5"), ("p00003", "5-5-5"), ("z-gone", "5-5-5")] {
        sqlx::query("INSERT INTO campaign_members (campaign_id, party_id, cell, status) VALUES ($1, $2, $3, 'selected')")
            .bind(&campaign.id)
            .bind(party)
            .bind(cell)
            .execute(suite.marketing_db.pool())
            .await
            .unwrap();
    }

    // The call answers with the selection just begun; the test waits for it.
    let started = select(&campaign.id).await.unwrap();
    let begun = started.selection.unwrap();
    assert_eq!((started.selected, started.suppressed), (0, 0));
    assert!(begun.finish_time.is_none());
    assert_eq!(selection(&campaign.id).await, begun);
    let err = suite.start_test(&campaign.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("still selecting"), "{}", err.message());

    // Two replicas on the first page: one page's members count, whichever committed.
    let (a, b) = tokio::join!(
        selecting::next_page(&store, &settings, &campaign.id),
        selecting::next_page(&store, &settings, &campaign.id)
    );
    assert!(a.unwrap() && b.unwrap(), "the selection is still under way");
    let so_far = selection(&campaign.id).await;
    let gone_through = so_far.selected + so_far.suppressed;
    assert!([2_000, 4_000].contains(&gone_through), "{so_far:?}");
    let stored = members(&suite, &campaign.id).await;
    assert_eq!(
        stored.iter().filter(|(p, _)| p.starts_with('p')).count() as i64,
        so_far.selected
    );

    // The job goes on with it to its end, then finds nothing.
    assert_eq!(selecting::run_pending(&store, &settings).await.unwrap(), 1);
    let ended = selection(&campaign.id).await;
    assert!(ended.finish_time.is_some());
    assert_eq!(
        (ended.selected, ended.suppressed),
        (CUSTOMERS as i64 - OPTED_OUT, OPTED_OUT)
    );
    assert_eq!(selecting::run_pending(&store, &settings).await.unwrap(), 0);
    let stored = members(&suite, &campaign.id).await;
    let expected: Vec<(String, String)> = (0..CUSTOMERS)
        .filter(|i| i % 10 != 9)
        .map(|i| {
            // The hundred buyers, alike but for their ids, score by id in fifths.
            let cell = if i < 100 {
                let score = 1 + i / 20;
                format!("{score}-{score}-{score}")
            } else {
                "0-0-0".into()
            };
            (format!("p{i:05}"), cell)
        })
        .collect();
    assert_eq!(
        stored, expected,
        "the segment less the opted out, each in its cell, nobody else"
    );

    // Selected, the test starts; a campaign under test keeps its members.
    let test = suite
        .campaigns
        .clone()
        .start_test(suite.req(pb::StartTestRequest {
            campaign_id: campaign.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    // 1 in 10 of each cell: 2 of the 18 members of each buyers' cell, 396 of the 3,960 others.
    assert_eq!(test.run.unwrap().to_contact, 5 * 2 + 396);
    let err = select(&campaign.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("no longer a draft"), "{}", err.message());

    // A selection started again while under way replaces the one before: its pages leave
    // every customer selected once.
    let again = suite
        .create_campaign(plan("Again", Channel::Sms, &segment_id, 10))
        .await;
    select(&again.id).await.unwrap();
    assert!(selecting::next_page(&store, &settings, &again.id).await.unwrap());
    let first = selection(&again.id).await;
    assert_eq!(first.selected, 2_000);
    select(&again.id).await.unwrap();
    assert_eq!(selection(&again.id).await.selected, 0);
    // The earlier selection's page is not gone through again: only the new one goes on.
    assert_eq!(selecting::run_pending(&store, &settings).await.unwrap(), 1);
    let ended = selection(&again.id).await;
    assert_eq!((ended.selected, ended.suppressed), (CUSTOMERS as i64, 0));
    assert_eq!(members(&suite, &again.id).await.len(), CUSTOMERS);
    let shown = suite
        .campaigns
        .clone()
        .get_campaign(suite.req(pb::GetCampaignRequest { id: again.id }))
        .await
        .unwrap()
        .into_inner()
        .campaign
        .unwrap();
    assert_eq!(shown.status, CampaignStatus::Draft as i32);
}

/// The members of a rule few customers meet: a page looks at so many customers at most and
/// ends short, with a token where it stopped; the pages together give every member once.
async fn a_rule_few_meet_is_paged_a_stretch_of_the_base_at_a_time(backend: Backend) {
    use crm_marketing::storage::audience::{self, Audience, Context};
    let suite = Suite::start(backend).await;
    customers(&suite).await;
    let segment = suite.create_segment(buyers("Buyers", 1)).await;
    let expected: Vec<String> = (0..100).map(|i| format!("p{i:05}")).collect();

    // Looking at 1,000 customers a page: the buyers are the first hundred of 4,500.
    let store = suite.marketing_store();
    let cuts = crm_marketing::scores::cuts(&store, &tokio::sync::Mutex::new(()), "USD")
        .await
        .unwrap();
    let cx = Context {
        backend,
        currency: "USD",
        cuts: &cuts,
        today: 20_000,
    };
    let mut conn = suite.marketing_db.pool().acquire().await.unwrap();
    let (mut found, mut after, mut short) = (Vec::new(), String::new(), 0);
    loop {
        let page = audience::page_looking_at(&mut conn, Audience::of(&segment), &cx, &after, 1_000, 1_000)
            .await
            .unwrap();
        found.extend(page.party_ids);
        let Some(walked_to) = page.walked_to else {
            break;
        };
        after = walked_to;
        short += 1;
    }
    assert_eq!(found, expected);
    assert_eq!(short, 4, "4,500 customers, 1,000 a page: four pages end short");

    // Through the API, pages of 30 from a base smaller than a page looks at.
    let (mut listed, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let page = suite
            .marketing
            .clone()
            .list_segment_members(suite.req(pb::ListSegmentMembersRequest {
                segment_id: segment.id.clone(),
                page_size: 30,
                page_token: token.clone(),
            }))
            .await
            .unwrap()
            .into_inner();
        listed.extend(page.party_ids);
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!((listed, pages), (expected, 4));
}

backend_tests!(
    a_large_segment_is_selected_a_page_at_a_time,
    a_rule_few_meet_is_paged_a_stretch_of_the_base_at_a_time
);
