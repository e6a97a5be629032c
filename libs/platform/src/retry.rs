//! Retrying calls to other services without multiplying the load on them in an outage.
//!
//! A call that no instance answered (`UNAVAILABLE`: the connection was refused or lost, or the
//! instance was shutting down) is tried again after a short pause, which the balanced channel
//! sends to another instance, if the caller's deadline leaves time for it and the budget of the
//! upstream allows. The budget lets retries add a tenth to the calls made, and a few a second
//! besides so that a service making few calls can still retry one. When a whole upstream is
//! down its callers fail fast instead of calling it three times as often as it comes back.
//! Only calls that are safe to make twice go through [`call`]: reads, and writes with an
//! idempotency key.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};

/// Retries of one call at most.
const MAX_RETRIES: u32 = 2;

/// The pause before the first retry; doubled before the second.
const FIRST_PAUSE: Duration = Duration::from_millis(25);

/// A token bucket of retries for calls to one upstream service.
#[derive(Debug)]
pub struct RetryBudget {
    upstream: &'static str,
    /// Tokens each call adds: the share of calls that may be retried.
    ratio: f64,
    /// Tokens added per second whatever the traffic.
    reserve_per_second: f64,
    /// The most tokens kept: what a burst of failures may spend at once.
    cap: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RetryBudget {
    /// The budget of calls to `upstream` (its name in metrics and logs): retries up to a tenth
    /// of the calls, plus 10 a second, at most 20 at once.
    pub fn new(upstream: &'static str) -> Self {
        Self::with_limits(upstream, 0.1, 10.0, 20.0)
    }

    /// A budget with its own limits.
    pub fn with_limits(upstream: &'static str, ratio: f64, reserve_per_second: f64, cap: f64) -> Self {
        Self {
            upstream,
            ratio,
            reserve_per_second,
            cap,
            bucket: Mutex::new(Bucket {
                tokens: cap,
                refilled: Instant::now(),
            }),
        }
    }

    fn update(&self, change: impl FnOnce(&mut f64) -> bool) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.reserve_per_second).min(self.cap);
        bucket.refilled = now;
        change(&mut bucket.tokens)
    }

    /// Counts a call made (not a retry).
    fn deposit(&self) {
        self.update(|tokens| {
            *tokens = (*tokens + self.ratio).min(self.cap);
            true
        });
    }

    /// Takes the token a retry costs; false when none is left.
    fn withdraw(&self) -> bool {
        self.update(|tokens| {
            let allowed = *tokens >= 1.0;
            if allowed {
                *tokens -= 1.0;
            }
            allowed
        })
    }
}

/// Makes a call (each `attempt` builds and sends a fresh request) and retries it while it fails
/// with `UNAVAILABLE`, at most twice, when the budget allows and the caller's deadline leaves
/// time for it. Any other failure is returned at once.
pub async fn call<T, F, Fut>(budget: &RetryBudget, mut attempt: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    budget.deposit();
    let mut pause = FIRST_PAUSE;
    let mut retries = 0;
    loop {
        let status = match attempt().await {
            Err(status) if status.code() == Code::Unavailable && retries < MAX_RETRIES => status,
            outcome => return outcome,
        };
        // A retry that could not finish before the caller's deadline only adds load.
        let in_time = crate::deadline::remaining().is_none_or(|left| left > pause * 4);
        if !in_time || !budget.withdraw() {
            record(budget.upstream, "refused");
            tracing::debug!(
                upstream = budget.upstream,
                message = status.message(),
                "not retried"
            );
            return Err(status);
        }
        record(budget.upstream, "retried");
        tokio::time::sleep(jittered(pause)).await;
        pause *= 2;
        retries += 1;
    }
}

/// `pause` give or take a half, so that callers failed by the same outage do not retry in step.
fn jittered(pause: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    pause / 2 + pause.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

/// Counts a retry made or refused in `crm.client.retries`.
fn record(upstream: &'static str, outcome: &'static str) {
    use opentelemetry::KeyValue;
    static RETRIES: std::sync::OnceLock<opentelemetry::metrics::Counter<u64>> = std::sync::OnceLock::new();
    RETRIES
        .get_or_init(|| {
            opentelemetry::global::meter("crm.client")
                .u64_counter("crm.client.retries")
                .with_description(
                    "Calls to other services retried, or not retried for want of budget or time",
                )
                .build()
        })
        .add(
            1,
            &[
                KeyValue::new("crm.upstream", upstream),
                KeyValue::new("outcome", outcome),
            ],
        );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn failing(budget: &RetryBudget, code: Code, attempts: &AtomicU32) -> Result<(), Status> {
        call(budget, || async {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Status::new(code, "down"))
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_upstream_is_tried_again_twice() {
        let budget = RetryBudget::new("test");
        let attempts = AtomicU32::new(0);
        let err = failing(&budget, Code::Unavailable, &attempts).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_answered_is_not_tried_again() {
        let budget = RetryBudget::new("test");
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::DeadlineExceeded,
            Code::Internal,
        ] {
            let attempts = AtomicU32::new(0);
            failing(&budget, code, &attempts).await.unwrap_err();
            assert_eq!(attempts.load(Ordering::SeqCst), 1, "{code:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_that_succeeds_returns_the_answer() {
        let budget = RetryBudget::new("test");
        let attempts = AtomicU32::new(0);
        let answer = call(&budget, || async {
            match attempts.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Status::unavailable("restarting")),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 7);
    }

    /// While the upstream is down, retries stay within the budget: the tokens kept at start, a
    /// tenth of the calls, and the reserve for the time that passed (the test clock moves only by
    /// the pauses between tries). Unbudgeted, each call would be tried three times.
    #[tokio::test(start_paused = true)]
    async fn retries_stop_when_the_budget_is_spent() {
        let budget = RetryBudget::with_limits("test", 0.1, 10.0, 20.0);
        let attempts = AtomicU32::new(0);
        let calls = 1_000;
        let before = Instant::now();
        for _ in 0..calls {
            failing(&budget, Code::Unavailable, &attempts).await.unwrap_err();
        }
        let retries = attempts.load(Ordering::SeqCst) - calls;
        let elapsed = before.elapsed().as_secs_f64();
        let allowed = 20.0 + 0.1 * f64::from(calls) + 10.0 * elapsed;
        assert!(
            f64::from(retries) <= allowed + 1.0,
            "{retries} retries for {calls} calls over {elapsed} s; the budget allows {allowed}"
        );
        assert!(retries < calls, "the budget bounded them: {retries}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_past_the_callers_deadline() {
        let budget = RetryBudget::new("test");
        let attempts = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_millis(50);
        crate::deadline::within(deadline, failing(&budget, Code::Unavailable, &attempts))
            .await
            .unwrap_err();
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            1,
            "25 ms pauses do not fit in 50 ms four times over"
        );
    }
}
