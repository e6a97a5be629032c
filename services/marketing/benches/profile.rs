//! What scoring one customer costs as the base grows: a profile read (the customer's own figures
//! and the stored RFM boundaries) at 10,000 and 100,000 customers, against the baseline of
//! ranking the whole base in one SQL statement (what every profile read amounted to when the
//! marketing view was built for it), measured in the same run; what recomputing the
//! boundaries (the job) costs; and a later page of a past day's scores, against that day's
//! boundaries and, as its baseline, by ranking the base for the page.
//!
//! `cargo bench -p crm-marketing --bench profile` (release build; SQLite).

use std::time::{Duration, Instant};

use crm_marketing::domain::rfm::Cuts;
use crm_marketing::storage::figures;
use crm_marketing::storage::profiles::{self, Purchase};
use crm_marketing::storage::rfm::{self, Scoring};
use crm_proto::customers::v1 as customers;

const SIZES: [usize; 2] = [10_000, 100_000];
const PURCHASES_EACH: usize = 3;
const READS: usize = 2_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// Loads `n` customers with their purchases and figures.
async fn base(n: usize) -> (crm_testkit::TestDb, crm_storage::Db) {
    let test_db = crm_testkit::TestDb::new(crm_testkit::Backend::Sqlite);
    let db = test_db.connect().await;
    crm_platform::kernel::migrate::<crm_marketing::Marketing>(&db)
        .await
        .expect("migrating");
    let now = chrono::Utc::now().timestamp_micros();
    for start in (0..n).step_by(1_000) {
        let ids: Vec<usize> = (start..(start + 1_000).min(n)).collect();
        let parties: Vec<customers::Party> = ids
            .iter()
            .map(|i| customers::Party {
                id: format!("party-{i:07}"),
                kind: customers::PartyKind::Person as i32,
                display_name: format!("Customer {i}"),
                ..Default::default()
            })
            .collect();
        let purchases: Vec<Purchase> = ids
            .iter()
            .flat_map(|&i| {
                (0..PURCHASES_EACH).map(move |j| Purchase {
                    order_id: format!("order-{i:07}-{j}"),
                    party_id: format!("party-{i:07}"),
                    placed_at: now - ((i * 7 + j * 31) % 700) as i64 * 86_400_000_000,
                    amount_minor: 1_000 + (i as i64 * 37 + j as i64 * 11) % 50_000,
                    currency_code: "USD".into(),
                    status: "placed".into(),
                    product_ids: vec![format!("product-{}", (i + j) % 50)],
                })
            })
            .collect();
        let mut tx = db.begin().await.expect("a transaction");
        profiles::upsert_many(&mut tx, &parties).await.expect("profiles");
        profiles::record_purchases(&mut tx, &purchases)
            .await
            .expect("purchases");
        let ids: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
        figures::refresh(&mut tx, &ids).await.expect("figures");
        tx.commit().await.expect("committing");
    }
    (test_db, db)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("marketing profile scoring (SQLite, {PURCHASES_EACH} purchases per customer)");
    println!(
        "{:>10} {:>14} {:>14} {:>22} {:>20} {:>22} {:>20} {:>22}",
        "customers",
        "read p50 ms",
        "read p99 ms",
        "rank whole base ms",
        "boundaries job ms",
        "past boundaries ms",
        "past page ms",
        "past page ranked ms"
    );
    for n in SIZES {
        let (_test_db, db) = base(n).await;
        let mut conn = db.pool().acquire().await.expect("a connection");
        let started = Instant::now();
        let (cuts, scored) = rfm::boundaries(&mut conn, "USD", None).await.expect("boundaries");
        let job = started.elapsed();
        assert_eq!(scored, n as i64);
        let mut reads = Vec::with_capacity(READS);
        for k in 0..READS {
            let id = format!("party-{:07}", (k * 7_919) % n);
            let started = Instant::now();
            let stored: Cuts = figures::cuts(&mut conn, "USD")
                .await
                .expect("stored boundaries")
                .map(|(_, c)| c)
                .unwrap_or_else(|| cuts.clone());
            let f = figures::of(&mut conn, &id, "USD")
                .await
                .expect("figures")
                .expect("a customer");
            let profile = profiles::get(&mut conn, &id).await.expect("a profile");
            let s = stored.score(&id, f.last_day, f.orders, f.total_minor);
            reads.push(started.elapsed());
            assert!(profile.is_some() && (1..=5).contains(&s.r));
        }
        let end = chrono::Utc::now().timestamp_micros() + 86_400_000_000;
        let started = Instant::now();
        let cells = rfm::cells(&mut conn, "USD", Scoring::Before(end))
            .await
            .expect("ranked");
        let ranked = started.elapsed();
        assert_eq!(
            cells.iter().map(|(_, customers, _)| customers).sum::<i64>(),
            n as i64
        );
        // A later page of a past day's scores: ranking the base for it, against comparing the
        // page's customers with that day's boundaries (computed once, for the first page).
        let started = Instant::now();
        let (past, _) = rfm::boundaries(&mut conn, "USD", Some(end))
            .await
            .expect("past boundaries");
        let past_boundaries = started.elapsed();
        let after = format!("party-{:07}", n / 2);
        let started = Instant::now();
        let by_rank = rfm::page(
            &mut conn,
            "USD",
            Scoring::Before(end),
            None,
            &after,
            100,
            rfm::CELL_PAGE_LOOKS_AT,
        )
        .await
        .expect("a ranked page");
        let page_ranked = started.elapsed();
        let started = Instant::now();
        let against = rfm::page(
            &mut conn,
            "USD",
            Scoring::BeforeAgainst(end, &past),
            None,
            &after,
            100,
            rfm::CELL_PAGE_LOOKS_AT,
        )
        .await
        .expect("a page against the boundaries");
        let page_against = started.elapsed();
        assert_eq!(by_rank, against, "both give the same scores");
        println!(
            "{:>10} {:>14.3} {:>14.3} {:>22.1} {:>20.1} {:>22.1} {:>20.2} {:>22.1}",
            n,
            ms(percentile(&mut reads, 0.5)),
            ms(percentile(&mut reads, 0.99)),
            ms(ranked),
            ms(job),
            ms(past_boundaries),
            ms(page_against),
            ms(page_ranked)
        );
    }
}
