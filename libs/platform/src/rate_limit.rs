//! Per-principal rate limiting: a token bucket for each caller, refused calls answered with
//! `RESOURCE_EXHAUSTED` and a hint of when to retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crm_auth::Principal;
use tonic_types::{ErrorDetails, StatusExt as _};

/// How many calls a caller may make.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained calls per second.
    pub per_second: f64,
    /// Calls that may arrive at once after a quiet spell.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every caller seen recently. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

/// Buckets beyond this many trigger a sweep of the full (idle) ones, so that a stream of
/// one-off callers cannot grow the table without bound.
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    /// A limiter allowing `limit` to each caller.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Arc::default(),
        }
    }

    /// Takes one call from `key`'s bucket, or says how long until one is available.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let refill = now.saturating_duration_since(bucket.updated).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

impl<S> tower::Layer<S> for RateLimiter {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            limiter: self.clone(),
        }
    }
}

/// The service produced by [`RateLimiter`]: runs after authentication, so the bucket is the
/// principal's; calls without one (health checks) share a bucket per peer address.
#[derive(Debug, Clone)]
pub struct RateLimited<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for RateLimited<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<S::Future, std::future::Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let key = caller_key(&request);
        match self.limiter.take(&key, Instant::now()) {
            Ok(()) => futures::future::Either::Left(self.inner.call(request)),
            Err(wait) => {
                tracing::info!(caller = %key, retry_after_ms = wait.as_millis() as u64, "rate limited");
                futures::future::Either::Right(std::future::ready(Ok(refusal(&key, wait))))
            }
        }
    }
}

fn caller_key<B>(request: &http::Request<B>) -> String {
    if let Some(p) = request.extensions().get::<Principal>() {
        return format!("user:{}", p.user_id);
    }
    request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .map_or_else(|| "anonymous".to_string(), |addr| format!("peer:{}", addr.ip()))
}

/// `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` detail and a `retry-after` header.
fn refusal<ResBody: Default>(key: &str, wait: Duration) -> http::Response<ResBody> {
    let status = tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "too many calls from {key}; retry in {} ms",
            wait.as_millis().max(1)
        ),
        ErrorDetails::with_retry_info(Some(wait)),
    );
    let mut response = status.into_http::<ResBody>();
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", t0).is_ok());
        }
        let wait = limiter.take("a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another caller has its own bucket.
        assert!(limiter.take("b", t0).is_ok());
        assert!(limiter.take("a", t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.take("a", t0 + Duration::from_millis(500)).is_err());
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.take("a", later).is_ok());
        }
        assert!(limiter.take("a", later).is_err());
    }
}
