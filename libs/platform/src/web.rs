//! gRPC-Web for browsers, on the same port as gRPC: the translation layer and the CORS policy
//! that lets a web application on another origin call the API.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Which browser origins may call the API.
#[derive(Debug, Clone, Default)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// Origins such as `https://crm.example.com`; `*` allows any origin.
    pub fn new(origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(origins.into_iter().map(Into::into).collect())
    }

    /// The CORS layer: preflights answered, gRPC-Web headers allowed in both directions.
    pub fn layer(&self) -> CorsLayer {
        let origin = if self.0.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(self.0.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        };
        let allowed = [
            "authorization",
            "content-type",
            "x-grpc-web",
            "x-user-agent",
            "grpc-timeout",
            "x-request-id",
            "traceparent",
            "tracestate",
        ];
        let exposed = [
            "grpc-status",
            "grpc-message",
            "grpc-status-details-bin",
            "x-request-id",
            "retry-after",
        ];
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers(allowed.map(HeaderName::from_static))
            .expose_headers(exposed.map(HeaderName::from_static))
            .max_age(Duration::from_secs(24 * 3600))
    }
}
