//! The server's default deadline: a unary call the client set no shorter deadline for ends with
//! `DEADLINE_EXCEEDED` after the configured time. Streaming calls (bulk imports and exports run
//! as long as their data) are bounded only by the client's own deadline.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

/// Paths (`/package.Service/Method`) of every streaming RPC of the suite.
static STREAMING: LazyLock<Arc<HashSet<String>>> = LazyLock::new(|| {
    let descriptors =
        <prost_types::FileDescriptorSet as prost::Message>::decode(crm_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_default();
    let mut paths = HashSet::new();
    for file in &descriptors.file {
        for service in &file.service {
            for method in &service.method {
                if method.client_streaming() || method.server_streaming() {
                    paths.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    Arc::new(paths)
});

/// Tower layer applying the default deadline to unary calls.
#[derive(Clone, Debug)]
pub struct DeadlineLayer {
    limit: Duration,
}

impl DeadlineLayer {
    /// Unary calls end after `limit` (the client's shorter deadline still applies first).
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            limit: self.limit,
            streaming: STREAMING.clone(),
        }
    }
}

/// The service produced by [`DeadlineLayer`].
#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
    limit: Duration,
    streaming: Arc<HashSet<String>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, ResBody> Service<http::Request<B>> for DeadlineService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let streaming = self.streaming.contains(request.uri().path());
        let asked = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(grpc_timeout);
        let call = self.inner.call(request);
        if streaming {
            return Box::pin(call);
        }
        let limit = self.limit;
        // What the handler has left, for the calls it makes to other services.
        let deadline = tokio::time::Instant::now() + asked.map_or(limit, |asked| asked.min(limit));
        let call = DEADLINE.scope(deadline, call);
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(response) => response,
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "the call ran past the server's limit of {} s",
                    limit.as_secs_f64()
                ))
                .into_http()),
            }
        })
    }
}

tokio::task_local! {
    /// When the call being handled must have answered.
    static DEADLINE: tokio::time::Instant;
}

/// Runs `work` as if it handled a call that must answer by `deadline`: what it calls
/// ([`remaining`], [`crate::client::forwarded`]) sees that deadline.
pub async fn within<F: Future>(deadline: tokio::time::Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left to the call being handled (the client's deadline or the server's limit,
/// whichever comes first); `None` outside a unary call's handler.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(tokio::time::Instant::now()))
        .ok()
}

/// A `grpc-timeout` header's duration: digits and a unit (hours, minutes, seconds, milli-,
/// micro- or nanoseconds).
fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_are_read() {
        assert_eq!(grpc_timeout("1999m"), Some(Duration::from_millis(1999)));
        assert_eq!(grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("5000000u"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("12"), None);
        assert_eq!(grpc_timeout(""), None);
        assert_eq!(grpc_timeout("xS"), None);
    }

    #[test]
    fn streaming_rpcs_are_known() {
        assert!(STREAMING.contains("/crm.customers.v1.CustomersService/ImportParties"));
        assert!(STREAMING.contains("/crm.customers.v1.CustomersService/ExportParties"));
        assert!(!STREAMING.contains("/crm.customers.v1.CustomersService/GetParty"));
    }
}
