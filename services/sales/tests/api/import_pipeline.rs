//! Bulk imports of products with prices, leads, opportunities and activities.

use crm_proto::common::v1::{ImportOptions, ImportSummary, Money};
use crm_proto::customers::v1 as cpb;
use crm_proto::sales::v1::{self as pb, OpportunityStatus};
use crm_testkit::{Backend, backend_tests};

use crate::helpers::Suite;

const DAY: i64 = 86_400;

fn options() -> Option<ImportOptions> {
    Some(ImportOptions {
        source: "shop".into(),
        validate_only: false,
    })
}

fn ago(days: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - days * DAY,
        nanos: 0,
    })
}

fn usd(amount: i64) -> Option<Money> {
    Some(Money {
        amount_minor: amount,
        currency_code: "USD".into(),
    })
}

fn refused(s: &ImportSummary) -> Vec<(i64, String)> {
    s.rejections.iter().map(|r| (r.row, r.field.clone())).collect()
}

async fn products_come_in_with_their_prices(backend: Backend) {
    let suite = Suite::start(backend).await;
    let product = |line: i64, sku: &str, name: &str, price: i64| pb::ProductImportRow {
        row: line,
        product: Some(pb::Product {
            sku: sku.into(),
            name: name.into(),
            product_line: "hardware".into(),
            category: "laptops".into(),
            active: true,
            ..Default::default()
        }),
        price_book_name: "List USD".into(),
        unit_price: usd(price),
    };
    let send = |rows: Vec<pb::ProductImportRow>| {
        let mut client = suite.catalog.clone();
        let req = suite.req(futures::stream::iter([pb::ImportProductsRequest {
            options: options(),
            rows,
        }]));
        async move {
            client
                .import_products(req)
                .await
                .unwrap()
                .into_inner()
                .summary
                .unwrap()
        }
    };
    let file = || {
        vec![
            product(2, "LAP-14", "Laptop 14", 129_900),
            product(3, "bad sku", "Broken", 100),
            product(4, "LAP-16", "Laptop 16", 159_900),
        ]
    };
    let summary = send(file()).await;
    assert_eq!((summary.created, summary.rejected), (2, 1), "{summary:?}");
    assert_eq!(refused(&summary), [(3, "sku".to_string())]);
    assert_eq!(send(file()).await.unchanged, 2);
    let mut changed = file();
    changed[0].unit_price = usd(119_900);
    assert_eq!(send(changed).await.updated, 1);
    let books = suite
        .catalog
        .clone()
        .list_price_books(suite.req(pb::ListPriceBooksRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .price_books;
    let book = books.iter().find(|b| b.name == "List USD").unwrap();
    // The first book of its currency is its default: orders without a book are priced from it.
    assert!(book.is_default, "{book:?}");
    let prices = suite
        .catalog
        .clone()
        .list_prices(suite.req(pb::ListPricesRequest {
            price_book_id: book.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .prices;
    let mut amounts: Vec<i64> = prices
        .iter()
        .map(|p| p.unit_price.as_ref().unwrap().amount_minor)
        .collect();
    amounts.sort();
    assert_eq!(amounts, [119_900, 159_900]);
}

async fn pipeline_history_comes_in_without_alerts(backend: Backend) {
    let suite = Suite::start(backend).await;
    let parties = suite
        .customers
        .clone()
        .import_parties(suite.req(futures::stream::iter([cpb::ImportPartiesRequest {
            options: options(),
            rows: vec![cpb::PartyImportRow {
                row: 2,
                external_id: "C-1".into(),
                party: Some(cpb::Party {
                    kind: cpb::PartyKind::Organization as i32,
                    organization_name: "Acme".into(),
                    ..Default::default()
                }),
                create_time: None,
            }],
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(parties.created, 1);

    let deal = |line: i64, id: &str, stage: &str, created: i64| pb::OpportunityImportRow {
        row: line,
        external_id: id.into(),
        party_external_id: "C-1".into(),
        opportunity: Some(pb::Opportunity {
            name: format!("Deal {id}"),
            amount: usd(500_000),
            expected_close_date: "2031-12-31".into(),
            owner_id: "rep-1".into(),
            ..Default::default()
        }),
        stage_code: stage.into(),
        create_time: ago(created),
        ..Default::default()
    };
    let mut won = deal(3, "D-2", "closed_won", 400);
    won.close_time = ago(100);
    let mut unclosed = deal(5, "D-4", "closed_lost", 50);
    unclosed.close_time = None;
    let summary = suite
        .pipeline
        .clone()
        .import_opportunities(suite.req(futures::stream::iter([pb::ImportOpportunitiesRequest {
            options: options(),
            rows: vec![
                // Sitting in an early stage for more than a year in the old system.
                deal(2, "D-1", "prospecting", 400),
                won,
                deal(4, "D-3", "no_such_stage", 10),
                unclosed,
                deal(6, "D-5", "proposal", 10),
            ],
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((summary.created, summary.rejected), (3, 2), "{summary:?}");
    assert_eq!(
        refused(&summary),
        [(4, "stage_code".to_string()), (5, "close_time".into())]
    );

    let listed = suite
        .pipeline
        .clone()
        .list_opportunities(suite.req(pb::ListOpportunitiesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .opportunities;
    let by_name = |n: &str| listed.iter().find(|o| o.name == n).cloned().unwrap();
    let old = by_name("Deal D-1");
    assert!(old.create_time.unwrap().seconds <= ago(399).unwrap().seconds);
    let won = by_name("Deal D-2");
    assert_eq!(won.status, OpportunityStatus::Won as i32);
    assert!(won.close_time.is_some());

    // The deal that sat in prospecting elsewhere starts its stage clock here: no stalled alert.
    let raised = suite
        .reports
        .clone()
        .evaluate_alerts(suite.req(pb::EvaluateAlertsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised;
    assert!(
        !raised.iter().any(|a| a.kind == pb::AlertKind::StalledDeal as i32),
        "{raised:?}"
    );

    // Leads and activities refer to what came in before.
    let leads = suite
        .pipeline
        .clone()
        .import_leads(suite.req(futures::stream::iter([pb::ImportLeadsRequest {
            options: options(),
            rows: vec![
                pb::LeadImportRow {
                    row: 2,
                    external_id: "L-1".into(),
                    party_external_id: "C-1".into(),
                    lead: Some(pb::Lead {
                        source: pb::LeadSource::Web as i32,
                        contact_name: "Ann Buyer".into(),
                        ..Default::default()
                    }),
                    status: pb::LeadStatus::Qualified as i32,
                    create_time: ago(30),
                },
                pb::LeadImportRow {
                    row: 3,
                    external_id: "L-2".into(),
                    lead: Some(pb::Lead {
                        source: pb::LeadSource::Web as i32,
                        contact_name: "Bo".into(),
                        ..Default::default()
                    }),
                    status: pb::LeadStatus::Converted as i32,
                    ..Default::default()
                },
            ],
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((leads.created, leads.rejected), (1, 1));
    assert_eq!(refused(&leads), [(3, "status".to_string())]);

    let activities = suite
        .pipeline
        .clone()
        .import_activities(suite.req(futures::stream::iter([pb::ImportActivitiesRequest {
            options: options(),
            rows: vec![
                pb::ActivityImportRow {
                    row: 2,
                    external_id: "A-1".into(),
                    opportunity_external_id: "D-1".into(),
                    party_external_id: "C-1".into(),
                    activity: Some(pb::Activity {
                        kind: pb::ActivityKind::Meeting as i32,
                        subject: "Kick-off".into(),
                        owner_id: "rep-1".into(),
                        occur_time: ago(390),
                        ..Default::default()
                    }),
                },
                pb::ActivityImportRow {
                    row: 3,
                    external_id: "A-2".into(),
                    opportunity_external_id: "D-404".into(),
                    activity: Some(pb::Activity {
                        kind: pb::ActivityKind::Call as i32,
                        subject: "Call".into(),
                        occur_time: ago(1),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ],
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((activities.created, activities.rejected), (1, 1));
    assert_eq!(refused(&activities), [(3, "opportunity_external_id".to_string())]);
    let logged = suite
        .pipeline
        .clone()
        .list_activities(suite.req(pb::ListActivitiesRequest {
            opportunity_id: old.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .activities;
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].occur_time.unwrap().seconds / DAY,
        ago(390).unwrap().seconds / DAY
    );
}

backend_tests!(
    products_come_in_with_their_prices,
    pipeline_history_comes_in_without_alerts
);
