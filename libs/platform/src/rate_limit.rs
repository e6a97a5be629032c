//! Rate limiting with a token bucket per caller, refused calls answered with `RESOURCE_EXHAUSTED`
//! and a hint of when to retry: per principal after authentication ([`RateLimiter`]), and per
//! peer address for calls that fail authentication, checked before the token is looked at
//! ([`AuthFailureLimiter`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crm_auth::Principal;

use crate::inspect::{Inspected, OnResponse};
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
        self.draw(key, now, true)
    }

    /// Whether `key`'s bucket holds a call, without taking it; else how long until it will.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.draw(key, now, false)
    }

    fn draw(&self, key: &str, now: Instant, take: bool) -> Result<(), Duration> {
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
            if take {
                bucket.tokens -= 1.0;
            }
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
    peer_key(request)
}

fn peer_key<B>(request: &http::Request<B>) -> String {
    request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .map_or_else(|| "anonymous".to_string(), |addr| format!("peer:{}", addr.ip()))
}

/// Limits the calls each peer address may make that fail authentication (no token, a forged,
/// expired or foreign one). It runs before authentication: once a peer has spent its failures,
/// its calls are refused without their tokens being verified, so guessing tokens or flooding
/// the verifier costs the attacker, not the server. Calls that authenticate take nothing, so
/// many users behind one address (a proxy, the gateway) are not limited by it.
#[derive(Debug, Clone)]
pub struct AuthFailureLimiter {
    limiter: RateLimiter,
}

impl AuthFailureLimiter {
    /// A limiter allowing each peer `limit` failed authentications.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limiter: RateLimiter::new(limit),
        }
    }
}

impl<S> tower::Layer<S> for AuthFailureLimiter {
    type Service = AuthFailureLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthFailureLimited {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// The service produced by [`AuthFailureLimiter`], in front of the authentication layer.
#[derive(Debug, Clone)]
pub struct AuthFailureLimited<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for AuthFailureLimited<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<
        Inspected<S::Future, CountFailure>,
        std::future::Ready<Result<Self::Response, Self::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures::future::Either;
        if crate::overload::is_probe(request.uri().path()) {
            return Either::Left(Inspected::new(self.inner.call(request), None));
        }
        let key = peer_key(&request);
        if let Err(wait) = self.limiter.check(&key, Instant::now()) {
            tracing::info!(caller = %key, retry_after_ms = wait.as_millis() as u64, "too many failed authentications");
            return Either::Right(std::future::ready(Ok(refusal(&key, wait))));
        }
        let count = CountFailure {
            limiter: self.limiter.clone(),
            key,
        };
        Either::Left(Inspected::new(self.inner.call(request), Some(count)))
    }
}

/// Takes one from the peer's allowance when its call failed authentication.
#[derive(Debug)]
pub struct CountFailure {
    limiter: RateLimiter,
    key: String,
}

impl<B> OnResponse<B> for CountFailure {
    fn on_response(self, response: &mut http::Response<B>) {
        // The authentication layer answers trailers-only: the status is in the headers.
        if response.headers().get("grpc-status").map(|v| v.as_bytes()) == Some(b"16") {
            let _ = self.limiter.take(&self.key, Instant::now());
        }
    }
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
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;

    /// Answers UNAUTHENTICATED to calls without an `authorization` header, OK otherwise,
    /// counting the calls it sees.
    #[derive(Clone, Default)]
    struct Auth(Arc<AtomicUsize>);

    impl tower::Service<http::Request<()>> for Auth {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(if request.headers().contains_key("authorization") {
                http::Response::new(tonic::body::Body::default())
            } else {
                tonic::Status::unauthenticated("missing bearer token").into_http()
            }))
        }
    }

    fn from(peer: &str, token: bool) -> http::Request<()> {
        let mut request = http::Request::builder().uri("/crm.x.v1.S/A");
        if token {
            request = request.header("authorization", "Bearer t");
        }
        let mut request = request.body(()).unwrap();
        let info = tonic::transport::server::TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(format!("{peer}:40000").parse().unwrap()),
        };
        request.extensions_mut().insert(info);
        request
    }

    fn code(response: &http::Response<tonic::body::Body>) -> &str {
        response
            .headers()
            .get("grpc-status")
            .map_or("0", |v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn a_peer_that_keeps_failing_authentication_is_refused_before_verification() {
        let auth = Auth::default();
        let limit = RateLimit {
            per_second: 0.001,
            burst: 3,
        };
        let service = AuthFailureLimiter::new(limit).layer(auth.clone());
        let send = |request| {
            let mut service = service.clone();
            async move { service.ready().await.unwrap().call(request).await.unwrap() }
        };
        for _ in 0..3 {
            assert_eq!(code(&send(from("10.0.0.1", false)).await), "16");
        }
        let refused = send(from("10.0.0.1", false)).await;
        assert_eq!(code(&refused), "8", "RESOURCE_EXHAUSTED");
        assert!(refused.headers().contains_key(http::header::RETRY_AFTER));
        assert_eq!(
            auth.0.load(Ordering::SeqCst),
            3,
            "the refused call was not verified"
        );
        // Another address is not affected.
        assert_eq!(code(&send(from("10.0.0.2", false)).await), "16");
        // Successful calls take nothing: a proxy's users are not limited by this.
        for _ in 0..20 {
            assert_eq!(code(&send(from("10.0.0.3", true)).await), "0");
        }
        assert_eq!(code(&send(from("10.0.0.3", false)).await), "16");
    }

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
