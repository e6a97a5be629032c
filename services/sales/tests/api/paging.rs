//! The configuration and per-opportunity lists page: each item once, in order, pages capped; a
//! customer's quotes hold only those of deals the caller may read.

use crm_auth::Role;
use crm_proto::sales::v1::{self as pb, QuotaOwnerKind};
use crm_testkit::{Backend, all_pages, authed, backend_tests};
use tonic::Code;

use crate::helpers::{Suite, money};

async fn sales_lists_page_in_order(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let mut products = Vec::new();
    for sku in ["P-3", "P-1", "P-2"] {
        products.push(suite.product(sku, "hardware").await);
    }
    for name in ["List | C", "List A", "List B"] {
        suite.price_book(name, "USD").await;
    }
    let book = suite.price_book("List D", "USD").await;
    for (i, p) in products.iter().enumerate() {
        suite.set_price(&book, p, 100 * (i as i64 + 1)).await;
    }

    let (books, pages) = all_pages(|token| {
        let mut c = suite.catalog.clone();
        let req = suite.req(pb::ListPriceBooksRequest {
            page_size: 2,
            page_token: token,
        });
        async move {
            let r = c.list_price_books(req).await.unwrap().into_inner();
            (r.price_books, r.next_page_token)
        }
    })
    .await;
    let names: Vec<String> = books.into_iter().map(|b| b.name).collect();
    assert_eq!(
        names,
        ["List A", "List B", "List D", "List | C"],
        "by name, a | in a name kept"
    );
    assert_eq!(pages, 2);

    let (prices, _) = all_pages(|token| {
        let mut c = suite.catalog.clone();
        let req = suite.req(pb::ListPricesRequest {
            price_book_id: book.id.clone(),
            page_size: 2,
            page_token: token,
            ..Default::default()
        });
        async move {
            let r = c.list_prices(req).await.unwrap().into_inner();
            (r.prices, r.next_page_token)
        }
    })
    .await;
    let mut ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    assert_eq!(prices.into_iter().map(|p| p.product_id).collect::<Vec<_>>(), ids);

    for name in ["West", "East", "North"] {
        suite
            .org
            .clone()
            .create_territory(suite.req(pb::CreateTerritoryRequest {
                territory: Some(pb::Territory {
                    name: name.into(),
                    priority: 10,
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
    }
    let (territories, pages) = all_pages(|token| {
        let mut c = suite.org.clone();
        let req = suite.req(pb::ListTerritoriesRequest {
            page_size: 1,
            page_token: token,
        });
        async move {
            let r = c.list_territories(req).await.unwrap().into_inner();
            (r.territories, r.next_page_token)
        }
    })
    .await;
    let names: Vec<String> = territories.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["East", "North", "West"]);
    assert_eq!(pages, 3);

    let mut departments = Vec::new();
    for name in ["Enterprise", "Mid-market"] {
        let d = suite
            .org
            .clone()
            .create_department(suite.req(pb::CreateDepartmentRequest {
                department: Some(pb::Department {
                    name: name.into(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap()
            .into_inner()
            .department
            .unwrap();
        departments.push(d.id);
    }
    departments.sort();
    let (first, second) = (departments[0].clone(), departments[1].clone());
    for (owner, line) in [(&second, ""), (&first, "services"), (&first, "")] {
        suite
            .org
            .clone()
            .set_quota(suite.req(pb::SetQuotaRequest {
                quota: Some(pb::Quota {
                    owner_kind: QuotaOwnerKind::Department as i32,
                    owner_id: owner.clone(),
                    period: "2026".into(),
                    product_line: line.into(),
                    amount: money(1_000_00, "USD"),
                }),
            }))
            .await
            .unwrap();
    }
    let (quotas, _) = all_pages(|token| {
        let mut c = suite.org.clone();
        let req = suite.req(pb::ListQuotasRequest {
            page_size: 2,
            page_token: token,
            ..Default::default()
        });
        async move {
            let r = c.list_quotas(req).await.unwrap().into_inner();
            (r.quotas, r.next_page_token)
        }
    })
    .await;
    let keys: Vec<(String, String)> = quotas.into_iter().map(|q| (q.owner_id, q.product_line)).collect();
    assert_eq!(
        keys,
        [
            (first.clone(), String::new()),
            (first, "services".into()),
            (second, String::new())
        ]
    );

    let o = suite.opportunity(&acme, 5_000_00).await;
    for _ in 0..3 {
        suite
            .orders
            .clone()
            .create_quote(suite.req(pb::CreateQuoteRequest {
                quote: Some(pb::Quote {
                    opportunity_id: o.id.clone(),
                    price_book_id: book.id.clone(),
                    lines: vec![pb::LineItem {
                        product_id: products[0].id.clone(),
                        quantity: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
    }
    let (quotes, pages) = all_pages(|token| {
        let mut c = suite.orders.clone();
        let req = suite.req(pb::ListQuotesRequest {
            opportunity_id: o.id.clone(),
            page_size: 2,
            page_token: token,
            ..Default::default()
        });
        async move {
            let r = c.list_quotes(req).await.unwrap().into_inner();
            (r.quotes, r.next_page_token)
        }
    })
    .await;
    assert_eq!(pages, 2);
    let numbers: Vec<&str> = quotes.iter().map(|q| q.number.as_str()).collect();
    assert_eq!(
        numbers,
        ["Q-000001", "Q-000002", "Q-000003"],
        "quotes created within a minute get numbers of their own, listed once each"
    );
    // The customer's open quotes, paged the same way.
    let (of_customer, pages) = all_pages(|token| {
        let mut c = suite.orders.clone();
        let req = suite.req(pb::ListQuotesRequest {
            party_id: acme.id.clone(),
            open_only: true,
            page_size: 2,
            page_token: token,
            ..Default::default()
        });
        async move {
            let r = c.list_quotes(req).await.unwrap().into_inner();
            (r.quotes, r.next_page_token)
        }
    })
    .await;
    assert_eq!(pages, 2);
    assert_eq!(
        of_customer.iter().map(|q| q.number.as_str()).collect::<Vec<_>>(),
        numbers
    );
    // A rep's own deal with the customer: the rep lists its quote alone, the administrator all.
    let alice = crate::helpers_token("alice", Role::SalesRep, "north");
    let mine = suite.opportunity_as(&alice, &acme, 1_000_00).await;
    let hers = suite
        .orders
        .clone()
        .create_quote(authed(
            pb::CreateQuoteRequest {
                quote: Some(pb::Quote {
                    opportunity_id: mine.id.clone(),
                    price_book_id: book.id.clone(),
                    lines: vec![pb::LineItem {
                        product_id: products[0].id.clone(),
                        quantity: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    let of_acme = |token: String| {
        let mut c = suite.orders.clone();
        let req = authed(
            pb::ListQuotesRequest {
                party_id: acme.id.clone(),
                page_size: 10,
                ..Default::default()
            },
            &token,
        );
        async move {
            let listed = c.list_quotes(req).await.unwrap().into_inner().quotes;
            listed.into_iter().map(|q| q.number).collect::<Vec<_>>()
        }
    };
    assert_eq!(of_acme(alice).await, [hers.number.as_str()]);
    assert_eq!(
        of_acme(suite.admin.clone()).await,
        ["Q-000001", "Q-000002", "Q-000003", hers.number.as_str()]
    );

    let bad = suite
        .catalog
        .clone()
        .list_price_books(suite.req(pb::ListPriceBooksRequest {
            page_size: -1,
            page_token: "not a token".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(crate::helpers::violated(&bad), ["page_size", "page_token"]);
}

backend_tests!(sales_lists_page_in_order);
