//! What the marketing benches of background work share: the sizes and backend asked for, a
//! store over a bench's database, and timing work done a page per transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_testkit::Backend;

/// The sizes `CRM_BENCH_MEMBERS` names (comma-separated), or `default`.
pub fn sizes(default: &[i64]) -> Vec<i64> {
    std::env::var("CRM_BENCH_MEMBERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// The backend `CRM_BENCH_BACKEND` names: PostgreSQL for `postgres`, SQLite otherwise.
pub fn backend() -> Backend {
    match std::env::var("CRM_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A store over `db` with the system's clock, as the service builds it.
pub fn store(db: &crm_storage::Db) -> crm_platform::Store {
    crm_platform::Store::new(
        db.clone(),
        Arc::default(),
        Arc::new(crm_platform::clock::SystemClock),
    )
}

/// Goes through pages with `next_page` (true while more are left) to the end: how many, and
/// the longest.
pub async fn pages<F, Fut>(mut next_page: F) -> (usize, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let (mut pages, mut longest) = (0, Duration::ZERO);
    loop {
        let page = Instant::now();
        let more = next_page().await;
        longest = longest.max(page.elapsed());
        pages += 1;
        if !more {
            return (pages, longest);
        }
    }
}
