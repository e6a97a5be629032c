//! What contacting a campaign's members costs now that it runs a page of 1,000 members per
//! transaction: StartTest's own transaction (counting the test group against the budget,
//! recording the run), then the run to its end (picking the test group as it goes) with each contact written and announced,
//! at 10,000 and 100,000 members; against the floor of one hand-written UPDATE that marks the same
//! members contacted (no consent, no contact cap, no events, no pages), measured in the same run.
//! The longest page is the longest any transaction of the run holds the campaign's rows.
//!
//! `cargo bench -p crm-marketing --bench contact_run` (release build; SQLite, or PostgreSQL with
//! `CRM_BENCH_BACKEND=postgres` and `CRM_TEST_POSTGRES_URL`; other sizes with
//! `CRM_BENCH_MEMBERS`, e.g. `1000000`).

use std::time::{Duration, Instant};

use crm_marketing::contacting;
use crm_marketing::storage::campaigns;
use crm_proto::common::v1::Money;
use crm_proto::marketing::v1::{self as pb, CampaignStatus, Channel, ContactPhase};
use crm_testkit::Backend;

mod common;

/// The campaign sizes measured unless `CRM_BENCH_MEMBERS` names others (comma-separated).
const SIZES: [i64; 2] = [10_000, 100_000];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A draft campaign of `n` selected members in five cells, testing all of them.
async fn base(backend: Backend, n: i64) -> (crm_testkit::TestDb, crm_storage::Db, String) {
    let test_db = crm_testkit::TestDb::new(backend);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_marketing::Marketing>(&db)
        .await
        .expect("migrating");
    let usd = |amount_minor| {
        Some(Money {
            amount_minor,
            currency_code: "USD".into(),
        })
    };
    let mut c = pb::Campaign {
        name: "Everyone".into(),
        channel: Channel::Email as i32,
        budget: usd(n * 62),
        cost_per_contact: usd(62),
        net_profit_per_response: usd(35_00),
        segment_id: "everyone".into(),
        status: CampaignStatus::Draft as i32,
        test_every_n: 1,
        attribution_window_days: 30,
        ..Default::default()
    };
    let mut conn = db.pool().acquire().await.expect("a connection");
    campaigns::insert(&mut conn, &mut c, 0).await.expect("a campaign");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO campaign_members (campaign_id, party_id, cell, status) \
         SELECT $2, 'party-' || (10000000 + i), CAST(1 + i % 5 AS TEXT) || '-3-3', 'selected' FROM n",
    )
    .bind(n)
    .bind(&c.id)
    .execute(&mut *conn)
    .await
    .expect("members");
    drop(conn);
    (test_db, db, c.id)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = crm_testkit::bench::backend();
    let settings = crm_marketing::MarketingSettings::default();
    println!(
        "campaign contact run ({backend:?}, test 1 in 1, contact cap {})",
        settings.contact_cap
    );
    println!(
        "{:>10} {:>14} {:>8} {:>10} {:>14} {:>14} {:>16} {:>22}",
        "members",
        "StartTest ms",
        "pages",
        "run s",
        "members/s",
        "longest page ms",
        "one UPDATE s",
        "run / one UPDATE (time)"
    );
    for n in crm_testkit::bench::sizes("CRM_BENCH_MEMBERS", &SIZES) {
        let (_keep, db, id) = base(backend, n).await;
        let store = common::store(&db);

        // What StartTest does before it answers (with no wait).
        let started = Instant::now();
        let mut tx = store.begin().await.expect("a transaction");
        let (_, to_contact) = campaigns::test_plan(&mut tx, &id, 1)
            .await
            .expect("the test group's size");
        campaigns::start_run(
            &mut tx,
            &id,
            ContactPhase::Test,
            &[],
            to_contact,
            store.now_micros(),
        )
        .await
        .expect("a run");
        let moved = campaigns::transition(
            &mut tx,
            &id,
            CampaignStatus::Draft as i32,
            CampaignStatus::Testing as i32,
        )
        .await
        .expect("testing");
        assert!(moved);
        store.commit(tx).await.expect("committed");
        let start_test = started.elapsed();

        let started = Instant::now();
        let (pages, longest) = common::pages(|| async {
            contacting::next_page(&store, &settings, &id)
                .await
                .expect("a page")
        })
        .await;
        let run_time = started.elapsed();
        let mut conn = db.pool().acquire().await.expect("a connection");
        let run = campaigns::get_with_run(&mut conn, &id)
            .await
            .expect("the campaign")
            .and_then(|(_, run)| run)
            .expect("the run");
        assert_eq!(run.counts.contacted, n, "every member once");
        assert!(run.finished_at.is_some());

        // The floor: the same members marked contacted in one statement.
        sqlx::query("UPDATE campaign_members SET status = 'selected', contacted_at = NULL, test_group = 0")
            .execute(&mut *conn)
            .await
            .expect("reset");
        let started = Instant::now();
        let marked = sqlx::query(
            "UPDATE campaign_members SET status = 'contacted', contacted_at = $1, test_group = 1 \
             WHERE campaign_id = $2 AND status = 'selected'",
        )
        .bind(store.now_micros())
        .bind(&id)
        .execute(&mut *conn)
        .await
        .expect("one update")
        .rows_affected();
        let floor = started.elapsed();
        assert_eq!(marked as i64, n);
        println!(
            "{:>10} {:>14.1} {:>8} {:>10.2} {:>14.0} {:>14.1} {:>16.3} {:>21.1}x",
            n,
            ms(start_test),
            pages,
            run_time.as_secs_f64(),
            n as f64 / run_time.as_secs_f64(),
            ms(longest),
            floor.as_secs_f64(),
            run_time.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
