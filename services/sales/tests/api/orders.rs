use std::time::Duration;

use crm_auth::Role;
use crm_proto::customers::v1 as cpb;
use crm_proto::sales::v1::{self as pb, OpportunityStatus, OrderStatus, QuoteStatus};
use crm_testkit::{Backend, authed, backend_tests, eventually};
use tonic::Code;

use crate::helpers::{Suite, money, violated};

fn line(product: &pb::Product, quantity: i64, discount_bps: i32) -> pb::LineItem {
    pb::LineItem {
        product_id: product.id.clone(),
        quantity,
        discount_bps,
        ..Default::default()
    }
}

async fn quotes_are_priced_revised_and_accepted_into_orders(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let laptop = suite.product("LAP-14", "hardware").await;
    let support = suite.product("SUP-1Y", "services").await;
    let usd = suite.price_book("List USD", "USD").await;
    suite.set_price(&usd, &laptop, 1_000_00).await;
    suite.set_price(&usd, &support, 333).await;
    let o = suite.opportunity(&acme, 5_000_00).await;

    let quote = suite
        .orders
        .clone()
        .create_quote(suite.req(pb::CreateQuoteRequest {
            quote: Some(pb::Quote {
                opportunity_id: o.id.clone(),
                price_book_id: usd.id.clone(),
                lines: vec![line(&laptop, 3, 1000), line(&support, 3, 1500)],
                discount_bps: 500,
                valid_until: "2099-12-31".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    // 3 x 1000.00 less 10% = 2700.00; 3 x 3.33 = 9.99 less 15% (1.50) = 8.49; subtotal 2708.49;
    // 5% off = 135.42 (135.4245 rounded); total 2573.07.
    assert_eq!(quote.lines[0].net.as_ref().unwrap().amount_minor, 2_700_00);
    assert_eq!(quote.lines[1].net.as_ref().unwrap().amount_minor, 849);
    assert_eq!(quote.subtotal.as_ref().unwrap().amount_minor, 2_708_49);
    assert_eq!(quote.discount.as_ref().unwrap().amount_minor, 135_42);
    assert_eq!(quote.total.as_ref().unwrap().amount_minor, 2_573_07);
    assert_eq!((quote.revision, quote.status), (1, QuoteStatus::Draft as i32));

    let bad = suite
        .orders
        .clone()
        .create_quote(suite.req(pb::CreateQuoteRequest {
            quote: Some(pb::Quote {
                opportunity_id: o.id.clone(),
                price_book_id: usd.id.clone(),
                lines: vec![line(&laptop, 0, 20_000)],
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec!["quote.lines[0].quantity", "quote.lines[0].discount_bps"]
    );

    let revised = suite
        .orders
        .clone()
        .revise_quote(suite.req(pb::ReviseQuoteRequest {
            id: quote.id.clone(),
            etag: quote.etag.clone(),
            lines: vec![line(&laptop, 4, 0)],
            discount_bps: 0,
            valid_until: "2099-12-31".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    assert_eq!(
        (revised.number.as_str(), revised.revision),
        (quote.number.as_str(), 2)
    );
    assert_eq!(revised.total.as_ref().unwrap().amount_minor, 4_000_00);
    let superseded = suite
        .orders
        .clone()
        .get_quote(suite.req(pb::GetQuoteRequest { id: quote.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    assert_eq!(superseded.status, QuoteStatus::Superseded as i32);
    let err = suite
        .orders
        .clone()
        .accept_quote(suite.req(pb::AcceptQuoteRequest {
            id: quote.id.clone(),
            etag: superseded.etag.clone(),
            channel: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "a superseded revision cannot be accepted"
    );

    let presented = suite
        .orders
        .clone()
        .set_quote_status(suite.req(pb::SetQuoteStatusRequest {
            id: revised.id.clone(),
            etag: revised.etag.clone(),
            status: QuoteStatus::Presented as i32,
        }))
        .await
        .unwrap()
        .into_inner()
        .quote
        .unwrap();
    let accepted = suite
        .orders
        .clone()
        .accept_quote(suite.req(pb::AcceptQuoteRequest {
            id: revised.id.clone(),
            etag: presented.etag.clone(),
            channel: Some(pb::Channel {
                partner_id: "partner-7".into(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    let order = accepted.order.unwrap();
    assert_eq!(accepted.quote.unwrap().order_id, order.id);
    assert_eq!(order.total.as_ref().unwrap().amount_minor, 4_000_00);
    assert_eq!(order.channel.as_ref().unwrap().partner_id, "partner-7");
    assert_eq!(order.status, OrderStatus::Placed as i32);
    let won = suite
        .pipeline
        .clone()
        .get_opportunity(suite.req(pb::GetOpportunityRequest { id: o.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (won.status, won.stage_code.as_str()),
        (OpportunityStatus::Won as i32, "closed_won")
    );

    let no_reason = suite
        .orders
        .clone()
        .update_order_status(suite.req(pb::UpdateOrderStatusRequest {
            id: order.id.clone(),
            etag: order.etag.clone(),
            status: OrderStatus::Cancelled as i32,
            reason: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&no_reason), vec!["reason"]);
    let fulfilled = suite
        .orders
        .clone()
        .update_order_status(suite.req(pb::UpdateOrderStatusRequest {
            id: order.id.clone(),
            etag: order.etag.clone(),
            status: OrderStatus::Fulfilled as i32,
            reason: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let err = suite
        .orders
        .clone()
        .update_order_status(suite.req(pb::UpdateOrderStatusRequest {
            id: order.id.clone(),
            etag: fulfilled.etag.clone(),
            status: OrderStatus::Cancelled as i32,
            reason: "late".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "a fulfilled order is returned, not cancelled"
    );
    suite
        .orders
        .clone()
        .update_order_status(suite.req(pb::UpdateOrderStatusRequest {
            id: order.id.clone(),
            etag: fulfilled.etag.clone(),
            status: OrderStatus::Returned as i32,
            reason: "damaged".into(),
        }))
        .await
        .unwrap();
    let types = suite.sales_event_types().await;
    let orders_and_quotes: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !t.starts_with("product"))
        .collect();
    assert_eq!(
        orders_and_quotes,
        vec![
            "opportunity.created",
            "quote.changed",
            "quote.changed",
            "quote.changed",
            "opportunity.won",
            "quote.changed",
            "order.placed",
            "order.fulfilled",
            "order.returned"
        ]
    );
}

async fn direct_orders_are_idempotent_per_external_reference(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let laptop = suite.product("LAP-14", "hardware").await;
    let usd = suite.price_book("List USD", "USD").await;
    suite.set_price(&usd, &laptop, 1_000_00).await;
    let place = |reference: &str, partner: &str| pb::PlaceOrderRequest {
        order: Some(pb::Order {
            party_id: acme.id.clone(),
            channel: Some(pb::Channel {
                partner_id: partner.into(),
            }),
            lines: vec![pb::LineItem {
                product_id: laptop.id.clone(),
                quantity: 2,
                unit_price: money(900_00, "USD"),
                ..Default::default()
            }],
            external_ref: reference.into(),
            ..Default::default()
        }),
        price_book_id: usd.id.clone(),
    };
    let first = suite
        .orders
        .clone()
        .place_order(suite.req(place("PO-1", "partner-7")))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    assert_eq!(
        first.order.as_ref().unwrap().total.as_ref().unwrap().amount_minor,
        1_800_00,
        "the partner's agreed price"
    );
    let retry = suite
        .orders
        .clone()
        .place_order(suite.req(place("PO-1", "partner-7")))
        .await
        .unwrap()
        .into_inner();
    assert!(!retry.created);
    assert_eq!(retry.order.unwrap().id, first.order.unwrap().id);
    let other_partner = suite
        .orders
        .clone()
        .place_order(suite.req(place("PO-1", "partner-8")))
        .await
        .unwrap()
        .into_inner();
    assert!(other_partner.created, "references are per channel");
    let listed = suite
        .orders
        .clone()
        .list_orders(suite.req(pb::ListOrdersRequest {
            partner_id: "partner-7".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders.len(), 1);
    let err = suite
        .orders
        .clone()
        .place_order(suite.req(pb::PlaceOrderRequest {
            order: Some(pb::Order::default()),
            price_book_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["order.party_id", "price_book_id"]);
    let types = suite.sales_event_types().await;
    assert_eq!(types.iter().filter(|t| *t == "order.placed").count(), 2);
}

/// A customer's orders at a glance: the newest first, the totals of those that count per
/// currency, the latest owner and the partners sold through, of the orders the caller may read.
async fn a_customers_orders_are_summarized_as_the_caller_may_read_them(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let laptop = suite.product("LAP-14", "hardware").await;
    let usd = suite.price_book("List USD", "USD").await;
    let eur = suite.price_book("List EUR", "EUR").await;
    suite.set_price(&usd, &laptop, 1_000_00).await;
    suite.set_price(&eur, &laptop, 900_00).await;
    let alice = crate::helpers_token("alice", Role::SalesRep, "north");
    let bob = crate::helpers_token("bob", Role::SalesRep, "south");
    let manager = crate::helpers_token("carol", Role::SalesManager, "north");
    // (reference, partner, book, quantity, placed by)
    let placed = [
        ("PO-1", "partner-7", &usd, 1, &alice),
        ("PO-2", "partner-8", &usd, 2, &bob),
        ("PO-3", "", &eur, 1, &alice),
        ("PO-4", "partner-7", &usd, 5, &bob),
    ];
    let mut ids = Vec::new();
    for (reference, partner, book, quantity, token) in placed {
        let order = suite
            .orders
            .clone()
            .place_order(authed(
                pb::PlaceOrderRequest {
                    order: Some(pb::Order {
                        party_id: acme.id.clone(),
                        channel: Some(pb::Channel {
                            partner_id: partner.into(),
                        }),
                        lines: vec![line(&laptop, quantity, 0)],
                        external_ref: reference.into(),
                        ..Default::default()
                    }),
                    price_book_id: book.id.clone(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        ids.push(order);
    }
    // Bob's last order is cancelled: it is listed, but adds nothing.
    suite
        .orders
        .clone()
        .update_order_status(suite.req(pb::UpdateOrderStatusRequest {
            id: ids[3].id.clone(),
            etag: ids[3].etag.clone(),
            status: OrderStatus::Cancelled as i32,
            reason: "duplicate".into(),
        }))
        .await
        .unwrap();
    let summarize = |token: &str, recent: i32| {
        let mut orders = suite.orders.clone();
        let request = authed(
            pb::SummarizeCustomerOrdersRequest {
                party_id: acme.id.clone(),
                recent,
            },
            token,
        );
        async move { orders.summarize_customer_orders(request).await }
    };
    let admin = crm_testkit::token("admin", &[Role::Admin]);
    let all = summarize(&admin, 0).await.unwrap().into_inner();
    let refs = |s: &pb::SummarizeCustomerOrdersResponse| -> Vec<String> {
        s.recent_orders.iter().map(|o| o.external_ref.clone()).collect()
    };
    assert_eq!(refs(&all), ["PO-4", "PO-3", "PO-2", "PO-1"], "newest first");
    let value: Vec<(&str, i64)> = all
        .lifetime_value
        .iter()
        .map(|m| (m.currency_code.as_str(), m.amount_minor))
        .collect();
    assert_eq!(value, [("EUR", 900_00), ("USD", 3_000_00)]);
    assert_eq!(all.order_count, 3);
    assert_eq!(all.latest_owner_id, "alice", "the cancelled order does not count");
    assert_eq!(all.partner_ids, ["partner-7", "partner-8"]);
    assert_eq!(
        refs(&summarize(&admin, 2).await.unwrap().into_inner()),
        ["PO-4", "PO-3"]
    );

    // A rep sees their own orders; a manager their team's (and their own).
    let mine = summarize(&alice, 0).await.unwrap().into_inner();
    assert_eq!(refs(&mine), ["PO-3", "PO-1"]);
    assert_eq!(mine.order_count, 2);
    assert_eq!(mine.partner_ids, ["partner-7"]);
    let team = summarize(&manager, 0).await.unwrap().into_inner();
    assert_eq!(
        refs(&team),
        ["PO-3", "PO-1"],
        "alice is in carol's team, bob is not"
    );
    let nobody = summarize(&crm_testkit::token("someone", &[Role::Customer]), 0).await;
    assert!(
        nobody.is_err() || nobody.unwrap().into_inner().recent_orders.is_empty(),
        "a customer's token reads no one's orders"
    );
    let err = summarize(&admin, 101).await.unwrap_err();
    assert_eq!(violated(&err), vec!["recent"]);

    // Lists apply the same scope in the statement: a page of one holds one of alice's orders,
    // never an empty page where bob's were skipped; the same for her manager's.
    let pages_of = |token: String, status: OrderStatus| {
        let (orders, party) = (suite.orders.clone(), acme.id.clone());
        async move {
            let mut pages = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = orders
                    .clone()
                    .list_orders(authed(
                        pb::ListOrdersRequest {
                            party_id: party.clone(),
                            status: status as i32,
                            page_size: 1,
                            page_token,
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                pages.push(
                    page.orders
                        .iter()
                        .map(|o| o.external_ref.clone())
                        .collect::<Vec<_>>(),
                );
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            // Only the page after the last full one may be empty.
            if pages.last().is_some_and(Vec::is_empty) {
                pages.pop();
            }
            pages
        }
    };
    let any = OrderStatus::Unspecified;
    assert_eq!(pages_of(alice.clone(), any).await, [vec!["PO-1"], vec!["PO-3"]]);
    assert_eq!(pages_of(manager.clone(), any).await, [vec!["PO-1"], vec!["PO-3"]]);
    // And of one status, a page at a time in order.
    assert_eq!(
        pages_of(admin.clone(), OrderStatus::Placed).await,
        [vec!["PO-1"], vec!["PO-2"], vec!["PO-3"]]
    );
    assert_eq!(
        pages_of(admin.clone(), OrderStatus::Cancelled).await,
        [vec!["PO-4"]]
    );
    assert_eq!(pages_of(bob.clone(), OrderStatus::Placed).await, [vec!["PO-2"]]);
}

/// A merge in customers re-keys the sales records; an erasure anonymises the sales copy.
async fn customer_merges_and_erasures_reach_sales(backend: Backend) {
    let suite = Suite::start(backend).await;
    let old = suite.organization("Acme Old").await;
    let survivor = suite.organization("Acme").await;
    let o = suite.opportunity(&old, 1_000).await;
    let lead = pb::Lead {
        source: pb::LeadSource::Manual as i32,
        party_id: survivor.id.clone(),
        contact_name: "Wile E.".into(),
        email: "wile@acme.example".into(),
        ..Default::default()
    };
    suite
        .pipeline
        .clone()
        .create_lead(suite.req(pb::CreateLeadRequest { lead: Some(lead) }))
        .await
        .unwrap();
    suite
        .customers
        .clone()
        .merge_parties(suite.req(cpb::MergePartiesRequest {
            survivor_id: survivor.id.clone(),
            merged_ids: vec![old.id.clone()],
        }))
        .await
        .unwrap();
    let db = suite.sales_db.clone();
    let id = o.id.clone();
    let expected = survivor.id.clone();
    eventually(Duration::from_secs(20), "opportunity re-keyed", || {
        let (db, id, expected) = (db.clone(), id.clone(), expected.clone());
        async move {
            let party: String = sqlx::query_scalar("SELECT party_id FROM opportunities WHERE id = $1")
                .bind(&id)
                .fetch_one(db.pool())
                .await
                .ok()?;
            (party == expected).then_some(())
        }
    })
    .await;
    suite
        .customers
        .clone()
        .erase_party(suite.req(cpb::ErasePartyRequest {
            id: survivor.id.clone(),
            reason: "request".into(),
        }))
        .await
        .unwrap();
    let db = suite.sales_db.clone();
    eventually(Duration::from_secs(20), "lead anonymised", || {
        let db = db.clone();
        async move {
            let email: String = sqlx::query_scalar("SELECT email FROM leads")
                .fetch_one(db.pool())
                .await
                .ok()?;
            email.is_empty().then_some(())
        }
    })
    .await;
    let err = suite
        .pipeline
        .clone()
        .create_opportunity(suite.req(pb::CreateOpportunityRequest {
            opportunity: Some(pb::Opportunity {
                name: "x".into(),
                party_id: survivor.id.clone(),
                amount: money(1, "USD"),
                expected_close_date: "2030-01-01".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "no new business with an erased party"
    );
}

/// Products carry a unit cost; an order knows what its goods cost (the lines with a cost in the
/// order's currency), for the gross margin customers rank by.
async fn orders_know_the_cost_of_their_goods(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    let costed = pb::Product {
        unit_cost: money(600_00, "USD"),
        product_line: "hardware".into(),
        ..crm_testkit::fixtures::product("LAP-14")
    };
    let laptop = crm_testkit::fixtures::create_product(suite.catalog.clone(), &suite.admin, costed).await;
    assert_eq!(laptop.unit_cost.as_ref().unwrap().amount_minor, 600_00);
    let bad = pb::Product {
        unit_cost: money(-1, "USD"),
        ..crm_testkit::fixtures::product("BAD-1")
    };
    let err = suite
        .catalog
        .clone()
        .create_product(suite.req(pb::CreateProductRequest { product: Some(bad) }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["product.unit_cost.amount_minor"]);
    let cable = suite.product("CAB-1", "hardware").await;
    let usd = suite.price_book("List USD", "USD").await;
    suite.set_price(&usd, &laptop, 1_000_00).await;
    suite.set_price(&usd, &cable, 10_00).await;
    let eur = suite.price_book("List EUR", "EUR").await;
    suite.set_price(&eur, &laptop, 900_00).await;
    let place = |book: &pb::PriceBook| pb::PlaceOrderRequest {
        order: Some(pb::Order {
            party_id: acme.id.clone(),
            lines: vec![pb::LineItem {
                product_id: laptop.id.clone(),
                quantity: 3,
                ..Default::default()
            }],
            ..Default::default()
        }),
        price_book_id: book.id.clone(),
    };
    let order = suite
        .orders
        .clone()
        .place_order(suite.req(place(&usd)))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(order.cost.as_ref().unwrap().amount_minor, 1_800_00);
    assert_eq!(order.lines[0].unit_cost.as_ref().unwrap().amount_minor, 600_00);
    // Read back, the same.
    let read = suite
        .orders
        .clone()
        .get_order(suite.req(pb::GetOrderRequest { id: order.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(read.cost, order.cost);
    assert_eq!(read.lines[0].unit_cost, order.lines[0].unit_cost);
    // Priced in euros, the dollar cost is not the line's: no cost known.
    let in_euros = suite
        .orders
        .clone()
        .place_order(suite.req(place(&eur)))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(in_euros.cost.as_ref().unwrap().amount_minor, 0);
    assert!(in_euros.lines[0].unit_cost.is_none());
    // A cost changed later (a mask path like any other field) prices later orders.
    let updated = suite
        .catalog
        .clone()
        .update_product(suite.req(pb::UpdateProductRequest {
            product: Some(pb::Product {
                id: laptop.id.clone(),
                etag: laptop.etag.clone(),
                unit_cost: money(650_00, "USD"),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["unit_cost".into()],
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(updated.unit_cost.unwrap().amount_minor, 650_00);
}

backend_tests!(
    orders_know_the_cost_of_their_goods,
    quotes_are_priced_revised_and_accepted_into_orders,
    direct_orders_are_idempotent_per_external_reference,
    a_customers_orders_are_summarized_as_the_caller_may_read_them,
    customer_merges_and_erasures_reach_sales,
);
