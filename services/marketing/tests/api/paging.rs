//! Segments, campaigns and a customer's campaigns list in pages: each once, in order, pages
//! capped.

use crm_proto::marketing::v1::{self as pb, Channel};
use crm_testkit::{Backend, all_pages, backend_tests};
use tonic::Code;

use crate::helpers::{Suite, buyers, plan, violated};

async fn segments_and_campaigns_page(backend: Backend) {
    let suite = Suite::start(backend).await;
    let mut segment_id = String::new();
    for name in ["Lapsed", "Big spenders", "New"] {
        segment_id = suite.create_segment(buyers(name, 1)).await.id;
    }
    let (segments, pages) = all_pages(|page_token| {
        let mut client = suite.marketing.clone();
        let req = suite.req(pb::ListSegmentsRequest {
            page_size: 2,
            page_token,
        });
        async move {
            let r = client.list_segments(req).await.unwrap().into_inner();
            (r.segments, r.next_page_token)
        }
    })
    .await;
    let names: Vec<String> = segments.into_iter().map(|s| s.name).collect();
    assert_eq!(
        (names, pages),
        (vec!["Big spenders".into(), "Lapsed".into(), "New".into()], 2)
    );

    let mut created = Vec::new();
    for name in ["First", "Second", "Third"] {
        let c = suite
            .create_campaign(plan(name, Channel::Email, &segment_id, 2))
            .await;
        created.push(c.name);
    }
    let (campaigns, pages) = all_pages(|page_token| {
        let mut client = suite.campaigns.clone();
        let req = suite.req(pb::ListCampaignsRequest {
            page_size: 2,
            page_token,
            ..Default::default()
        });
        async move {
            let r = client.list_campaigns(req).await.unwrap().into_inner();
            (r.campaigns, r.next_page_token)
        }
    })
    .await;
    created.reverse();
    let names: Vec<String> = campaigns.into_iter().map(|c| c.name).collect();
    assert_eq!((names, pages), (created, 2), "newest first");

    let bad = suite
        .campaigns
        .clone()
        .list_campaigns(suite.req(pb::ListCampaignsRequest {
            page_token: "x".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), ["page_token"]);
}

/// A customer in 25 campaigns: the profile holds the latest 20 and counts them all; the list
/// pages through all, most recent first.
async fn a_customers_campaigns_page_most_recent_first(backend: Backend) {
    let suite = Suite::start(backend).await;
    let ann = suite.person("Ann", "Taipei", "1").await;
    suite.profiles(1).await;
    let segment_id = suite
        .create_segment(pb::Segment {
            name: "Ann".into(),
            party_ids: vec![ann.id.clone()],
            ..Default::default()
        })
        .await
        .id;
    let mut created = Vec::new();
    for i in 0..25 {
        let c = suite
            .create_campaign(plan(&format!("Mailing {i}"), Channel::Mail, &segment_id, 1))
            .await;
        suite
            .campaigns
            .clone()
            .select_members(suite.req(pb::SelectMembersRequest {
                campaign_id: c.id.clone(),
            }))
            .await
            .unwrap();
        created.push(c.id);
    }
    created.reverse();

    let profile = suite
        .marketing
        .clone()
        .get_profile(suite.req(pb::GetProfileRequest {
            party_id: ann.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(profile.campaign_count, 25);
    let latest: Vec<String> = profile.campaigns.into_iter().map(|c| c.campaign_id).collect();
    assert_eq!(latest, created[..20]);

    let (listed, pages) = all_pages(|page_token| {
        let mut client = suite.marketing.clone();
        let req = suite.req(pb::ListProfileCampaignsRequest {
            party_id: ann.id.clone(),
            page_size: 10,
            page_token,
        });
        async move {
            let r = client.list_profile_campaigns(req).await.unwrap().into_inner();
            (r.campaigns, r.next_page_token)
        }
    })
    .await;
    assert!(
        listed
            .iter()
            .all(|c| c.status == "selected" && c.campaign_name.starts_with("Mailing "))
    );
    let ids: Vec<String> = listed.into_iter().map(|c| c.campaign_id).collect();
    assert_eq!((ids, pages), (created, 3));

    let list = |party_id: &str, page_token: &str| {
        let mut client = suite.marketing.clone();
        let req = suite.req(pb::ListProfileCampaignsRequest {
            party_id: party_id.into(),
            page_token: page_token.into(),
            ..Default::default()
        });
        async move { client.list_profile_campaigns(req).await.unwrap_err() }
    };
    assert_eq!(violated(&list("", "x").await), ["party_id", "page_token"]);
    assert_eq!(list("nobody", "").await.code(), Code::NotFound);
}

backend_tests!(
    segments_and_campaigns_page,
    a_customers_campaigns_page_most_recent_first
);
