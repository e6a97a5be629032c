//! The exception job: this year's exception cells in every target currency, evaluated on a
//! timer so that a cell is announced when it falls under its target even if nobody looks
//! (`ListExceptions` evaluates them on demand).

use crm_calendar::{Period, PeriodKind};
use crm_platform::Store;

use crate::api::performance::{Scan, exceptions};
use crate::storage::partners::Reach;
use crate::storage::performance::Order;
use crate::storage::targets;

/// Cells read and announced per statement.
const PAGE: i64 = 500;

/// Evaluates this year's exceptions under `threshold` (basis points) in every currency a target
/// is set in, announcing the cells that fell under since the last run.
pub async fn run_once(store: &Store, threshold: i32) -> anyhow::Result<()> {
    let now = store.now_micros();
    let year = Period::containing(PeriodKind::Year, crm_platform::time::naive_utc(now).date());
    let mut tx = store.begin().await?;
    let currencies = targets::currencies(&mut tx).await?;
    for currency in currencies {
        let scan = Scan {
            reach: Reach::All,
            period: &year,
            threshold,
            currency: &currency,
        };
        let mut after: Option<String> = None;
        loop {
            let page = exceptions(&mut tx, &scan, now, Order::ByKey(after.as_deref()), PAGE).await?;
            after = page.last().map(|row| row.key.clone());
            if page.len() < PAGE as usize {
                break;
            }
        }
    }
    store.commit(tx).await?;
    Ok(())
}
