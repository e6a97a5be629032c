//! RFM scores without ranking the base on every read: the quintile boundaries are stored and
//! recomputed by a job when the profiles or purchases under them changed, and a customer is
//! scored by comparing their own figures with them. Between two runs of the job the boundaries
//! may lag the newest purchases by up to its interval; each customer's own figures never do.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crm_platform::Store;
use tokio::sync::Mutex;

use crate::domain::rfm::Cuts;
use crate::storage::{figures, profiles};

/// Imported orders going by. Each recomputation of the boundaries ranks the whole base, and
/// while an import streams in the next minute changes them again: the job waits until the
/// import has gone quiet for [`ImportActivity::QUIET`], or for at most [`ImportActivity::MAX_HOLD`].
#[derive(Debug, Default)]
pub struct ImportActivity {
    /// When imported orders last arrived (µs since the epoch; 0 never).
    last: AtomicI64,
    /// Since when the job has been holding the boundaries back (0 when it is not).
    held_since: AtomicI64,
}

impl ImportActivity {
    /// How long an import must have been quiet for the boundaries to be recomputed.
    pub const QUIET: Duration = Duration::from_secs(3);
    /// The longest the boundaries wait for an import that does not go quiet.
    pub const MAX_HOLD: Duration = Duration::from_secs(600);

    /// Notes that imported orders arrived now.
    pub fn touch(&self) {
        self.last
            .store(crm_platform::time::now_micros(), Ordering::Relaxed);
    }

    /// Whether the job should wait this time (imports streaming, not yet held too long).
    fn hold(&self) -> bool {
        let now = crm_platform::time::now_micros();
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        if now.saturating_sub(self.last.load(Ordering::Relaxed)) >= micros(Self::QUIET) {
            self.held_since.store(0, Ordering::Relaxed);
            return false;
        }
        let since = match self.held_since.load(Ordering::Relaxed) {
            0 => {
                self.held_since.store(now, Ordering::Relaxed);
                now
            }
            since => since,
        };
        if now.saturating_sub(since) >= micros(Self::MAX_HOLD) {
            self.held_since.store(0, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// The job: recomputes the boundaries of `currency` (see [`refresh_cuts`]) unless an import is
/// streaming in (see [`ImportActivity`]).
pub async fn refresh_cuts_between_imports(
    store: &Store,
    currency: &str,
    imports: &ImportActivity,
) -> anyhow::Result<bool> {
    if imports.hold() {
        return Ok(false);
    }
    refresh_cuts(store, currency).await
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
    let (cuts, customers) = figures::compute_cuts(&mut conn, currency).await?;
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
    use super::*;

    #[test]
    fn the_boundaries_wait_while_an_import_streams_but_not_for_ever() {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap();
        let now = crm_platform::time::now_micros();
        let imports = ImportActivity::default();
        assert!(!imports.hold(), "no import");
        imports.touch();
        assert!(imports.hold(), "orders just arrived");
        // Held past MAX_HOLD: recomputed once, then held again while the import goes on.
        imports
            .held_since
            .store(now - micros(ImportActivity::MAX_HOLD) - 1, Ordering::Relaxed);
        assert!(!imports.hold());
        assert!(imports.hold());
        // Quiet for QUIET: recomputed.
        imports
            .last
            .store(now - micros(ImportActivity::QUIET) - 1, Ordering::Relaxed);
        assert!(!imports.hold());
    }
}
