//! Calling another service of the suite on behalf of the current caller.

use crm_auth::Principal;
use tonic::transport::{Channel, Endpoint};

/// A channel to `url` that connects on first use and reconnects after failures.
pub fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_string())?
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect_lazy())
}

/// A request carrying the caller's bearer token and the current trace context, so that the
/// called service authorizes the same principal and its spans join the same trace.
pub fn forwarded<T>(principal: &Principal, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = &principal.bearer
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    crate::telemetry::inject_current_context(request.metadata_mut());
    request
}
