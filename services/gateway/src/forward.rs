//! Forwarding of every domain API: a call the gateway does not answer itself goes, unchanged,
//! to the service owning its package. Metadata (the caller's token, `grpc-timeout`,
//! `traceparent`, `x-request-id`) travel as headers and messages as the body stream, so unary
//! and streaming calls, deadlines and tracing work as if the client called the service.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::transport::Channel;

/// The forwarding service (the gateway server's fallback).
#[derive(Debug, Clone)]
pub struct Forwarder {
    routes: Arc<Vec<(&'static str, Channel)>>,
}

impl Forwarder {
    /// Forwards paths starting with each prefix to its channel.
    pub fn new(routes: Vec<(&'static str, Channel)>) -> Self {
        Self {
            routes: Arc::new(routes),
        }
    }

    fn channel_for(&self, path: &str) -> Option<Channel> {
        self.routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .map(|(_, channel)| channel.clone())
    }
}

impl tower::Service<http::Request<axum::body::Body>> for Forwarder {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call clones its channel, whose readiness is awaited per call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<axum::body::Body>) -> Self::Future {
        let path = request.uri().path().to_string();
        let Some(mut channel) = self.channel_for(&path) else {
            let status = tonic::Status::unimplemented(format!("no service here answers {path}"));
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        let (mut parts, body) = request.into_parts();
        // The upstream span joins the gateway's trace: replace the client's parent with ours.
        crm_platform::telemetry::inject_current_context_headers(&mut parts.headers);
        let request = http::Request::from_parts(parts, tonic::body::Body::new(body));
        Box::pin(async move {
            use tower::ServiceExt as _;
            // With no address in rotation (a name that does not resolve yet), say so rather
            // than hold the call until its deadline.
            match tokio::time::timeout(NO_UPSTREAM_WAIT, channel.ready()).await {
                Ok(Ok(ready)) => match ready.call(request).await {
                    Ok(response) => Ok(response),
                    Err(err) => Ok(unavailable(&path, &err.to_string())),
                },
                Ok(Err(err)) => Ok(unavailable(&path, &err.to_string())),
                Err(_) => Ok(unavailable(&path, "no address of the service is reachable")),
            }
        })
    }
}

/// How long a call waits for an upstream address to come into rotation.
const NO_UPSTREAM_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn unavailable(path: &str, err: &str) -> http::Response<tonic::body::Body> {
    tracing::warn!(%path, error = %err, "upstream unreachable");
    tonic::Status::unavailable(format!("the service answering {path} is unreachable")).into_http()
}
