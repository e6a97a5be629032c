//! The customer base over time: tier migration between two dates, cohorts by first purchase,
//! churn, new and returning buyers, results by acquisition source, and penetration.

use std::time::Duration;

use crm_platform::clock::ManualClock;
use crm_platform::time::timestamp;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, backend_tests};

use crate::helpers::{TestApp, person, violated};

/// µs at midnight UTC of `date` (YYYY-MM-DD).
fn at(date: &str) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn usd(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: "USD".into(),
    })
}

async fn tiers_move_between_two_dates(backend: Backend) {
    let clock = ManualClock::at(at("2026-03-01"));
    let app = TestApp::spawn_at(backend, Some(clock.clone()), |s| {
        s.value_refresh_interval = Duration::from_secs(3600)
    })
    .await;
    let tiers = |names: [(&str, i32); 3]| pb::ValueTierConfig {
        tiers: names
            .iter()
            .map(|(name, bps)| pb::ValueTier {
                name: name.to_string(),
                customer_share_bps: *bps,
            })
            .collect(),
    };
    app.client
        .clone()
        .update_value_tier_config(app.req(pb::UpdateValueTierConfigRequest {
            config: Some(tiers([("gold", 2500), ("silver", 2500), ("bronze", 5000)])),
        }))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["A", "B", "C", "D", "E"] {
        ids.push(app.create(person(name, "Tier", "")).await.id);
    }
    let set_values = |values: [i64; 5]| {
        let (app, ids) = (&app, &ids);
        async move {
            for (id, value) in ids.iter().zip(values) {
                app.client
                    .clone()
                    .set_party_value(app.req(pb::SetPartyValueRequest {
                        party_id: id.clone(),
                        lifetime_revenue: usd(value),
                        trailing_12m_revenue: usd(value),
                    }))
                    .await
                    .unwrap();
            }
            app.client
                .clone()
                .recompute_value_tiers(app.req(pb::RecomputeValueTiersRequest {}))
                .await
                .unwrap();
        }
    };
    // March: A gold, B silver, C and D bronze, E not ranked.
    set_values([400, 300, 200, 100, 0]).await;
    // June: E gold, C silver, B and A bronze, D not ranked.
    clock.set(at("2026-06-01"));
    set_values([100, 300, 350, 0, 500]).await;
    let migration = |from: &str, to: &str| {
        let req = app.req(pb::GetTierMigrationRequest {
            from_time: Some(timestamp(at(from))),
            to_time: Some(timestamp(at(to))),
        });
        let mut client = app.client.clone();
        async move { client.get_tier_migration(req).await.map(|r| r.into_inner()) }
    };
    let m = migration("2026-04-01", "2026-07-01").await.unwrap();
    assert_eq!(
        (m.moved_up, m.moved_down, m.moved_in, m.moved_out, m.unchanged),
        (1, 2, 1, 1, 0)
    );
    let gold_to_bronze = m.moves.iter().find(|mv| mv.from_tier == "gold").unwrap();
    assert_eq!(
        (gold_to_bronze.to_tier.as_str(), gold_to_bronze.customers),
        ("bronze", 1)
    );
    // Within March nothing moved.
    let m = migration("2026-03-02", "2026-03-30").await.unwrap();
    assert_eq!(
        (m.unchanged, m.moved_up + m.moved_down + m.moved_in + m.moved_out),
        (4, 0)
    );
    let err = migration("2026-07-01", "2026-04-01").await.unwrap_err();
    assert_eq!(violated(&err), ["to_time"]);
}

