//! Bulk import of historical orders (their customers imported into the customers service
//! first), and the order export.

use std::time::Duration;

use crm_auth::Role;
use crm_proto::common::v1::{ImportOptions, ImportSummary, Money};
use crm_proto::customers::v1 as cpb;
use crm_proto::sales::v1::{self as pb, OrderStatus};
use crm_testkit::{Backend, authed, backend_tests, eventually, token};
use futures::StreamExt as _;
use tonic::Code;

use crate::helpers::Suite;

const DAY: i64 = 86_400;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

async fn import_parties(suite: &Suite, ids: &[&str]) {
    let rows = ids
        .iter()
        .enumerate()
        .map(|(i, id)| cpb::PartyImportRow {
            row: i as i64 + 2,
            external_id: id.to_string(),
            party: Some(cpb::Party {
                kind: cpb::PartyKind::Person as i32,
                given_name: format!("Customer {id}"),
                ..Default::default()
            }),
            create_time: at(now() - 1000 * DAY),
        })
        .collect();
    let summary = suite
        .customers
        .clone()
        .import_parties(suite.req(futures::stream::iter([cpb::ImportPartiesRequest {
            options: Some(ImportOptions {
                source: "shop".into(),
                validate_only: false,
            }),
            rows,
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(summary.created, ids.len() as i64);
}

fn order(line: i64, id: &str, party: &str, placed: i64, amount: i64) -> pb::OrderImportRow {
    pb::OrderImportRow {
        row: line,
        external_id: id.into(),
        party_external_id: party.into(),
        place_time: at(placed),
        total: Some(Money {
            amount_minor: amount,
            currency_code: "USD".into(),
        }),
        ..Default::default()
    }
}

async fn import_orders(
    suite: &Suite,
    token: &str,
    rows: Vec<pb::OrderImportRow>,
) -> Result<ImportSummary, tonic::Status> {
    Ok(suite
        .orders
        .clone()
        .import_orders(authed(
            futures::stream::iter([pb::ImportOrdersRequest {
                options: Some(ImportOptions {
                    source: "shop".into(),
                    validate_only: false,
                }),
                rows,
            }]),
            token,
        ))
        .await?
        .into_inner()
        .summary
        .unwrap())
}

async fn sales_events(suite: &Suite) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM crm_outbox ORDER BY seq")
        .fetch_all(suite.sales_db.pool())
        .await
        .unwrap()
}

async fn history_is_imported_as_history(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_parties(&suite, &["c-1", "c-2"]).await;
    let two_years_ago = now() - 730 * DAY;
    let returned_at = now() - 390 * DAY;
    let mut returned = order(3, "o-2", "c-2", now() - 400 * DAY, 5_000);
    returned.status = OrderStatus::Returned as i32;
    returned.status_time = at(returned_at);
    returned.status_reason = "damaged".into();
    let mut unknown_currency = order(5, "o-4", "c-1", two_years_ago, 100);
    unknown_currency.total.as_mut().unwrap().currency_code = "XYZ".into();
    let summary = import_orders(
        &suite,
        &suite.admin,
        vec![
            order(2, "o-1", "c-1", two_years_ago, 12_999),
            returned,
            order(4, "o-3", "nobody", two_years_ago, 100),
            unknown_currency,
            order(6, "o-5", "c-1", two_years_ago, -1),
            order(7, "o-6", "c-1", now() + 10 * DAY, 100),
            order(8, "o-1", "c-1", two_years_ago, 12_999),
            order(9, "o-7", "c-1", two_years_ago, 0),
        ],
    )
    .await
    .unwrap();
    assert_eq!((summary.created, summary.rejected), (3, 5), "{summary:?}");
    let refused: Vec<(i64, &str)> = summary
        .rejections
        .iter()
        .map(|r| (r.row, r.field.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (4, "party_external_id"),
            (5, "total.currency_code"),
            (6, "total.amount_minor"),
            (7, "place_time"),
            (8, "external_id"),
        ]
    );
    // One event announces the batch's orders, each in the status it reached.
    assert_eq!(sales_events(&suite).await, ["crm.sales.orders.imported.v1"]);
    let payload: Vec<u8> = sqlx::query_scalar("SELECT payload FROM crm_outbox")
        .fetch_one(suite.sales_db.pool())
        .await
        .unwrap();
    let mut announced: Vec<(String, i32)> = <pb::OrdersImported as prost::Message>::decode(&payload[..])
        .unwrap()
        .orders
        .into_iter()
        .map(|o| (o.external_id, o.status))
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        [
            ("o-1".to_string(), OrderStatus::Placed as i32),
            ("o-2".to_string(), OrderStatus::Returned as i32),
            ("o-7".to_string(), OrderStatus::Placed as i32),
        ]
    );

    // The orders keep their history.
    let mut stream = suite
        .orders
        .clone()
        .export_orders(suite.req(pb::ExportOrdersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let mut orders = Vec::new();
    while let Some(page) = stream.next().await {
        orders.extend(page.unwrap().orders);
    }
    orders.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    assert_eq!(orders.len(), 3);
    assert_eq!(orders[0].place_time.unwrap().seconds, two_years_ago);
    assert_eq!(orders[1].status, OrderStatus::Returned as i32);
    assert_eq!(orders[1].status_time.unwrap().seconds, returned_at);

    // Customers derives value and lifecycle from the history: c-1 has not bought for two years,
    // longer than the default one-year silence, so it is lost with its lifetime revenue.
    let c1 = orders[0].party_id.clone();
    let party = eventually(Duration::from_secs(20), "order history applied", || async {
        let p = suite
            .customers
            .clone()
            .get_party(suite.req(cpb::GetPartyRequest { id: c1.clone() }))
            .await
            .ok()?
            .into_inner()
            .party?;
        (p.value.as_ref()?.lifetime_revenue.as_ref()?.amount_minor == 12_999).then_some(p)
    })
    .await;
    assert_eq!(party.lifecycle_stage, cpb::LifecycleStage::Lost as i32);
}

async fn reimport_moves_status_forward_and_keeps_the_rest(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_parties(&suite, &["c-1"]).await;
    let placed = now() - 30 * DAY;
    let rows = || {
        vec![
            order(2, "o-1", "c-1", placed, 1_000),
            order(3, "o-2", "c-1", placed, 2_000),
        ]
    };
    assert_eq!(
        import_orders(&suite, &suite.admin, rows()).await.unwrap().created,
        2
    );
    let events = sales_events(&suite).await.len();

    let again = import_orders(&suite, &suite.admin, rows()).await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    assert_eq!(
        sales_events(&suite).await.len(),
        events,
        "an unchanged file announces nothing"
    );

    let mut changed = rows();
    changed[0].status = OrderStatus::Cancelled as i32;
    changed[0].status_time = at(placed + DAY);
    changed[1].total.as_mut().unwrap().amount_minor = 9_999;
    let third = import_orders(&suite, &suite.admin, changed).await.unwrap();
    assert_eq!((third.updated, third.rejected), (1, 1));
    assert_eq!(third.rejections[0].field, "total.amount_minor");
    let all = sales_events(&suite).await;
    assert_eq!(all[events..], ["crm.sales.order.cancelled.v1"]);

    // Backwards is refused.
    let mut back = rows();
    back[0].status = OrderStatus::Placed as i32;
    let fourth = import_orders(&suite, &suite.admin, back).await.unwrap();
    assert_eq!(fourth.rejections[0].field, "status");
}

async fn only_administrators_and_data_stewards_import_and_reps_export_their_own(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_parties(&suite, &["c-1"]).await;
    let err = import_orders(
        &suite,
        &token("rep-1", &[Role::SalesRep]),
        vec![order(2, "o-1", "c-1", now() - DAY, 1)],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let steward = token("steward", &[Role::DataSteward]);
    let mut mine = order(2, "o-1", "c-1", now() - DAY, 1);
    mine.owner_id = "rep-1".into();
    let mut theirs = order(3, "o-2", "c-1", now() - DAY, 1);
    theirs.owner_id = "rep-2".into();
    assert_eq!(
        import_orders(&suite, &steward, vec![mine, theirs])
            .await
            .unwrap()
            .created,
        2
    );

    let export = |token: String| {
        let mut client = suite.orders.clone();
        async move {
            let mut stream = client
                .export_orders(authed(pb::ExportOrdersRequest::default(), &token))
                .await?
                .into_inner();
            let mut ids = Vec::new();
            while let Some(page) = stream.next().await {
                ids.extend(page?.orders.into_iter().map(|o| o.external_id));
            }
            Ok::<_, tonic::Status>(ids)
        }
    };
    assert_eq!(export(token("rep-1", &[Role::SalesRep])).await.unwrap(), ["o-1"]);
    assert_eq!(export(steward).await.unwrap().len(), 2);
    let customer = token("c", &[Role::Customer]);
    assert_eq!(export(customer).await.unwrap_err().code(), Code::PermissionDenied);
}

/// Opportunities go out under the same record rules as they are read.
async fn reps_export_their_own_opportunities(backend: Backend) {
    let suite = Suite::start(backend).await;
    let acme = suite.organization("Acme").await;
    for (user, team) in [("alice", "north"), ("bob", "south")] {
        suite
            .pipeline
            .clone()
            .create_opportunity(authed(
                pb::CreateOpportunityRequest {
                    opportunity: Some(pb::Opportunity {
                        name: format!("{user}'s deal"),
                        party_id: acme.id.clone(),
                        amount: Some(Money {
                            amount_minor: 1_000,
                            currency_code: "USD".into(),
                        }),
                        expected_close_date: "2030-01-01".into(),
                        ..Default::default()
                    }),
                },
                &crate::helpers_token(user, Role::SalesRep, team),
            ))
            .await
            .unwrap();
    }
    let export = |token: String| {
        let mut client = suite.pipeline.clone();
        async move {
            let mut stream = client
                .export_opportunities(authed(pb::ExportOpportunitiesRequest::default(), &token))
                .await?
                .into_inner();
            let mut names = Vec::new();
            while let Some(page) = stream.next().await {
                names.extend(page?.opportunities.into_iter().map(|o| o.name));
            }
            names.sort();
            Ok::<_, tonic::Status>(names)
        }
    };
    assert_eq!(
        export(crate::helpers_token("alice", Role::SalesRep, "north"))
            .await
            .unwrap(),
        ["alice's deal"]
    );
    assert_eq!(export(suite.admin.clone()).await.unwrap().len(), 2);
    let err = export(token("c", &[Role::Customer])).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Orders with long texts are announced in several `orders.imported` events, each well below
/// the broker's 1 MiB message limit.
async fn long_orders_are_announced_below_the_message_limit(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_parties(&suite, &["c-1"]).await;
    let placed = now() - 30 * DAY;
    let rows: Vec<pb::OrderImportRow> = (0..200)
        .map(|i| {
            let mut row = order(i + 2, &format!("o-{i}"), "c-1", placed, 1_000);
            row.status = OrderStatus::Cancelled as i32;
            row.status_time = at(placed + DAY);
            // 500 characters of three bytes each.
            row.status_reason = "語".repeat(500);
            row
        })
        .collect();
    let summary = import_orders(&suite, &suite.admin, rows).await.unwrap();
    assert_eq!(summary.created, 200, "{summary:?}");
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM crm_outbox ORDER BY seq")
        .fetch_all(suite.sales_db.pool())
        .await
        .unwrap();
    assert!(payloads.len() >= 2, "one event would weigh about 300 KiB");
    let mut announced = 0;
    for payload in &payloads {
        assert!(payload.len() < 300 * 1024, "{} bytes", payload.len());
        announced += <pb::OrdersImported as prost::Message>::decode(&payload[..])
            .unwrap()
            .orders
            .len();
    }
    assert_eq!(announced, 200);
}

fn sold(sku: &str, quantity: i64, unit: i64) -> pb::OrderImportLine {
    pb::OrderImportLine {
        sku: sku.into(),
        quantity,
        unit_price: Some(Money {
            amount_minor: unit,
            currency_code: "USD".into(),
        }),
        discount_bps: 0,
    }
}

/// Orders imported line by line: products named by SKU (a discontinued one too), the total
/// from the lines, an unknown SKU or a total that disagrees refused; a line is part of what an
/// order keeps for good.
async fn orders_are_imported_with_their_lines(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_parties(&suite, &["c-1"]).await;
    let book = suite.product("BOOK-1", "books").await;
    let old = suite.product("CD-7", "music").await;
    let mut retired = old.clone();
    retired.active = false;
    suite
        .catalog
        .clone()
        .update_product(suite.req(pb::UpdateProductRequest {
            product: Some(retired),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["active".into()],
            }),
        }))
        .await
        .unwrap();
    let placed = now() - 100 * DAY;
    let mut with_lines = order(2, "o-1", "c-1", placed, 0);
    with_lines.total = None;
    with_lines.lines = vec![sold("BOOK-1", 2, 1_299), sold("CD-7", 1, 500)];
    with_lines.lines[1].discount_bps = 1_000;
    let mut unknown = order(3, "o-2", "c-1", placed, 0);
    unknown.total = None;
    unknown.lines = vec![sold("BOOK-1", 1, 1_299), sold("NOPE", 1, 1)];
    let mut disagrees = order(4, "o-3", "c-1", placed, 1_000);
    disagrees.lines = vec![sold("BOOK-1", 1, 1_299)];
    let mut agrees = order(5, "o-4", "c-1", placed, 1_299);
    agrees.lines = vec![sold("BOOK-1", 1, 1_299)];
    let rows = vec![with_lines.clone(), unknown, disagrees, agrees];
    let summary = import_orders(&suite, &suite.admin, rows.clone()).await.unwrap();
    assert_eq!((summary.created, summary.rejected), (2, 2), "{summary:?}");
    let refused: Vec<(i64, &str)> = summary
        .rejections
        .iter()
        .map(|r| (r.row, r.field.as_str()))
        .collect();
    assert_eq!(refused, [(3, "lines[1].sku"), (4, "total.amount_minor")]);

    let payload: Vec<u8> = sqlx::query_scalar(
        "SELECT payload FROM crm_outbox WHERE event_type = 'crm.sales.orders.imported.v1'",
    )
    .fetch_one(suite.sales_db.pool())
    .await
    .unwrap();
    let announced = <pb::OrdersImported as prost::Message>::decode(&payload[..]).unwrap();
    let o1 = announced.orders.iter().find(|o| o.external_id == "o-1").unwrap();
    assert_eq!(o1.total.as_ref().unwrap().amount_minor, 2 * 1_299 + 450);
    let lines: Vec<(&str, i64, i64, &str)> = o1
        .lines
        .iter()
        .map(|l| {
            (
                l.product_id.as_str(),
                l.quantity,
                l.net.as_ref().unwrap().amount_minor,
                l.product_line.as_str(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (book.id.as_str(), 2, 2_598, "books"),
            (old.id.as_str(), 1, 450, "music"),
        ]
    );
    let stored = suite
        .orders
        .clone()
        .get_order(suite.req(pb::GetOrderRequest { id: o1.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(stored.lines, o1.lines);

    // The same lines again change nothing; other lines are refused.
    let again = import_orders(&suite, &suite.admin, vec![with_lines.clone()])
        .await
        .unwrap();
    assert_eq!(again.unchanged, 1, "{again:?}");
    let mut changed = with_lines;
    // Another product at the same price: the total agrees, the lines do not.
    changed.lines[0].sku = "CD-7".into();
    let third = import_orders(&suite, &suite.admin, vec![changed]).await.unwrap();
    let fields: Vec<&str> = third.rejections.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["lines"], "{third:?}");
}

/// An order's key is kept on its row: the same external id in a later message of the same
/// import is refused, naming the first row.
async fn an_order_repeated_in_a_later_message_is_refused(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_parties(&suite, &["c-1"]).await;
    let placed = now() - 30 * DAY;
    let message = |rows| pb::ImportOrdersRequest { options: None, rows };
    let mut first = message(vec![order(2, "o-1", "c-1", placed, 100)]);
    first.options = Some(ImportOptions {
        source: "shop".into(),
        validate_only: false,
    });
    let summary = suite
        .orders
        .clone()
        .import_orders(suite.req(futures::stream::iter([
            first,
            message(vec![
                order(3, "o-1", "c-1", placed, 100),
                order(4, "o-2", "c-1", placed, 5),
            ]),
        ])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((summary.created, summary.rejected), (2, 1), "{summary:?}");
    assert_eq!(summary.rejections[0].row, 3);
    assert!(summary.rejections[0].reason.contains("row 2"), "{summary:?}");
}

backend_tests!(
    an_order_repeated_in_a_later_message_is_refused,
    orders_are_imported_with_their_lines,
    long_orders_are_announced_below_the_message_limit,
    history_is_imported_as_history,
    reps_export_their_own_opportunities,
    reimport_moves_status_forward_and_keeps_the_rest,
    only_administrators_and_data_stewards_import_and_reps_export_their_own,
);
