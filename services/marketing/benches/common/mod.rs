//! What the marketing benches of background work share: a store over a bench's database, and
//! timing work done a page per transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
