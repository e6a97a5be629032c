use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm_auth::Role;
use crm_proto::partners::v1::{self as pb, PartnerOrderStatus, PartnerType, RegistrationStatus};
use crm_proto::sales::v1 as spb;
use crm_proto::servicedesk::v1 as sdpb;
use crm_testkit::{Backend, authed, backend_tests, eventually, token};
use futures::StreamExt as _;
use tonic::Code;

use crate::helpers::{Suite, money, partner_user, violated};

/// The partner's first e-order for which `matches` holds, once there is one (what sales made of
/// an e-order comes back by event).
async fn order_where(
    suite: &Suite,
    partner_id: &str,
    user: &str,
    what: &str,
    matches: impl Fn(&pb::PartnerOrder) -> bool + Copy,
) -> pb::PartnerOrder {
    eventually(Duration::from_secs(20), what, || {
        let mut portal = suite.portal.clone();
        let req = authed(
            pb::ListPartnerOrdersRequest {
                partner_id: partner_id.into(),
                ..Default::default()
            },
            user,
        );
        async move {
            let orders = portal.list_partner_orders(req).await.ok()?.into_inner().orders;
            orders.into_iter().find(|o| matches(o))
        }
    })
    .await
}

async fn e_orders_and_deal_registrations_reach_sales_once(backend: Backend) {
    let suite = Suite::start(backend).await;
    let dealer_party = suite.organization("Dealer Co").await;
    let dealer = suite.partner("Dealer Co", PartnerType::Dealer, "", &["TW"]).await;
    let dealer = suite.link_party(&dealer, &dealer_party.id).await;
    let other = suite
        .partner("Other Dealer", PartnerType::Dealer, "", &["TW"])
        .await;
    let laptop = suite.product("LAP-14", "laptops").await;
    let book = suite
        .catalog
        .clone()
        .create_price_book(suite.req(spb::CreatePriceBookRequest {
            price_book: Some(spb::PriceBook {
                name: "USD".into(),
                currency_code: "USD".into(),
                is_default: true,
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner()
        .price_book
        .unwrap();
    suite
        .catalog
        .clone()
        .set_price(suite.req(spb::SetPriceRequest {
            price: Some(spb::Price {
                price_book_id: book.id.clone(),
                product_id: laptop.id.clone(),
                unit_price: money(900_00),
            }),
        }))
        .await
        .unwrap();
    let user = partner_user("dealer-user", &dealer.id);
    let stranger = partner_user("other-user", &other.id);

    // Catalog with roadmap and availability.
    suite
        .portal
        .clone()
        .set_availability(suite.req(pb::SetAvailabilityRequest {
            availability: Some(pb::Availability {
                product_id: laptop.id.clone(),
                in_stock: 40,
                lead_time_days: 14,
                weekly_capacity: 100,
                update_time: None,
            }),
        }))
        .await
        .unwrap();
    suite
        .portal
        .clone()
        .upsert_roadmap_entry(suite.req(pb::UpsertRoadmapEntryRequest {
            entry: Some(pb::RoadmapEntry {
                product_id: laptop.id.clone(),
                title: "LAP-14 gen 2".into(),
                available_from: "2027-03-01".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    suite
        .portal
        .clone()
        .upsert_roadmap_entry(suite.req(pb::UpsertRoadmapEntryRequest {
            entry: Some(pb::RoadmapEntry {
                title: "Foldable tablet".into(),
                available_from: "2027-09-01".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    let bad = suite
        .portal
        .clone()
        .set_availability(suite.req(pb::SetAvailabilityRequest {
            availability: Some(pb::Availability {
                product_id: "nope".into(),
                in_stock: -1,
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), vec!["availability.in_stock"]);
    let catalog = suite
        .portal
        .clone()
        .get_portal_catalog(authed(pb::GetPortalCatalogRequest::default(), &user))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(catalog.products.len(), 1);
    assert_eq!(catalog.products[0].availability.as_ref().unwrap().in_stock, 40);
    assert_eq!(catalog.products[0].roadmap.len(), 1);
    assert_eq!(
        catalog
            .upcoming
            .iter()
            .map(|e| e.title.as_str())
            .collect::<Vec<_>>(),
        vec!["Foldable tablet"]
    );
    // The catalog comes a page at a time by name, the upcoming entries with the first page; a
    // category narrows it.
    let desk = suite.product("DESK-1", "desks").await;
    let page = |page_size: i32, page_token: String, category: &str| {
        authed(
            pb::GetPortalCatalogRequest {
                category: category.into(),
                page_size,
                page_token,
            },
            &user,
        )
    };
    let first = suite
        .portal
        .clone()
        .get_portal_catalog(page(1, String::new(), ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.products.len(), first.upcoming.len()), (1, 1));
    assert!(!first.next_page_token.is_empty());
    let second = suite
        .portal
        .clone()
        .get_portal_catalog(page(1, first.next_page_token.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.products.len(), second.upcoming.len()), (1, 0));
    assert!(second.next_page_token.is_empty());
    let mut seen = vec![
        first.products[0].product_id.clone(),
        second.products[0].product_id.clone(),
    ];
    seen.sort();
    let mut both = vec![laptop.id.clone(), desk.id.clone()];
    both.sort();
    assert_eq!(seen, both);
    let desks = suite
        .portal
        .clone()
        .get_portal_catalog(page(0, String::new(), "desks"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        desks
            .products
            .iter()
            .map(|p| p.product_id.as_str())
            .collect::<Vec<_>>(),
        [desk.id.as_str()]
    );
    let err = suite
        .portal
        .clone()
        .get_portal_catalog(page(0, "not a token".into(), ""))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["page_token"]);
    let denied = suite
        .portal
        .clone()
        .set_availability(authed(
            pb::SetAvailabilityRequest {
                availability: Some(pb::Availability {
                    product_id: laptop.id.clone(),
                    ..Default::default()
                }),
            },
            &user,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // E-ordering: only active partners; the same reference is the same order.
    let submit = |reference: &str| pb::SubmitOrderRequest {
        order: Some(pb::PartnerOrder {
            partner_id: dealer.id.clone(),
            external_ref: reference.into(),
            lines: vec![pb::PartnerOrderLine {
                product_id: laptop.id.clone(),
                quantity: 3,
            }],
            ..Default::default()
        }),
    };
    // The dealer registers a deal with Initech.
    let register = || pb::RegisterDealRequest {
        registration: Some(pb::DealRegistration {
            partner_id: dealer.id.clone(),
            company_name: "Initech".into(),
            contact_name: "Bill Lumbergh".into(),
            email: "Bill@Initech.example".into(),
            estimated_amount: money(50_000_00),
            ..Default::default()
        }),
    };
    let err = suite
        .portal
        .clone()
        .submit_order(authed(submit("EO-1"), &user))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "an onboarding partner cannot order yet"
    );
    suite.activate(&dealer).await;
    let err = suite
        .portal
        .clone()
        .submit_order(authed(submit("EO-1"), &stranger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Roles that read the channel do not order for a partner, nor register its deals.
    for role in [Role::Auditor, Role::Marketer, Role::SalesRep] {
        let reader = token("reader", &[role]);
        let err = suite
            .portal
            .clone()
            .submit_order(authed(submit("EO-1"), &reader))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{role}: {err:?}");
        let err = suite
            .portal
            .clone()
            .register_deal(authed(register(), &reader))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{role}: {err:?}");
    }
    // Sales must know the dealer's party before it can sell to it.
    let sales_db = suite.sales_db.clone();
    let party = dealer_party.id.clone();
    eventually(Duration::from_secs(20), "sales knows the dealer's party", || {
        let (db, party) = (sales_db.clone(), party.clone());
        async move {
            (sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM accounts WHERE party_id = $1")
                .bind(&party)
                .fetch_one(db.pool())
                .await
                .ok()?
                == 1)
                .then_some(())
        }
    })
    .await;
    let first = suite
        .portal
        .clone()
        .submit_order(authed(submit("EO-1"), &user))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    let again = suite
        .portal
        .clone()
        .submit_order(authed(submit("EO-1"), &user))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.created);
    assert_eq!(again.order.unwrap().id, first.order.as_ref().unwrap().id);

    // The submission delivered twice to sales (same ce-id, new message id) still makes one order.
    let js = jetstream::new(suite.nats.client().await);
    let stream = js.get_stream("CRM_PARTNERS").await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: "crm.partners.partner_order.submitted".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let message = tokio::time::timeout(Duration::from_secs(10), consumer.messages().await.unwrap().next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut headers = message.headers.clone().unwrap();
    headers.insert("Nats-Msg-Id", "redelivered-submission");
    js.publish_with_headers(
        "crm.partners.partner_order.submitted",
        headers,
        message.payload.clone(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let placed = order_where(&suite, &dealer.id, &user, "e-order placed in sales", |o| {
        o.status == PartnerOrderStatus::Placed as i32
    })
    .await;
    assert_eq!(placed.total.as_ref().unwrap().amount_minor, 2_700_00);
    let sales_orders = suite
        .orders
        .clone()
        .list_orders(suite.req(spb::ListOrdersRequest {
            partner_id: dealer.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .orders;
    assert_eq!(sales_orders.len(), 1, "exactly one sales order");
    assert_eq!(sales_orders[0].id, placed.sales_order_id);
    assert_eq!(sales_orders[0].party_id, dealer_party.id);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(suite.sales_db.pool())
        .await
        .unwrap();
    assert_eq!(count, 1, "the redelivered submission placed nothing more");

    // An order sales cannot place comes back rejected, with sales' reason: there is no book to
    // price it from in euros.
    let mut in_euros = submit("EO-2");
    if let Some(order) = in_euros.order.as_mut() {
        order.currency_code = "EUR".into();
    }
    suite
        .portal
        .clone()
        .submit_order(authed(in_euros, &user))
        .await
        .unwrap();
    let rejected = order_where(&suite, &dealer.id, &user, "e-order rejected by sales", |o| {
        o.external_ref == "EO-2" && o.status == PartnerOrderStatus::Rejected as i32
    })
    .await;
    assert_eq!(rejected.reason, "no default price book in EUR");

    // Deal registration: registered by the partner, approved by the channel manager, a lead once.
    let registration = suite
        .portal
        .clone()
        .register_deal(authed(register(), &user))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(registration.status, RegistrationStatus::Pending as i32);
    let err = suite
        .portal
        .clone()
        .review_deal_registration(authed(
            pb::ReviewDealRegistrationRequest {
                id: registration.id.clone(),
                approve: true,
                reason: String::new(),
            },
            &user,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "partners do not approve their own registrations"
    );
    let err = suite
        .portal
        .clone()
        .review_deal_registration(suite.req(pb::ReviewDealRegistrationRequest {
            id: registration.id.clone(),
            approve: false,
            reason: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["reason"]);
    let approved = suite
        .portal
        .clone()
        .review_deal_registration(suite.req(pb::ReviewDealRegistrationRequest {
            id: registration.id.clone(),
            approve: true,
            reason: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap();
    assert_eq!(approved.status, RegistrationStatus::Approved as i32);
    let err = suite
        .portal
        .clone()
        .review_deal_registration(suite.req(pb::ReviewDealRegistrationRequest {
            id: registration.id.clone(),
            approve: false,
            reason: "changed mind".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let lead = eventually(Duration::from_secs(20), "lead created in sales", || {
        let mut pipeline = suite.pipeline.clone();
        let req = suite.req(spb::ListLeadsRequest {
            source: spb::LeadSource::Partner as i32,
            ..Default::default()
        });
        async move {
            pipeline
                .list_leads(req)
                .await
                .ok()?
                .into_inner()
                .leads
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(
        (
            lead.source_ref.as_str(),
            lead.company_name.as_str(),
            lead.email.as_str()
        ),
        (registration.id.as_str(), "Initech", "bill@initech.example")
    );
    let listed = suite
        .portal
        .clone()
        .list_deal_registrations(authed(pb::ListDealRegistrationsRequest::default(), &stranger))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.registrations.is_empty(),
        "another partner sees none of them"
    );
}

async fn scorecards_weigh_kpis_and_recommend_tiers(backend: Backend) {
    let suite = Suite::start(backend).await;
    let star = suite
        .partner("Star Dealer", PartnerType::Dealer, "", &["TW"])
        .await;
    let weak = suite
        .partner("Weak Dealer", PartnerType::Dealer, "", &["TW"])
        .await;
    for (partner, target, this_year, last_year) in [
        (&star, 1_000_00, 1_300_00, 650_00),
        (&weak, 1_000_00, 450_00, 900_00),
    ] {
        suite
            .set_target(pb::Target {
                partner_id: partner.id.clone(),
                period: "2025".into(),
                amount: money(target),
                ..Default::default()
            })
            .await;
        for (report, amount, day) in [("y25", this_year, "2025-03-01"), ("y24", last_year, "2024-03-01")] {
            let lines = vec![pb::SellThrough {
                product_id: "any".into(),
                quantity: 1,
                amount: money(amount),
                sold_on: day.into(),
                ..Default::default()
            }];
            suite
                .partners
                .clone()
                .report_sales(suite.req(pb::ReportSalesRequest {
                    report_id: report.into(),
                    partner_id: partner.id.clone(),
                    lines,
                }))
                .await
                .unwrap();
        }
    }
    for reference in ["case-1", "case-2", "case-3", "case-3"] {
        suite
            .scorecards
            .clone()
            .record_complaint(suite.req(pb::RecordComplaintRequest {
                partner_id: weak.id.clone(),
                reference: reference.into(),
                occurred_on: "2025-05-05".into(),
            }))
            .await
            .unwrap();
    }
    let evaluate = |id: &str| pb::EvaluateScorecardRequest {
        partner_id: id.into(),
        period: "2025".into(),
        currency_code: String::new(),
    };
    let card = suite
        .scorecards
        .clone()
        .evaluate_scorecard(suite.req(evaluate(&star.id)))
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(
        card.kpis
            .iter()
            .map(|k| (k.name.as_str(), k.value))
            .collect::<Vec<_>>(),
        vec![
            ("attainment", 13_000),
            ("growth", 10_000),
            ("complaints", 0),
            ("returns", 0)
        ]
    );
    assert_eq!(
        (card.score, card.recommendation),
        (100, pb::TierRecommendation::Promote as i32)
    );
    let card = suite
        .scorecards
        .clone()
        .evaluate_scorecard(suite.req(evaluate(&weak.id)))
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(card.kpis[2].value, 3, "a complaint counts once per reference");
    assert_eq!(card.recommendation, pb::TierRecommendation::Demote as i32);

    let bad = pb::ScorecardSettings {
        attainment_weight_bps: 5000,
        growth_weight_bps: 3000,
        complaints_weight_bps: 1500,
        returns_weight_bps: 1500,
        promote_at: 101,
        demote_below: 50,
    };
    let err = suite
        .scorecards
        .clone()
        .update_scorecard_settings(suite.req(pb::UpdateScorecardSettingsRequest { settings: Some(bad) }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["settings", "settings.promote_at"]);
    let stricter = pb::ScorecardSettings {
        attainment_weight_bps: 4000,
        growth_weight_bps: 3000,
        complaints_weight_bps: 1500,
        returns_weight_bps: 1500,
        promote_at: 101,
        demote_below: 50,
    };
    let err = suite
        .scorecards
        .clone()
        .update_scorecard_settings(suite.req(pb::UpdateScorecardSettingsRequest {
            settings: Some(stricter),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["settings.promote_at"]);
    let stricter = pb::ScorecardSettings {
        promote_at: 100,
        demote_below: 99,
        ..stricter
    };
    suite
        .scorecards
        .clone()
        .update_scorecard_settings(suite.req(pb::UpdateScorecardSettingsRequest {
            settings: Some(stricter),
        }))
        .await
        .unwrap();
    let card = suite
        .scorecards
        .clone()
        .evaluate_scorecard(suite.req(evaluate(&star.id)))
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(card.recommendation, pb::TierRecommendation::Promote as i32);
    let history = suite
        .scorecards
        .clone()
        .list_scorecards(suite.req(pb::ListScorecardsRequest {
            partner_id: star.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .scorecards;
    assert_eq!(history.len(), 2, "every evaluation is kept");
    let user = partner_user("weak-user", &weak.id);
    let err = suite
        .scorecards
        .clone()
        .list_scorecards(authed(
            pb::ListScorecardsRequest {
                partner_id: star.id.clone(),
                ..Default::default()
            },
            &user,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn complaint_cases_from_the_service_desk_count_against_the_partner(backend: Backend) {
    let suite = Suite::start(backend).await;
    let dealer = suite.partner("Dealer Co", PartnerType::Dealer, "", &["TW"]).await;
    let case = |id: &str, kind: sdpb::CaseType, partner: &str| sdpb::CaseOpened {
        case: Some(sdpb::Case {
            id: id.into(),
            r#type: kind as i32,
            partner_id: partner.into(),
            open_time: Some(prost_types::Timestamp {
                seconds: 1_746_403_200,
                nanos: 0,
            }),
            ..Default::default()
        }),
    };
    // A complaint about the dealer (announced twice), an inquiry mentioning it, and a complaint
    // about a partner partners does not know.
    for (id, kind, partner) in [
        ("case-1", sdpb::CaseType::Complaint, dealer.id.as_str()),
        ("case-1", sdpb::CaseType::Complaint, dealer.id.as_str()),
        ("case-2", sdpb::CaseType::Inquiry, dealer.id.as_str()),
        ("case-3", sdpb::CaseType::Complaint, "unknown"),
        ("case-4", sdpb::CaseType::Complaint, dealer.id.as_str()),
    ] {
        suite
            .nats
            .publish_event("servicedesk", "case.opened", id, &case(id, kind, partner))
            .await;
    }
    let db = suite.partners_db.clone();
    let counted = |db: crm_storage::Db| async move {
        sqlx::query_scalar::<_, String>("SELECT reference FROM complaints ORDER BY reference")
            .fetch_all(db.pool())
            .await
            .unwrap_or_default()
    };
    eventually(Duration::from_secs(30), "complaints recorded", || {
        let db = db.clone();
        async move { (counted(db).await.len() == 2).then_some(()) }
    })
    .await;
    assert_eq!(counted(db.clone()).await, ["case:case-1", "case:case-4"]);
    let on: Vec<String> = sqlx::query_scalar("SELECT DISTINCT occurred_on FROM complaints")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(on, ["2025-05-05"]);
}

backend_tests!(
    e_orders_and_deal_registrations_reach_sales_once,
    scorecards_weigh_kpis_and_recommend_tiers,
    complaint_cases_from_the_service_desk_count_against_the_partner
);
