//! Calling another service of the suite on behalf of the current caller.

use crm_auth::Principal;
use tonic::transport::{Channel, Endpoint};

/// A request carrying the caller's bearer token and the current trace context, so that the
/// called service authorizes the same principal and its spans join the same trace, and as its
/// deadline the time the call being handled has left.
pub fn forwarded<T>(principal: &Principal, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = &principal.bearer
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    crate::telemetry::inject_current_context(request.metadata_mut());
    // The other service has no longer than the caller's call has left.
    if let Some(left) = crate::deadline::remaining() {
        request.set_timeout(left);
    }
    request
}

/// A channel to a service that may run as several instances: `urls` are its addresses
/// (`http://host:port`), and every host name is resolved again every `refresh`, so the pods
/// behind a headless Kubernetes service are all used and pods that come and go are followed.
/// Each refresh also probes every address with a TCP connect and takes the unreachable ones
/// out of rotation until they answer again (a crashed pod still listed by DNS). Calls are
/// balanced over the addresses in rotation (least loaded of two picked at random); broken
/// connections are re-established. Needs a Tokio runtime.
///
/// `https://` addresses are called over TLS as `tls` says (see [`crate::tls::client_tls`]);
/// when its files change (a renewed certificate), every address is connected anew with them.
pub fn balanced_channel(
    urls: &[String],
    refresh: std::time::Duration,
    tls: &crate::config::TlsConfig,
) -> anyhow::Result<Channel> {
    let targets = urls
        .iter()
        .map(|url| Target::parse(url))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!targets.is_empty(), "no address given");
    // Unreadable TLS files are a start-up error, not a stream of failed calls.
    for target in targets.iter().filter(|t| t.scheme == "https") {
        crate::tls::client_tls(tls, &target.host)?;
    }
    let (channel, changes) = Channel::balance_channel::<std::net::SocketAddr>(64);
    tokio::spawn(follow_addresses(targets, refresh, tls.clone(), changes));
    Ok(channel)
}

/// One configured address: scheme, host to resolve (and to check its certificate against) and
/// port.
#[derive(Debug, Clone)]
struct Target {
    scheme: String,
    host: String,
    port: u16,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = url.trim().parse()?;
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri
            .host()
            .ok_or_else(|| anyhow::anyhow!("{url}: no host"))?
            .trim_matches(['[', ']'])
            .to_string();
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(Self { scheme, host, port })
    }
}

/// Keeps the balanced channel's endpoint set equal to what the targets resolve to. A failed
/// lookup keeps the addresses known so far; the task ends when the channel is dropped.
async fn follow_addresses(
    targets: Vec<Target>,
    refresh: std::time::Duration,
    tls: crate::config::TlsConfig,
    changes: tokio::sync::mpsc::Sender<tonic::transport::channel::Change<std::net::SocketAddr, Endpoint>>,
) {
    use std::collections::BTreeMap;
    use tonic::transport::channel::Change;
    let mut current: BTreeMap<std::net::SocketAddr, ()> = BTreeMap::new();
    let mut stamp = crate::tls::client_stamp(&tls);
    loop {
        // Renewed certificates: every address is connected again with them.
        let now = crate::tls::client_stamp(&tls);
        let renewed = now != stamp;
        if renewed {
            tracing::info!("TLS files changed: reconnecting to every upstream address");
            stamp = now;
        }
        let mut resolved = BTreeMap::new();
        let mut complete = true;
        for target in &targets {
            match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
                Ok(addrs) => {
                    for addr in addrs {
                        resolved.insert(addr, target);
                    }
                }
                Err(err) => {
                    complete = false;
                    tracing::warn!(host = %target.host, error = %err, "resolving an upstream failed");
                }
            }
        }
        // Unreachable addresses leave the rotation, unless none answers: then calls should fail
        // fast with the connection error rather than wait for an address to appear.
        let reachable = probe(resolved.keys().copied()).await;
        if !reachable.is_empty() {
            resolved.retain(|addr, _| reachable.contains(addr));
        }
        for (addr, target) in &resolved {
            if current.contains_key(addr) && !renewed {
                continue;
            }
            let Ok(endpoint) = Endpoint::from_shared(format!("{}://{addr}", target.scheme)) else {
                continue;
            };
            let mut endpoint = endpoint
                .connect_timeout(std::time::Duration::from_secs(5))
                .tcp_nodelay(true);
            if target.scheme == "https" {
                // Checked against the configured name, not the address it resolved to.
                match crate::tls::client_tls(&tls, &target.host).and_then(|c| Ok(endpoint.tls_config(c)?)) {
                    Ok(secured) => endpoint = secured,
                    Err(err) => {
                        tracing::error!(%addr, "TLS settings of an upstream unusable: {err:#}");
                        continue;
                    }
                }
            }
            if changes.send(Change::Insert(*addr, endpoint)).await.is_err() {
                return;
            }
            tracing::debug!(%addr, "upstream address added");
            current.insert(*addr, ());
        }
        if complete || !reachable.is_empty() {
            let gone: Vec<_> = current
                .keys()
                .filter(|a| !resolved.contains_key(a))
                .copied()
                .collect();
            for addr in gone {
                if changes.send(Change::Remove(addr)).await.is_err() {
                    return;
                }
                tracing::debug!(%addr, "upstream address removed");
                current.remove(&addr);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(refresh) => {}
            () = changes.closed() => return,
        }
    }
}

/// The addresses among `addrs` that accept a TCP connection within a second.
async fn probe(
    addrs: impl Iterator<Item = std::net::SocketAddr>,
) -> std::collections::BTreeSet<std::net::SocketAddr> {
    let attempts = addrs.map(|addr| async move {
        let connect = tokio::net::TcpStream::connect(addr);
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(1), connect).await,
            Ok(Ok(_))
        )
        .then_some(addr)
    });
    futures::future::join_all(attempts)
        .await
        .into_iter()
        .flatten()
        .collect()
}
