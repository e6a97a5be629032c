//! Targets, e-orders, deal registrations, scorecards and exceptions list in pages: each once, in
//! order, pages capped.

use crm_proto::partners::v1::{self as pb, PartnerType};
use crm_testkit::{Backend, all_pages, backend_tests};

use crate::helpers::{Suite, money, violated};

async fn partner_lists_page(backend: Backend) {
    let suite = Suite::start(backend).await;
    let dealer = suite.partner("Dealer Co", PartnerType::Dealer, "", &["TW"]).await;
    let laptop = suite.product("LAP-14", "laptops").await;
    let party = suite.organization("Dealer Co Ltd").await;
    let dealer = suite.link_party(&dealer, &party.id).await;
    suite.activate(&dealer).await;

    // Last year's monthly targets with no sales against them: every cell is an exception.
    let last_year = (chrono::Utc::now().date_naive() - chrono::Months::new(12))
        .format("%Y")
        .to_string();
    for (month, category) in [("03", "tablets"), ("01", "laptops"), ("02", "phones")] {
        suite
            .set_target(pb::Target {
                partner_id: dealer.id.clone(),
                period: format!("{last_year}-{month}"),
                product_category: category.into(),
                product_id: String::new(),
                amount: money(10_000_00),
                quantity: 0,
            })
            .await;
    }
    let (targets, pages) = all_pages(|page_token| {
        let mut client = suite.partners.clone();
        let req = suite.req(pb::ListTargetsRequest {
            partner_id: dealer.id.clone(),
            page_size: 2,
            page_token,
            ..Default::default()
        });
        async move {
            let r = client.list_targets(req).await.unwrap().into_inner();
            (r.targets, r.next_page_token)
        }
    })
    .await;
    let periods: Vec<String> = targets.into_iter().map(|t| t.period).collect();
    let expected: Vec<String> = ["01", "02", "03"]
        .iter()
        .map(|m| format!("{last_year}-{m}"))
        .collect();
    assert_eq!((periods, pages), (expected, 2));

    let (cells, pages) = all_pages(|page_token| {
        let mut client = suite.partners.clone();
        let req = suite.req(pb::ListExceptionsRequest {
            period: last_year.clone(),
            page_size: 2,
            page_token,
            ..Default::default()
        });
        async move {
            let r = client.list_exceptions(req).await.unwrap().into_inner();
            (r.exceptions, r.next_page_token)
        }
    })
    .await;
    let keys: Vec<String> = cells.iter().map(|c| c.key.clone()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((keys.len(), pages), (3, 2), "three cells under target: {keys:?}");
    assert_eq!(keys, sorted, "none sold: worst first is by key, each once");
    // A page token carries the last cell's attainment and key.
    let token = crm_platform::paging::encode_token(&crm_platform::paging::key_of(&["worst", &keys[0]]));
    let err = suite
        .partners
        .clone()
        .list_exceptions(suite.req(pb::ListExceptionsRequest {
            period: last_year.clone(),
            page_token: token,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["page_token"]);

    for reference in ["EO-1", "EO-2", "EO-3"] {
        suite
            .portal
            .clone()
            .submit_order(suite.req(pb::SubmitOrderRequest {
                order: Some(pb::PartnerOrder {
                    partner_id: dealer.id.clone(),
                    external_ref: reference.into(),
                    lines: vec![pb::PartnerOrderLine {
                        product_id: laptop.id.clone(),
                        quantity: 1,
                    }],
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        suite
            .portal
            .clone()
            .register_deal(suite.req(pb::RegisterDealRequest {
                registration: Some(pb::DealRegistration {
                    partner_id: dealer.id.clone(),
                    company_name: format!("Prospect {reference}"),
                    estimated_amount: money(5_000_00),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        suite
            .scorecards
            .clone()
            .evaluate_scorecard(suite.req(pb::EvaluateScorecardRequest {
                partner_id: dealer.id.clone(),
                period: last_year.clone(),
                currency_code: String::new(),
            }))
            .await
            .unwrap();
    }
    let (orders, pages) = all_pages(|page_token| {
        let mut client = suite.portal.clone();
        let req = suite.req(pb::ListPartnerOrdersRequest {
            partner_id: dealer.id.clone(),
            page_size: 2,
            page_token,
        });
        async move {
            let r = client.list_partner_orders(req).await.unwrap().into_inner();
            (r.orders, r.next_page_token)
        }
    })
    .await;
    let refs: Vec<String> = orders.into_iter().map(|o| o.external_ref).collect();
    assert_eq!(
        (refs, pages),
        (vec!["EO-3".into(), "EO-2".into(), "EO-1".into()], 2),
        "newest first"
    );

    let (registrations, _) = all_pages(|page_token| {
        let mut client = suite.portal.clone();
        let req = suite.req(pb::ListDealRegistrationsRequest {
            partner_id: dealer.id.clone(),
            page_size: 2,
            page_token,
            ..Default::default()
        });
        async move {
            let r = client.list_deal_registrations(req).await.unwrap().into_inner();
            (r.registrations, r.next_page_token)
        }
    })
    .await;
    let names: Vec<String> = registrations.into_iter().map(|d| d.company_name).collect();
    assert_eq!(names, ["Prospect EO-3", "Prospect EO-2", "Prospect EO-1"]);

    let (cards, pages) = all_pages(|page_token| {
        let mut client = suite.scorecards.clone();
        let req = suite.req(pb::ListScorecardsRequest {
            partner_id: dealer.id.clone(),
            page_size: 2,
            page_token,
        });
        async move {
            let r = client.list_scorecards(req).await.unwrap().into_inner();
            (r.scorecards, r.next_page_token)
        }
    })
    .await;
    assert_eq!((cards.len(), pages), (3, 2));
    let mut times: Vec<i64> = cards
        .iter()
        .map(|c| c.evaluate_time.as_ref().unwrap().seconds)
        .collect();
    let newest_first = times.windows(2).all(|w| w[0] >= w[1]);
    times.dedup();
    assert!(newest_first, "newest first");

    let bad = suite
        .partners
        .clone()
        .list_targets(suite.req(pb::ListTargetsRequest {
            page_token: "a|b".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), ["page_token"]);
}

backend_tests!(partner_lists_page);
