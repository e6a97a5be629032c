use std::time::Duration;

use crm_proto::partners::v1::{self as pb, Dimension, PartnerType};
use crm_proto::sales::v1 as spb;
use crm_testkit::{Backend, authed, backend_tests, eventually};

use crate::helpers::{Suite, money, partner_user, violated};

async fn sell_through(suite: &Suite, expected: i64) {
    let db = suite.partners_db.clone();
    eventually(Duration::from_secs(20), "sell-through recorded", || {
        let db = db.clone();
        async move {
            (sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sell_through")
                .fetch_one(db.pool())
                .await
                .ok()?
                == expected)
                .then_some(())
        }
    })
    .await;
}

async fn performance_against_target_with_drill_down_and_exceptions(backend: Backend) {
    let suite = Suite::start(backend).await;
    let master = suite
        .partner("Master North", PartnerType::MasterDistributor, "", &["TW"])
        .await;
    let dealer = suite
        .partner("Dealer Xinyi", PartnerType::Dealer, &master.id, &["TW-TPE"])
        .await;
    let laptop = suite.product("LAP-14", "laptops").await;
    let phone = suite.product("PHN-1", "phones").await;
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
                unit_price: money(1_000_00),
            }),
        }))
        .await
        .unwrap();
    let acme = suite.organization("Acme").await;
    let today = chrono::Utc::now().date_naive();
    let month = today.format("%Y-%m").to_string();
    let year = today.format("%Y").to_string();

    let err = suite
        .partners
        .clone()
        .set_target(suite.req(pb::SetTargetRequest {
            target: Some(pb::Target {
                partner_id: dealer.id.clone(),
                period: "2026-13".into(),
                product_category: "x".into(),
                product_id: "y".into(),
                amount: None,
                quantity: -1,
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&err),
        vec![
            "target.period",
            "target.amount",
            "target.quantity",
            "target.product_id"
        ]
    );
    suite
        .set_target(pb::Target {
            partner_id: dealer.id.clone(),
            period: month.clone(),
            product_category: "laptops".into(),
            product_id: String::new(),
            amount: money(100_000_00),
            quantity: 100,
        })
        .await;

    // Sales orders on the dealer's channel become its sell-through; a cancelled one does not count.
    let place = |quantity: i64, reference: &str| spb::PlaceOrderRequest {
        order: Some(spb::Order {
            party_id: acme.id.clone(),
            channel: Some(spb::Channel {
                partner_id: dealer.id.clone(),
            }),
            lines: vec![spb::LineItem {
                product_id: laptop.id.clone(),
                quantity,
                ..Default::default()
            }],
            external_ref: reference.into(),
            ..Default::default()
        }),
        price_book_id: book.id.clone(),
    };
    suite
        .orders
        .clone()
        .place_order(suite.req(place(2, "PO-1")))
        .await
        .unwrap();
    let cancelled = suite
        .orders
        .clone()
        .place_order(suite.req(place(1, "PO-2")))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    sell_through(&suite, 2).await;
    suite
        .orders
        .clone()
        .update_order_status(suite.req(spb::UpdateOrderStatusRequest {
            id: cancelled.id.clone(),
            etag: cancelled.etag.clone(),
            status: spb::OrderStatus::Cancelled as i32,
            reason: "duplicate".into(),
        }))
        .await
        .unwrap();
    sell_through(&suite, 1).await;

    // The dealer reports a phone sale; the same report again is not counted twice.
    let report = pb::ReportSalesRequest {
        report_id: "weekly-1".into(),
        partner_id: dealer.id.clone(),
        lines: vec![pb::SellThrough {
            product_id: phone.id.clone(),
            quantity: 1,
            amount: money(500_00),
            sold_on: today.format("%Y-%m-%d").to_string(),
            ..Default::default()
        }],
    };
    let first = suite
        .partners
        .clone()
        .report_sales(suite.req(report.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.recorded, first.duplicate), (1, false));
    let again = suite
        .partners
        .clone()
        .report_sales(suite.req(report))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.recorded, again.duplicate), (0, true));
    let bad = suite
        .partners
        .clone()
        .report_sales(suite.req(pb::ReportSalesRequest {
            report_id: String::new(),
            partner_id: dealer.id.clone(),
            lines: vec![pb::SellThrough::default()],
        }))
        .await
        .unwrap_err();
    assert_eq!(
        violated(&bad),
        vec![
            "report_id",
            "lines[0].product_id",
            "lines[0].quantity",
            "lines[0].sold_on",
            "lines[0].amount"
        ]
    );

    let perf =
        |partner: &str, period: &str, dimension: Dimension, category: &str| pb::GetPerformanceRequest {
            partner_id: partner.into(),
            period: period.into(),
            dimension: dimension as i32,
            product_category: category.into(),
            ..Default::default()
        };
    let channels = suite
        .partners
        .clone()
        .get_performance(suite.req(perf("", &month, Dimension::Partner, "")))
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<(&str, i64, i64)> = channels
        .rows
        .iter()
        .map(|r| {
            (
                r.label.as_str(),
                r.target.as_ref().unwrap().amount_minor,
                r.actual.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![("Master North", 100_000_00, 2_500_00)],
        "the dealer rolls up into its master distributor"
    );
    assert_eq!(channels.rows[0].attainment_bps, 250);
    assert!(channels.rows[0].expected.as_ref().unwrap().amount_minor > 0);
    let below_master = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&master.id, &month, Dimension::Partner, "")))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<(&str, i64)> = below_master
        .rows
        .iter()
        .map(|r| (r.label.as_str(), r.actual.as_ref().unwrap().amount_minor))
        .collect();
    assert!(keys.contains(&("Dealer Xinyi", 2_500_00)), "{keys:?}");
    let categories = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&dealer.id, &month, Dimension::ProductCategory, "")))
        .await
        .unwrap()
        .into_inner();
    let got: Vec<(&str, i64, i64)> = categories
        .rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.target.as_ref().unwrap().amount_minor,
                r.actual.as_ref().unwrap().amount_minor,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("laptops", 100_000_00, 2_000_00), ("phones", 0, 500_00)]
    );
    let products = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&dealer.id, &month, Dimension::Product, "laptops")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(products.rows.len(), 1);
    assert_eq!(products.rows[0].label, "Product LAP-14");
    assert_eq!(
        products.rows[0].path,
        vec![
            "Dealer Xinyi".to_string(),
            month.clone(),
            "laptops".into(),
            "Product LAP-14".into()
        ]
    );
    let quarters = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&dealer.id, &year, Dimension::Period, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(quarters.rows.len(), 4);
    assert_eq!(
        quarters
            .total
            .as_ref()
            .unwrap()
            .actual
            .as_ref()
            .unwrap()
            .amount_minor,
        2_500_00
    );
    let regions = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&dealer.id, &month, Dimension::Region, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        regions.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        vec!["TW-TPE"]
    );
    let err = suite
        .partners
        .clone()
        .get_performance(suite.req(perf("", "someday", Dimension::Unspecified, "")))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["period"]);

    // The dealer's laptops are far under the pro-rated target: the periodic evaluator announces
    // the cell without anyone asking...
    let db = suite.partners_db.clone();
    eventually(Duration::from_secs(20), "exception announced", || {
        let db = db.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM crm_outbox WHERE event_type = 'crm.partners.performance.exception.v1'",
            )
            .fetch_one(db.pool())
            .await
            .ok()?;
            (n > 0).then_some(())
        }
    })
    .await;
    // ...and listing shows it with its path, without announcing it again.
    let exceptions = suite
        .partners
        .clone()
        .list_exceptions(suite.req(pb::ListExceptionsRequest {
            period: year.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .exceptions;
    assert_eq!(exceptions.len(), 1);
    assert_eq!(
        exceptions[0].path,
        vec!["Dealer Xinyi".to_string(), month.clone(), "laptops".into()]
    );
    suite
        .partners
        .clone()
        .list_exceptions(suite.req(pb::ListExceptionsRequest {
            period: year.clone(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let announced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM crm_outbox WHERE event_type = 'crm.partners.performance.exception.v1'",
    )
    .fetch_one(suite.partners_db.pool())
    .await
    .unwrap();
    assert_eq!(announced, 1);

    // Targets of longer periods count by the days a window shares with them; a partner's target
    // is split evenly across its regions. A yearly target of 1,000.00 a day for the master, and a
    // second dealer in two regions with 10,000.00 this month.
    let days = |p: &str| {
        let p = crm_calendar::Period::parse(p).unwrap();
        (p.end_exclusive() - p.start).num_days()
    };
    let two = suite
        .partner(
            "Dealer Two",
            PartnerType::Dealer,
            &master.id,
            &["TW-TPE", "TW-KHH"],
        )
        .await;
    for (partner, period, amount) in [
        (&master.id, &year, days(&year) * 1_000_00),
        (&two.id, &month, 10_000_00),
    ] {
        suite
            .set_target(pb::Target {
                partner_id: partner.clone(),
                period: period.clone(),
                amount: money(amount),
                ..Default::default()
            })
            .await;
    }
    let targets = |r: &pb::GetPerformanceResponse| -> Vec<(String, i64)> {
        r.rows
            .iter()
            .map(|r| (r.key.clone(), r.target.as_ref().unwrap().amount_minor))
            .collect()
    };
    let month_of_year = days(&month) * 1_000_00;
    let regions = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&master.id, &month, Dimension::Region, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        targets(&regions),
        vec![
            ("TW".to_string(), month_of_year),
            ("TW-KHH".to_string(), 5_000_00),
            ("TW-TPE".to_string(), 100_000_00 + 5_000_00),
        ]
    );
    let in_kaohsiung = suite
        .partners
        .clone()
        .get_performance(suite.req(pb::GetPerformanceRequest {
            region_code: "TW-KHH".into(),
            ..perf(&master.id, &month, Dimension::Partner, "")
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(targets(&in_kaohsiung), vec![(two.id.clone(), 5_000_00)]);
    let quarters = suite
        .partners
        .clone()
        .get_performance(suite.req(perf(&master.id, &year, Dimension::Period, "")))
        .await
        .unwrap()
        .into_inner();
    let total = quarters
        .total
        .as_ref()
        .unwrap()
        .target
        .as_ref()
        .unwrap()
        .amount_minor;
    assert_eq!(total, days(&year) * 1_000_00 + 100_000_00 + 10_000_00);
    let quarter = crm_calendar::Period::containing(crm_calendar::PeriodKind::Quarter, today).code();
    assert!(
        targets(&quarters).contains(&(quarter.clone(), days(&quarter) * 1_000_00 + 110_000_00)),
        "{quarter}: {:?}",
        targets(&quarters)
    );
    // A partner user sees its own part of the channel only.
    let own = suite
        .partners
        .clone()
        .get_performance(authed(
            perf("", &month, Dimension::Partner, ""),
            &partner_user("two-user", &two.id),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(targets(&own), vec![(two.id.clone(), 10_000_00)]);
}

/// Exception cells are figured a batch of partners at a time: walking the pages over many
/// partners, few of them under target, gives every cell once, in key order, as one statement
/// over every partner does, and a page ends in the middle of a partner's cells.
async fn exceptions_are_figured_a_batch_of_partners_at_a_time(backend: Backend) {
    use crm_partners::storage::partners::Reach;
    use crm_partners::storage::performance::{
        self as figures, EVERY_PARTNER, Order, PARTNERS_PER_BATCH, Under,
    };

    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_partners::Partners>(&db)
        .await
        .unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    // Two and a half batches of partners, each with a target in each of the year's first three
    // months. One in 37 sells nothing (three cells under), one in 53 sells in January alone (two),
    // one in 41 half its targets (three cells at 50%); the others meet their targets.
    let partners = 2 * PARTNERS_PER_BATCH + 50;
    let mut under = Vec::new();
    for i in 0..partners {
        let id = crm_platform::time::new_id();
        sqlx::query(
            "INSERT INTO partners (id, name, type, status, operating_model, version, created_at) \
             VALUES ($1, $2, 1, 1, 1, 1, 0)",
        )
        .bind(&id)
        .bind(format!("Partner {i}"))
        .execute(&mut *conn)
        .await
        .unwrap();
        for month in ["01", "02", "03"] {
            sqlx::query(
                "INSERT INTO targets (partner_id, period, product_category, product_id, amount_minor, \
                 currency_code, quantity) VALUES ($1, $2, '', '', 1000, 'USD', 0)",
            )
            .bind(&id)
            .bind(format!("2025-{month}"))
            .execute(&mut *conn)
            .await
            .unwrap();
            let sold: i64 = if i % 37 == 0 || (i % 53 == 0 && month != "01") {
                0
            } else if i % 53 != 0 && i % 41 == 0 {
                500
            } else {
                1000
            };
            if sold > 0 {
                sqlx::query(
                    "INSERT INTO sell_through (source_key, partner_id, product_id, product_category, region_code, \
                     quantity, amount_minor, currency_code, sold_on, source, source_ref) \
                     VALUES ($1, $2, '', '', '', 1, $3, 'USD', $4, 1, '')",
                )
                .bind(format!("{id}-{month}"))
                .bind(&id)
                .bind(sold)
                .bind(format!("2025-{month}-15"))
                .execute(&mut *conn)
                .await
                .unwrap();
            }
            if sold < 1000 {
                under.push((sold * 10, format!("{id}|2025-{month}||")));
            }
        }
    }
    // Worst first: by attainment, then by key.
    under.sort();
    let worst_first: Vec<String> = under.iter().map(|(_, key)| key.clone()).collect();
    let mut under: Vec<String> = under.into_iter().map(|(_, key)| key).collect();
    under.sort();
    let year = crm_calendar::Period::parse("2025").unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    let months = crm_partners::domain::performance::exception_months(&year, today);
    let scan = Under {
        reach: Reach::All,
        months: &months,
        currency: "USD",
        threshold_bps: 8000,
    };
    let keys = |cells: Vec<figures::ExceptionCell>| -> Vec<String> {
        cells
            .iter()
            .map(|c| {
                crm_partners::domain::performance::exception_key(
                    &c.partner_id,
                    &c.month,
                    &c.category,
                    &c.product_id,
                )
            })
            .collect()
    };
    let whole = figures::exception_cells(&mut conn, &scan, EVERY_PARTNER, Order::ByKey(None), i64::MAX)
        .await
        .unwrap();
    assert_eq!(keys(whole), under, "one statement over every partner");

    // Pages of two by key: a page ends inside a partner's three cells.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let order = Order::ByKey(after.as_deref());
        let page = keys(figures::exceptions(&mut conn, &scan, order, 2).await.unwrap());
        assert!(page.len() <= 2);
        after = page.last().cloned();
        walked.extend(page);
        if after.is_none() {
            break;
        }
    }
    assert_eq!(walked, under, "every cell once, in key order");
    let one_page = figures::exceptions(&mut conn, &scan, Order::ByKey(None), i64::MAX)
        .await
        .unwrap();
    assert_eq!(keys(one_page), under, "every batch, in one page");

    // Pages of two worst first, after the last cell's attainment and key.
    let mut walked = Vec::new();
    let mut after: Option<(i32, String)> = None;
    loop {
        let order = Order::WorstFirst(after.as_ref().map(|(a, key)| (*a, key.as_str())));
        let page = figures::exceptions(&mut conn, &scan, order, 2).await.unwrap();
        assert!(page.len() <= 2);
        after = page.last().map(|c| {
            (
                crm_partners::domain::performance::ratio_bps(c.actual_minor, c.expected_minor),
                keys(vec![c.clone()]).remove(0),
            )
        });
        walked.extend(keys(page));
        if after.is_none() {
            break;
        }
    }
    assert_eq!(walked, worst_first, "every cell once, worst first");
}

backend_tests!(
    performance_against_target_with_drill_down_and_exceptions,
    exceptions_are_figured_a_batch_of_partners_at_a_time,
);
