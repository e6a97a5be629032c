//! The exception job: this year's exception cells in every target currency, evaluated on a
//! timer so that a cell is announced when it falls under its target even if nobody looks
//! (`ListExceptions` evaluates them on demand).

use crm_calendar::{Period, PeriodKind};
use crm_platform::Store;

use crate::api::performance::exceptions;
use crate::storage::targets;

/// Evaluates this year's exceptions under `threshold` (basis points) in every currency a target
/// is set in, announcing the cells that fell under since the last run.
pub async fn run_once(store: &Store, threshold: i32) -> anyhow::Result<()> {
    let now = store.now_micros();
    let year = Period::containing(PeriodKind::Year, crm_platform::time::naive_utc(now).date());
    let mut tx = store.begin().await?;
    let currencies = targets::currencies(&mut tx).await?;
    for currency in currencies {
        exceptions(&mut tx, &year, now, threshold, &currency, None).await?;
    }
    store.commit(tx).await?;
    Ok(())
}
