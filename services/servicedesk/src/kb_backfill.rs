//! Indexes the knowledge-base articles stored before search read postings: a worker that runs at
//! start, a batch per transaction, until none is left, then waits for the service to stop.
//! Until it is done, a search does not find the articles it has not reached.

use crm_platform::Store;
use tokio_util::sync::CancellationToken;

use crate::storage::kb;

/// Articles indexed per transaction.
const BATCH: i64 = 50;

/// Indexes every article not yet indexed, stopping early when `stop` is cancelled. Returns how
/// many it indexed.
pub async fn run_once(store: &Store, stop: &CancellationToken) -> anyhow::Result<u64> {
    let mut indexed = 0;
    while !stop.is_cancelled() {
        let mut tx = store.begin().await?;
        let batch = kb::unindexed(&mut tx, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for article in &batch {
            kb::index_terms(&mut tx, article).await?;
        }
        store.commit(tx).await?;
        indexed += batch.len() as u64;
    }
    if indexed > 0 {
        tracing::info!(indexed, "knowledge-base articles indexed for search");
    }
    Ok(indexed)
}

/// The worker: [`run_once`], then idle until the service stops.
pub async fn worker(store: Store, stop: CancellationToken) -> anyhow::Result<()> {
    run_once(&store, &stop).await?;
    stop.cancelled().await;
    Ok(())
}
