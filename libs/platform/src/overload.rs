//! Protection of a server from more work than it can do: a cap on the calls in progress, beyond
//! which new calls are refused at once (load shedding) rather than queued behind the others
//! until every caller's deadline has passed.

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;

use crate::inspect::{Inspected, OnResponse};

/// Whether `path` is a health check: answered whatever the load or the caller's record (a
/// liveness or readiness probe refused would get a busy pod restarted or taken out of rotation,
/// which makes an overload worse).
pub fn is_probe(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// Tower layer refusing calls beyond `max` in progress with `UNAVAILABLE` (which clients retry
/// with back-off). A call counts until its response starts; a stream's body is not counted.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    permits: Arc<Semaphore>,
    max: usize,
}

impl ConcurrencyLimitLayer {
    /// At most `max` calls in progress (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

impl<S> tower::Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            limit: self.clone(),
        }
    }
}

/// The service produced by [`ConcurrencyLimitLayer`].
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    limit: ConcurrencyLimitLayer,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for ConcurrencyLimit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::Either<
        Inspected<S::Future, Permit>,
        std::future::Ready<Result<Self::Response, Self::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures::future::Either;
        if is_probe(request.uri().path()) {
            return Either::Left(Inspected::new(self.inner.call(request), None));
        }
        match self.limit.permits.clone().try_acquire_owned() {
            Ok(permit) => Either::Left(Inspected::new(self.inner.call(request), Some(Permit(permit)))),
            Err(_) => {
                tracing::warn!(max = self.limit.max, "overloaded: call refused");
                let status = tonic::Status::unavailable(format!(
                    "server overloaded ({} calls in progress); retry with back-off",
                    self.limit.max
                ));
                Either::Right(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

/// A call's place among those in progress, given back when its response is ready (or the call
/// is dropped).
#[derive(Debug)]
pub struct Permit(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl<B> OnResponse<B> for Permit {
    fn on_response(self, _: &mut http::Response<B>) {}
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;

    /// Answers each call when its turn is released.
    #[derive(Clone)]
    struct Held(Arc<Semaphore>);

    impl tower::Service<http::Request<()>> for Held {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = futures::future::BoxFuture<'static, Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            let turn = self.0.clone();
            Box::pin(async move {
                turn.acquire().await.expect("open").forget();
                Ok(http::Response::new(tonic::body::Body::default()))
            })
        }
    }

    fn call(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).unwrap()
    }

    fn grpc_status(response: &http::Response<tonic::body::Body>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn calls_beyond_the_limit_are_refused_at_once_and_probes_pass() {
        let turns = Arc::new(Semaphore::new(0));
        let mut service = ConcurrencyLimitLayer::new(2).layer(Held(turns.clone()));
        let first = tokio::spawn(service.ready().await.unwrap().call(call("/crm.x.v1.S/A")));
        let second = tokio::spawn(service.ready().await.unwrap().call(call("/crm.x.v1.S/A")));
        tokio::task::yield_now().await;
        let refused = service
            .ready()
            .await
            .unwrap()
            .call(call("/crm.x.v1.S/A"))
            .await
            .unwrap();
        assert_eq!(grpc_status(&refused), Some("14"), "UNAVAILABLE");
        // A probe is answered even now.
        let probe = tokio::spawn(
            service
                .ready()
                .await
                .unwrap()
                .call(call("/grpc.health.v1.Health/Check")),
        );
        turns.add_permits(3);
        for done in [first, second, probe] {
            assert_eq!(grpc_status(&done.await.unwrap().unwrap()), None);
        }
        // The finished calls gave their places back.
        turns.add_permits(1);
        let again = service
            .ready()
            .await
            .unwrap()
            .call(call("/crm.x.v1.S/A"))
            .await
            .unwrap();
        assert_eq!(grpc_status(&again), None);
    }
}
