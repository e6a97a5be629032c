//! What selecting a campaign's members costs now that SelectMembers goes through the segment a
//! page of 2,000 customers per transaction: the selection to its end (every customer of the
//! segment scored, checked for consent, written as a member), at 10,000 and 100,000 customers;
//! against the floor of the one hand-written INSERT ... SELECT that wrote the same members in
//! one transaction before, measured in the same run. The longest page is the longest any
//! transaction of the selection holds.
//!
//! `cargo bench -p crm-marketing --bench selection` (release build; SQLite, or PostgreSQL with
//! `CRM_BENCH_BACKEND=postgres` and `CRM_TEST_POSTGRES_URL`; other sizes with
//! `CRM_BENCH_MEMBERS`, e.g. `1000000`).

use std::time::Instant;

use crm_marketing::selecting;
use crm_marketing::storage::{campaigns, segments, selections};
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1::{self as pb, CampaignStatus, Channel};
use crm_testkit::Backend;

mod common;

/// The segment sizes measured unless `CRM_BENCH_MEMBERS` names others (comma-separated).
const SIZES: [i64; 2] = [10_000, 100_000];

/// `n` active customers, nine in ten with purchases, one in twenty opted out of e-mail; a
/// segment of everyone and two draft e-mail campaigns to it.
async fn base(backend: Backend, n: i64) -> (crm_testkit::TestDb, crm_storage::Db, [String; 2]) {
    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_marketing::Marketing>(&db)
        .await
        .expect("migrating");
    let mut conn = db.pool().acquire().await.expect("a connection");
    let numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)";
    for fill in [
        "INSERT INTO profiles (party_id, display_name) SELECT 'party-' || (10000000 + i), 'P' || i FROM n",
        "INSERT INTO customer_figures (party_id, currency_code, orders, total_minor, first_at, last_at, last_day) \
         SELECT 'party-' || (10000000 + i), 'USD', 1 + i % 7, 100 * (i % 97), 0, 0, i % 700 FROM n WHERE i % 10 <> 0",
        "INSERT INTO consent (party_id, channel, opted_out, do_not_contact, updated_at) \
         SELECT 'party-' || (10000000 + i), 1, 1, 0, 0 FROM n WHERE i % 20 = 0",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("{numbers} {fill}")))
            .bind(n)
            .execute(&mut *conn)
            .await
            .expect("the base");
    }
    if backend == Backend::Postgres {
        sqlx::query("ANALYZE")
            .execute(&mut *conn)
            .await
            .expect("statistics");
    }
    let mut segment = pb::Segment {
        name: "Everyone".into(),
        conditions: vec![pb::Condition {
            field: "order_count".into(),
            operator: pb::Operator::GreaterOrEqual as i32,
            value: "0".into(),
        }],
        ..Default::default()
    };
    segments::insert(&mut conn, &mut segment, 0)
        .await
        .expect("a segment");
    let usd = |amount_minor| {
        Some(Money {
            amount_minor,
            currency_code: "USD".into(),
        })
    };
    let mut ids = [String::new(), String::new()];
    for id in &mut ids {
        let mut c = pb::Campaign {
            name: "Everyone".into(),
            channel: Channel::Email as i32,
            budget: usd(n * 62),
            cost_per_contact: usd(62),
            net_profit_per_response: usd(35_00),
            segment_id: segment.id.clone(),
            status: CampaignStatus::Draft as i32,
            test_every_n: 1,
            attribution_window_days: 30,
            ..Default::default()
        };
        campaigns::insert(&mut conn, &mut c, 0).await.expect("a campaign");
        *id = c.id;
    }
    (test_db, db, ids)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    let settings = crm_marketing::MarketingSettings::default();
    println!("campaign member selection ({backend:?}, a segment of everyone, 5% opted out)");
    println!(
        "{:>10} {:>8} {:>12} {:>16} {:>14} {:>18} {:>26}",
        "customers",
        "pages",
        "selection s",
        "longest page ms",
        "members/s",
        "one INSERT s",
        "selection / one INSERT"
    );
    for n in crm_testkit::bench::sizes("CRM_BENCH_MEMBERS", &SIZES) {
        let (_keep, db, [paged, whole]) = base(backend, n).await;
        let store = common::store(&db);

        let started = Instant::now();
        let mut tx = store.begin().await.expect("a transaction");
        let cuts = Default::default();
        assert!(
            selections::start(&mut tx, &paged, &cuts, 0, store.now_micros())
                .await
                .expect("a selection")
        );
        store.commit(tx).await.expect("committed");
        let (pages, longest) = common::pages(|| async {
            selecting::next_page(&store, &settings, &paged)
                .await
                .expect("a page")
        })
        .await;
        let selection_time = started.elapsed();
        let mut conn = db.pool().acquire().await.expect("a connection");
        let selection = selections::get(&mut conn, &paged)
            .await
            .expect("the campaign")
            .expect("its selection");
        assert!(selection.finished_at.is_some());
        assert_eq!(selection.selected + selection.suppressed, n, "everyone once");

        // The floor: the same members in one statement and one transaction, as SelectMembers
        // wrote them before (the same scoring: no boundaries, so a buyer scores 1-1-1).
        let started = Instant::now();
        let written = sqlx::query(
            "INSERT INTO campaign_members (campaign_id, party_id, cell, status) \
             SELECT $1, p.party_id, CASE WHEN f.party_id IS NULL THEN '0-0-0' ELSE '1-1-1' END, 'selected' \
             FROM profiles p LEFT JOIN customer_figures f ON f.party_id = p.party_id AND f.currency_code = 'USD' \
             WHERE p.status = 'active' AND COALESCE(f.orders, 0) >= 0 AND NOT EXISTS (SELECT 1 FROM consent c \
             WHERE c.party_id = p.party_id AND c.channel = $2 AND (c.opted_out = 1 OR c.do_not_contact = 1))",
        )
        .bind(&whole)
        .bind(Channel::Email as i64)
        .execute(&mut *conn)
        .await
        .expect("one insert")
        .rows_affected();
        let floor = started.elapsed();
        assert_eq!(written as i64, selection.selected, "the same members");
        println!(
            "{:>10} {:>8} {:>12.2} {:>16.1} {:>14.0} {:>18.3} {:>25.1}x",
            n,
            pages,
            selection_time.as_secs_f64(),
            longest.as_secs_f64() * 1000.0,
            selection.selected as f64 / selection_time.as_secs_f64(),
            floor.as_secs_f64(),
            selection_time.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