async fn cohorts_churn_sources_and_penetration(backend: Backend) {
    // Customers are lost after 40 days without a purchase here.
    let app = TestApp::spawn_with(backend, |s| s.lost_after = Duration::from_secs(40 * 86_400)).await;
    app.client
        .clone()
        .upsert_region(app.req(pb::UpsertRegionRequest {
            region: Some(pb::Region {
                code: "TW-TPE".into(),
                name: "Taipei".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    let party = |name: &str, source: &str, industry: &str, region: &str| pb::Party {
        source: source.into(),
        industry: industry.into(),
        region_code: region.into(),
        ..person(name, "Base", "")
    };
    let f = app.create(party("F", "web", "retail", "TW-TPE")).await.id;
    let g = app.create(party("G", "web", "retail", "TW-TPE")).await.id;
    let h = app.create(party("H", "fair", "retail", "")).await.id;
    let i = app.create(party("I", "fair", "banking", "")).await.id;
    // A prospect in Taipei's retail trade.
    app.create(party("J", "web", "retail", "TW-TPE")).await;
    let orders = [
        (&f, "2026-01-10"),
        (&f, "2026-02-10"),
        (&f, "2026-03-10"),
        (&g, "2026-01-20"),
        (&g, "2026-03-05"),
        (&h, "2026-02-15"),
        (&i, "2025-12-01"),
        (&i, "2026-02-20"),
    ];
    for (n, (party, date)) in orders.iter().enumerate() {
        let order = crm_proto::sales::v1::Order {
            id: format!("base-{n}"),
            party_id: (*party).clone(),
            total: usd(100_00),
            status: crm_proto::sales::v1::OrderStatus::Placed as i32,
            place_time: Some(timestamp(at(date))),
            ..Default::default()
        };
        let placed = crm_proto::sales::v1::OrderPlaced { order: Some(order) };
        app.nats
            .publish_event("sales", "order.placed", party, &placed)
            .await;
    }
    crm_testkit::fixtures::rows_reach(
        &app.db,
        "SELECT COUNT(*) FROM party_orders",
        None,
        8,
        "orders recorded",
    )
    .await;

    // Cohorts from January: F and G first bought in January, H in February (I in December).
    let cohorts = app
        .client
        .clone()
        .get_cohort_retention(app.req(pb::GetCohortRetentionRequest {
            from_month: "2026-01".into(),
            months: 3,
        }))
        .await
        .unwrap()
        .into_inner()
        .cohorts;
    let table: Vec<(&str, i64, Vec<i64>, Vec<i32>)> = cohorts
        .iter()
        .map(|c| {
            (
                c.month.as_str(),
                c.customers,
                c.active.clone(),
                c.retention_bps.clone(),
            )
        })
        .collect();
    assert_eq!(
        table,
        [
            ("2026-01", 2, vec![2, 1, 2], vec![10_000, 5_000, 10_000]),
            ("2026-02", 1, vec![1, 0], vec![10_000, 0]),
            ("2026-03", 0, vec![0], vec![0]),
        ]
    );

    // The first quarter month by month.
    let trends = app
        .client
        .clone()
        .get_base_trends(app.req(pb::GetBaseTrendsRequest {
            period: "2026-Q1".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let months: Vec<(&str, i64, i64, i32, i64, i64, i64)> = trends
        .months
        .iter()
        .map(|m| {
            (
                m.month.as_str(),
                m.active_at_start,
                m.churned,
                m.churn_rate_bps,
                m.new_customers,
                m.returning_customers,
                m.revenue.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    assert_eq!(
        months,
        [
            // I (December) is active on 1 January and lost by 1 February.
            ("2026-01", 1, 1, 10_000, 2, 0, 200_00),
            // F and G active on 1 February; G's last purchase (20 January) is 40 days old on 1 March.
            ("2026-02", 2, 1, 5_000, 1, 2, 300_00),
            // F, H and I active on 1 March; H and I lost by 1 April.
            ("2026-03", 3, 2, 6_667, 0, 2, 200_00),
        ]
    );
    let sources: Vec<(&str, i64, i64, i64, i64)> = trends
        .by_source
        .iter()
        .map(|s| {
            (
                s.source.as_str(),
                s.parties,
                s.buyers,
                s.new_customers,
                s.revenue.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    assert_eq!(sources, [("web", 3, 2, 2, 500_00), ("fair", 2, 2, 1, 200_00)]);
    let err = app
        .client
        .clone()
        .get_base_trends(app.req(pb::GetBaseTrendsRequest { period: "Q1".into() }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["period"]);

    // Penetration: Taipei has two customers and a prospect; retail three customers of four.
    crm_testkit::eventually(
        Duration::from_secs(30),
        "lifecycles follow the orders",
        || async {
            let h = app.get(&h).await.ok()?;
            (h.lifecycle_stage != pb::LifecycleStage::Prospect as i32).then_some(())
        },
    )
    .await;
    let penetration = app
        .client
        .clone()
        .get_penetration(app.req(pb::GetPenetrationRequest {}))
        .await
        .unwrap()
        .into_inner();
    let taipei = penetration.by_region.iter().find(|r| r.key == "TW-TPE").unwrap();
    let customers_of = |stage_counts: &pb::PenetrationRow| stage_counts.customers + stage_counts.lost;
    assert_eq!((customers_of(taipei), taipei.prospects), (2, 1));
    let retail = penetration
        .by_industry
        .iter()
        .find(|r| r.key == "retail")
        .unwrap();
    assert_eq!((customers_of(retail), retail.prospects), (3, 1));
}

/// The base trends of a year against counting each customer by the definitions: active at a
/// moment with a purchase within the lost-after silence before it, churned when active at a
/// month's start and not at its end, new in the month of the first purchase ever. Purchases fall
/// on month starts, on the same instant twice, and are cancelled, as well as anywhere.
async fn trends_count_each_customer_as_defined(backend: Backend) {
    const DAY: i64 = 86_400_000_000;
    let lost_after = 45 * DAY;
    let app = TestApp::spawn_with(backend, |s| s.lost_after = Duration::from_secs(45 * 86_400)).await;
    let mut seed = 0x5eed_u64;
    let mut next = move |below: i64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        i64::try_from((seed >> 11) % u64::try_from(below).unwrap()).unwrap()
    };
    let (from, to) = (at("2025-09-01"), at("2027-02-01"));
    let mut placed: Vec<(String, i64, i64, bool)> = Vec::new();
    for p in 0..14 {
        let party = app.create(person(&format!("T{p}"), "Trend", "")).await.id;
        for _ in 0..next(9) {
            let when = match next(4) {
                // A month's first instant.
                0 => at(&format!("2026-{:02}-01", 1 + next(12))),
                // The instant of the party's purchase before.
                1 if placed.last().is_some_and(|o| o.0 == party) => placed.last().unwrap().1,
                _ => from + next(to - from),
            };
            placed.push((party.clone(), when, 100 * (1 + next(50)), next(6) > 0));
        }
    }
    for (n, (party, when, amount, counts)) in placed.iter().enumerate() {
        let order = crm_proto::sales::v1::Order {
            id: format!("trend-{n}"),
            party_id: party.clone(),
            total: usd(*amount),
            status: crm_proto::sales::v1::OrderStatus::Placed as i32,
            place_time: Some(timestamp(*when)),
            ..Default::default()
        };
        let event = crm_proto::sales::v1::OrderPlaced {
            order: Some(order.clone()),
        };
        app.nats
            .publish_event("sales", "order.placed", party, &event)
            .await;
        if !counts {
            let event = crm_proto::sales::v1::OrderCancelled { order: Some(order) };
            app.nats
                .publish_event("sales", "order.cancelled", party, &event)
                .await;
        }
    }
    crm_testkit::fixtures::rows_reach(
        &app.db,
        "SELECT COUNT(*) FROM party_orders",
        None,
        placed.len() as i64,
        "orders recorded",
    )
    .await;
    let cancelled = placed.iter().filter(|o| !o.3).count() as i64;
    crm_testkit::fixtures::rows_reach(
        &app.db,
        "SELECT COUNT(*) FROM party_orders WHERE status = 'cancelled'",
        None,
        cancelled,
        "orders recorded, some cancelled",
    )
    .await;

    let counted: Vec<&(String, i64, i64, bool)> = placed.iter().filter(|o| o.3).collect();
    let parties: std::collections::BTreeSet<&str> = counted.iter().map(|o| o.0.as_str()).collect();
    let active = |party: &str, t: i64| {
        counted
            .iter()
            .any(|o| o.0 == party && o.1 > t - lost_after && o.1 <= t)
    };
    let first = |party: &str| {
        counted
            .iter()
            .filter(|o| o.0 == party)
            .map(|o| o.1)
            .min()
            .unwrap()
    };
    let mut expected = Vec::new();
    for m in 1..=12 {
        let start = at(&format!("2026-{m:02}-01"));
        let end = if m == 12 {
            at("2027-01-01")
        } else {
            at(&format!("2026-{:02}-01", m + 1))
        };
        let buys = |party: &str| counted.iter().any(|o| o.0 == party && o.1 >= start && o.1 < end);
        let count = |f: &dyn Fn(&str) -> bool| parties.iter().filter(|p| f(p)).count() as i64;
        expected.push((
            format!("2026-{m:02}"),
            count(&|p| active(p, start)),
            count(&|p| active(p, start) && !active(p, end)),
            count(&|p| buys(p) && first(p) >= start),
            count(&|p| buys(p) && first(p) < start),
            counted
                .iter()
                .filter(|o| o.1 >= start && o.1 < end)
                .map(|o| o.2)
                .sum::<i64>(),
        ));
    }
    let trends = app
        .client
        .clone()
        .get_base_trends(app.req(pb::GetBaseTrendsRequest {
            period: "2026".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let months: Vec<(String, i64, i64, i64, i64, i64)> = trends
        .months
        .iter()
        .map(|m| {
            (
                m.month.clone(),
                m.active_at_start,
                m.churned,
                m.new_customers,
                m.returning_customers,
                m.revenue.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    assert_eq!(months, expected);
    // The sample exercises what it is meant to: churn, returns within a month, new buyers.
    assert!(expected.iter().map(|m| m.2).sum::<i64>() >= 3, "{expected:?}");
    assert!(expected.iter().map(|m| m.3).sum::<i64>() >= 3, "{expected:?}");
    assert!(expected.iter().map(|m| m.4).sum::<i64>() >= 3, "{expected:?}");
}

backend_tests!(
    tiers_move_between_two_dates,
    cohorts_churn_sources_and_penetration,
    trends_count_each_customer_as_defined
);
