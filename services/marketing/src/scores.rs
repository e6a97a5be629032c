//! RFM scores without ranking the base on every read: the quintile boundaries are stored and
//! recomputed by a job when the profiles or purchases under them changed, and a customer is
//! scored by comparing their own figures with them. Between two runs of the job the boundaries
//! may lag the newest purchases by up to its interval; each customer's own figures never do.

use crm_platform::Store;
use crm_platform::bulk::BulkActivity;
use tokio::sync::Mutex;

use crate::domain::rfm::Cuts;
use crate::storage::{figures, profiles, rfm};

/// The job: recomputes the boundaries of `currency` (see [`refresh_cuts`]) unless imported
/// orders are streaming in. Each recomputation ranks the whole base, and during a load the next
/// minute changes them again: they wait for the import to go quiet (see [`BulkActivity`]).
pub async fn refresh_cuts_between_imports(
    store: &Store,
    currency: &str,
    imports: &BulkActivity,
) -> anyhow::Result<bool> {
    if imports.should_wait(false) {
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
