//! Background work that gives way to bulk loads. A job whose run would be undone or slowed by
//! an import still streaming in (a duplicate scan, a re-ranking of the whole base) waits until
//! the import has been quiet for [`BulkActivity::QUIET`], and at most [`BulkActivity::MAX_WAIT`]
//! for one that does not stop. Elapsed time, not business time: wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// When this process last saw bulk writes, and since when a job has been waiting for them.
#[derive(Debug, Default)]
pub struct BulkActivity {
    /// µs since the epoch of the last bulk write (0: none).
    last: AtomicI64,
    /// µs since the epoch since which the job has been waiting (0: not waiting).
    waiting_since: AtomicI64,
}

impl BulkActivity {
    /// How long after the last bulk write the job waits.
    pub const QUIET: Duration = Duration::from_secs(3);
    /// The longest the job waits for bulk writes that keep going; past it, it runs.
    pub const MAX_WAIT: Duration = Duration::from_secs(600);

    /// Notes a bulk write now.
    pub fn touch(&self) {
        self.last.store(crate::time::now_micros(), Ordering::Relaxed);
    }

    /// Whether the job should wait; `also_busy` when work a load left behind is still under way.
    pub fn should_wait(&self, also_busy: bool) -> bool {
        let now = crate::time::now_micros();
        let busy = also_busy || now - self.last.load(Ordering::Relaxed) < micros(Self::QUIET);
        if !busy {
            self.waiting_since.store(0, Ordering::Relaxed);
            return false;
        }
        let since = match self.waiting_since.load(Ordering::Relaxed) {
            0 => {
                self.waiting_since.store(now, Ordering::Relaxed);
                now
            }
            since => since,
        };
        now - since < micros(Self::MAX_WAIT)
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_waits_while_bulk_writes_stream_in_but_not_for_ever() {
        let now = crate::time::now_micros();
        let bulk = BulkActivity::default();
        assert!(!bulk.should_wait(false), "no bulk write");
        assert!(bulk.should_wait(true), "work left behind");
        bulk.touch();
        assert!(bulk.should_wait(false), "written just now");
        // Waited past MAX_WAIT: the job runs while the writes go on.
        bulk.waiting_since
            .store(now - micros(BulkActivity::MAX_WAIT) - 1, Ordering::Relaxed);
        assert!(!bulk.should_wait(false));
        assert!(!bulk.should_wait(false));
        // Quiet for QUIET: the job runs, and the next load is waited for afresh.
        bulk.last
            .store(now - micros(BulkActivity::QUIET) - 1, Ordering::Relaxed);
        assert!(!bulk.should_wait(false));
        bulk.touch();
        assert!(bulk.should_wait(false));
    }
}
