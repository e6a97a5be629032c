//! Static lists that a server of the earlier release stored during an upgrade come without their
//! member rows (`segment_members`): a job writes them, a list per transaction, so that profiles
//! and audiences find those lists too.

use crm_platform::Store;

use crate::storage::segments;

/// Fills every list stored without member rows. Returns how many it filled.
pub async fn run_once(store: &Store) -> anyhow::Result<usize> {
    let unfilled = segments::unfilled_lists(&mut *store.db().pool().acquire().await?).await?;
    for id in &unfilled {
        let mut tx = store.begin().await?;
        segments::fill_members(&mut tx, id).await?;
        store.commit(tx).await?;
    }
    if !unfilled.is_empty() {
        tracing::info!(lists = unfilled.len(), "static lists given their member rows");
    }
    Ok(unfilled.len())
}
