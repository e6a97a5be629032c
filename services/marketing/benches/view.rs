//! What a profile read costs the marketing service on a sizeable base: the whole view loaded
//! for the read (the baseline: how every profile, RFM and prediction read worked before views
//! were kept), against the kept view reused while profiles and purchases are unchanged, and
//! the cost of the first read after a change.
//!
//! `cargo bench -p crm-marketing --bench view` (release build; SQLite).

use std::time::{Duration, Instant};

use crm_marketing::storage::profiles::{self, Purchase};
use crm_marketing::view::{self, Cache};
use crm_proto::customers::v1 as customers;

const CUSTOMERS: usize = 20_000;
const PURCHASES_EACH: usize = 3;
const READS: usize = 200;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let test_db = crm_testkit::TestDb::new(crm_testkit::Backend::Sqlite);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_marketing::Marketing>(&db)
        .await
        .expect("migrating");
    let today = chrono::Utc::now().date_naive();
    let now = chrono::Utc::now().timestamp_micros();
    let mut tx = db.begin().await.expect("a transaction");
    for i in 0..CUSTOMERS {
        let party = customers::Party {
            id: format!("party-{i:06}"),
            kind: customers::PartyKind::Person as i32,
            display_name: format!("Customer {i}"),
            ..Default::default()
        };
        profiles::upsert(&mut tx, &party).await.expect("a profile");
        for j in 0..PURCHASES_EACH {
            let purchase = Purchase {
                order_id: format!("order-{i:06}-{j}"),
                party_id: party.id.clone(),
                placed_at: now - ((i * 7 + j * 31) % 700) as i64 * 86_400_000_000,
                amount_minor: 1_000 + (i as i64 * 37 + j as i64 * 11) % 50_000,
                currency_code: "USD".into(),
                status: "placed".into(),
                product_ids: vec![format!("product-{}", (i + j) % 50)],
            };
            profiles::record_purchases(&mut tx, &[purchase])
                .await
                .expect("a purchase");
        }
    }
    tx.commit().await.expect("committing the base");

    let mut conn = db.pool().acquire().await.expect("a connection");
    let mut loaded = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let v = view::load(&mut conn, today, "USD").await.expect("the view");
        loaded.push(started.elapsed());
        assert_eq!(v.profiles.len(), CUSTOMERS);
    }
    let cache = Cache::default();
    cache.get(&mut conn, today, "USD").await.expect("the first read");
    let mut reused = Vec::new();
    for _ in 0..READS {
        let started = Instant::now();
        let v = cache.get(&mut conn, today, "USD").await.expect("a kept view");
        reused.push(started.elapsed());
        assert!(v.scores.contains_key("party-000042"));
    }
    // A purchase arrives: the next read computes the view again, once.
    let mut tx = db.begin().await.expect("a transaction");
    profiles::record_purchases(
        &mut tx,
        &[Purchase {
            order_id: "order-new".into(),
            party_id: "party-000042".into(),
            placed_at: now,
            amount_minor: 9_999,
            currency_code: "USD".into(),
            status: "placed".into(),
            product_ids: Vec::new(),
        }],
    )
    .await
    .expect("a new purchase");
    tx.commit().await.expect("committing");
    let started = Instant::now();
    let v = cache
        .get(&mut conn, today, "USD")
        .await
        .expect("the changed view");
    let after_change = started.elapsed();
    assert_eq!(v.purchases["party-000042"].len(), PURCHASES_EACH + 1);

    println!(
        "marketing view benchmark (SQLite, {CUSTOMERS} customers, {} purchases)",
        CUSTOMERS * PURCHASES_EACH
    );
    println!(
        "{:<52} {:>10.3} ms (median of 10)",
        "whole view loaded per read (baseline)",
        ms(median(loaded.clone()))
    );
    println!(
        "{:<52} {:>10.3} ms (median of {READS})",
        "kept view reused (data unchanged)",
        ms(median(reused.clone()))
    );
    println!(
        "{:<52} {:>10.3} ms",
        "first read after a purchase arrived",
        ms(after_change)
    );
    println!(
        "{:<52} {:>10.0}x",
        "reuse speed-up",
        ms(median(loaded)) / ms(median(reused))
    );
}
