//! Bulk import of partners and targets, and historical orders sold through imported partners.

use std::time::Duration;

use crm_proto::common::v1::{ImportOptions, ImportSummary, Money};
use crm_proto::customers::v1 as cpb;
use crm_proto::partners::v1::{self as pb, OperatingModel, PartnerStatus, PartnerType};
use crm_proto::sales::v1 as spb;
use crm_testkit::{Backend, backend_tests, eventually};

use crate::helpers::{Suite, money};

fn options() -> Option<ImportOptions> {
    Some(ImportOptions {
        source: "erp".into(),
        validate_only: false,
    })
}

fn partner(line: i64, id: &str, parent: &str, name: &str, t: PartnerType) -> pb::PartnerImportRow {
    pb::PartnerImportRow {
        row: line,
        external_id: id.into(),
        parent_external_id: parent.into(),
        partner: Some(pb::Partner {
            name: name.into(),
            r#type: t as i32,
            region_codes: vec!["TW-TPE".into()],
            operating_model: OperatingModel::BuySell as i32,
            ..Default::default()
        }),
        status: PartnerStatus::Active as i32,
    }
}

async fn import_partners(suite: &Suite, rows: Vec<pb::PartnerImportRow>) -> ImportSummary {
    suite
        .partners
        .clone()
        .import_partners(suite.req(futures::stream::iter([pb::ImportPartnersRequest {
            options: options(),
            rows,
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap()
}

fn fields(summary: &ImportSummary) -> Vec<(i64, &str)> {
    summary
        .rejections
        .iter()
        .map(|r| (r.row, r.field.as_str()))
        .collect()
}

async fn partners_come_in_with_their_hierarchy_and_targets(backend: Backend) {
    let suite = Suite::start(backend).await;
    let file = || {
        vec![
            partner(2, "MD-1", "", "Master One", PartnerType::MasterDistributor),
            partner(3, "D-1", "MD-1", "Distributor One", PartnerType::Distributor),
            partner(4, "R-1", "D-1", "Retailer One", PartnerType::Retailer),
            // Its parent comes later: refused, parents first.
            partner(5, "R-2", "D-9", "Retailer Two", PartnerType::Retailer),
            partner(6, "D-9", "MD-1", "", PartnerType::Distributor),
        ]
    };
    let summary = import_partners(&suite, file()).await;
    assert_eq!((summary.created, summary.rejected), (3, 2), "{summary:?}");
    assert_eq!(fields(&summary), [(5, "parent_external_id"), (6, "name")]);
    let tree = suite
        .partners
        .clone()
        .get_partner_tree(suite.req(pb::GetPartnerTreeRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    let shape: Vec<(&str, i32, i32)> = tree
        .iter()
        .map(|n| {
            let p = n.partner.as_ref().unwrap();
            (p.name.as_str(), n.depth, p.status)
        })
        .collect();
    let active = PartnerStatus::Active as i32;
    assert_eq!(
        shape,
        [
            ("Master One", 0, active),
            ("Distributor One", 1, active),
            ("Retailer One", 2, active)
        ]
    );
    let retailer = tree[2].partner.clone().unwrap();
    assert_eq!(
        (retailer.external_id.as_str(), retailer.source.as_str()),
        ("R-1", "erp")
    );

    // Again: nothing changes; a new tier is one update.
    let again = import_partners(&suite, file()[..3].to_vec()).await;
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    let mut changed = file()[..3].to_vec();
    changed[2].partner.as_mut().unwrap().tier = "gold".into();
    let third = import_partners(&suite, changed).await;
    assert_eq!((third.updated, third.unchanged), (1, 2));

    let target = |line: i64, partner: &str, period: &str, amount: i64| pb::TargetImportRow {
        row: line,
        partner_external_id: partner.into(),
        target: Some(pb::Target {
            period: period.into(),
            product_category: "laptops".into(),
            amount: money(amount),
            ..Default::default()
        }),
    };
    let targets = suite
        .partners
        .clone()
        .import_targets(suite.req(futures::stream::iter([pb::ImportTargetsRequest {
            options: options(),
            rows: vec![
                target(2, "R-1", "2026-Q1", 100_000),
                target(3, "R-404", "2026-Q1", 100_000),
                target(4, "R-1", "2026-Q9", 100_000),
                target(5, "R-1", "2026-Q1", 200_000),
            ],
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!((targets.created, targets.rejected), (1, 3), "{targets:?}");
    assert_eq!(
        fields(&targets),
        [(3, "partner_external_id"), (4, "period"), (5, "period")]
    );
    let listed = suite
        .partners
        .clone()
        .list_targets(suite.req(pb::ListTargetsRequest {
            partner_id: retailer.id.clone(),
            period: String::new(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .targets;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].amount.as_ref().unwrap().amount_minor, 100_000);
}

async fn orders_name_their_channel_by_the_partners_external_id(backend: Backend) {
    let suite = Suite::start(backend).await;
    import_partners(
        &suite,
        vec![partner(2, "R-1", "", "Retailer One", PartnerType::Retailer)],
    )
    .await;
    suite
        .customers
        .clone()
        .import_parties(suite.req(futures::stream::iter([cpb::ImportPartiesRequest {
            options: options(),
            rows: vec![cpb::PartyImportRow {
                row: 2,
                external_id: "C-1".into(),
                party: Some(cpb::Party {
                    kind: cpb::PartyKind::Organization as i32,
                    organization_name: "Buyer".into(),
                    ..Default::default()
                }),
                create_time: None,
            }],
        }])))
        .await
        .unwrap();
    let sold = chrono::Utc::now().timestamp() - 200 * 86_400;
    let order = spb::OrderImportRow {
        row: 2,
        external_id: "O-1".into(),
        party_external_id: "C-1".into(),
        place_time: Some(prost_types::Timestamp {
            seconds: sold,
            nanos: 0,
        }),
        total: Some(Money {
            amount_minor: 70_000,
            currency_code: "USD".into(),
        }),
        partner_external_id: "R-1".into(),
        ..Default::default()
    };
    // A second one was returned: it is no sell-through.
    let mut returned = order.clone();
    returned.row = 3;
    returned.external_id = "O-2".into();
    returned.status = spb::OrderStatus::Returned as i32;
    returned.status_time = Some(prost_types::Timestamp {
        seconds: sold + 86_400,
        nanos: 0,
    });
    // Sales learns of the partner from its event; until then the rows are refused.
    let summary = eventually(Duration::from_secs(20), "sales knows the partner", || async {
        let s = suite
            .orders
            .clone()
            .import_orders(suite.req(futures::stream::iter([spb::ImportOrdersRequest {
                options: options(),
                rows: vec![order.clone(), returned.clone()],
            }])))
            .await
            .ok()?
            .into_inner()
            .summary?;
        (s.created == 2).then_some(s)
    })
    .await;
    assert_eq!(summary.rejected, 0);
    let partner_id = suite
        .partners
        .clone()
        .list_partners(suite.req(pb::ListPartnersRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .partners[0]
        .id
        .clone();
    // Its sell-through is the order's total on the day it was placed.
    let day = chrono::DateTime::from_timestamp(sold, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let records = eventually(Duration::from_secs(20), "sell-through recorded", || async {
        let r = suite
            .partners
            .clone()
            .list_sell_through(suite.req(pb::ListSellThroughRequest {
                partner_id: partner_id.clone(),
                period: day[..7].to_string(),
                ..Default::default()
            }))
            .await
            .ok()?
            .into_inner()
            .records;
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].amount.as_ref().unwrap().amount_minor, 70_000);
    assert_eq!(records[0].sold_on, day);
}

backend_tests!(
    partners_come_in_with_their_hierarchy_and_targets,
    orders_name_their_channel_by_the_partners_external_id,
);
