//! RFM scores without ranking the base on every read: the quintile boundaries are stored and
//! recomputed by a job when the profiles or purchases under them changed, and a customer is
//! scored by comparing their own figures with them. Between two runs of the job the boundaries
//! may lag the newest purchases by up to its interval (or, on a base where ranking takes seconds,
//! ten times as long as ranking took); each customer's own figures never do.

use std::time::Instant;

use crm_platform::Store;
use crm_platform::bulk::BulkActivity;
use tokio::sync::Mutex;

use crate::domain::rfm::Cuts;
use crate::storage::{figures, profiles, rfm};

/// The job: recomputes the boundaries of `currency` (see [`refresh_cuts`]) unless imported
/// orders are streaming in, or the last recomputation was recent for its cost. Each
/// recomputation ranks the whole base, and during a load the next minute changes them again:
/// they wait for the import to go quiet (see [`BulkActivity`]).
pub async fn refresh_cuts_between_imports(
    store: &Store,
    currency: &str,
    imports: &BulkActivity,
    pace: &Pace,
) -> anyhow::Result<bool> {
    if imports.should_wait(false) || !pace.due(Instant::now()) {
        return Ok(false);
    }
    let started = Instant::now();
    let refreshed = refresh_cuts(store, currency).await?;
    if refreshed {
        pace.ran(started, Instant::now());
    }
    Ok(refreshed)
}

/// Keeps the boundary job to about a tenth of the time, and of the database's work, on a base
/// where ranking takes seconds: after a recomputation, the next waits ten times as long as it
/// took (and at least the job's interval, which ticks it).
#[derive(Debug, Default)]
pub struct Pace {
    not_before: std::sync::Mutex<Option<Instant>>,
}

/// The time after a recomputation's start before the next, as a multiple of how long it took.
const PACE: u32 = 10;

impl Pace {
    /// Whether a recomputation may start at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.not_before
            .lock()
            .map(|at| at.is_none_or(|at| now >= at))
            .unwrap_or(true)
    }

    /// A recomputation ran from `started` to `finished`.
    pub fn ran(&self, started: Instant, finished: Instant) {
        if let Ok(mut at) = self.not_before.lock() {
            *at = Some(started + finished.saturating_duration_since(started) * PACE);
        }
    }
}

/// Recomputes the boundaries of `currency` when the view changed since they were computed.
/// Returns whether it did.
pub async fn refresh_cuts(store: &Store, currency: &str) -> anyhow::Result<bool> {
    // Read outside the write transaction: on SQLite a write transaction holds the one writer
    // lock, and consumers should not wait for the ordered passes.
    let mut conn = store.conn().await?;
    let version = profiles::view_version(&mut conn).await?;
    if let Some((at, _)) = figures::cuts(&mut conn, currency).await?
        && at == version
    {
        return Ok(false);
    }
    let (cuts, customers) = rfm::boundaries(&mut conn, currency, None).await?;
    drop(conn);
    let mut tx = store.begin().await?;
    figures::save_cuts(&mut tx, currency, version, &cuts, customers).await?;
    store.commit(tx).await?;
    Ok(true)
}

/// The stored boundaries of `currency`; computed now (once, however many ask at once) when
/// none were stored yet.
pub async fn cuts(store: &Store, first: &Mutex<()>, currency: &str) -> anyhow::Result<Cuts> {
    let mut conn = store.conn().await?;
    if let Some((_, cuts)) = figures::cuts(&mut conn, currency).await? {
        return Ok(cuts);
    }
    drop(conn);
    let _only_one = first.lock().await;
    let mut conn = store.conn().await?;
    if let Some((_, cuts)) = figures::cuts(&mut conn, currency).await? {
        return Ok(cuts);
    }
    drop(conn);
    refresh_cuts(store, currency).await?;
    let mut conn = store.conn().await?;
    Ok(figures::cuts(&mut conn, currency)
        .await?
        .map(|(_, c)| c)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_recomputation_waits_ten_times_as_long_as_the_last_took() {
        let pace = Pace::default();
        let start = Instant::now();
        assert!(pace.due(start), "the first runs at once");
        pace.ran(start, start + Duration::from_secs(4));
        assert!(!pace.due(start + Duration::from_secs(39)));
        assert!(pace.due(start + Duration::from_secs(40)));
    }
}
