//! JWKS documents: parsing, fetching over HTTP(S), and key rotation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// RS256 keys by key id, re-fetched from their URL when a token names an unknown key id or the
/// keys are older than the refresh interval (identity providers rotate keys).
pub(crate) struct KeyStore {
    keys: RwLock<HashMap<String, DecodingKey>>,
    url: Option<String>,
    fetched_at: Mutex<Instant>,
    refreshing: AtomicBool,
    refresh_interval: Duration,
    min_refetch: Duration,
}

impl KeyStore {
    /// Keys from a JWKS document; `url` is where to re-fetch it (None for a file).
    pub(crate) fn new(doc: &str, url: Option<String>) -> anyhow::Result<Self> {
        Ok(Self {
            keys: RwLock::new(parse(doc)?),
            url,
            fetched_at: Mutex::new(Instant::now()),
            refreshing: AtomicBool::new(false),
            refresh_interval: Duration::from_secs(3600),
            min_refetch: Duration::from_secs(60),
        })
    }

    /// Sets how often keys are re-fetched, and the shortest gap between fetches triggered by
    /// unknown key ids.
    pub(crate) fn with_intervals(mut self, refresh_interval: Duration, min_refetch: Duration) -> Self {
        self.refresh_interval = refresh_interval;
        self.min_refetch = min_refetch;
        self
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.read().map(|k| k.len()).unwrap_or(0)
    }

    /// The key for `kid` (or the only key when the token names none), starting a background
    /// re-fetch when it is unknown or the keys are due.
    pub(crate) fn key(self: &Arc<Self>, kid: &str) -> Option<DecodingKey> {
        let found = self.keys.read().ok().and_then(|keys| {
            keys.get(kid).cloned().or_else(|| {
                (kid.is_empty() && keys.len() == 1)
                    .then(|| keys.values().next().cloned())
                    .flatten()
            })
        });
        let age = self.fetched_at.lock().map(|t| t.elapsed()).unwrap_or_default();
        if self.url.is_some()
            && ((found.is_none() && age >= self.min_refetch) || age >= self.refresh_interval)
        {
            self.spawn_refresh();
        }
        found
    }

    fn spawn_refresh(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::SeqCst);
            return;
        };
        let store = self.clone();
        runtime.spawn(async move {
            if let Err(err) = store.refresh().await {
                tracing::warn!("refreshing JWKS keys: {err:#}");
            }
            store.refreshing.store(false, Ordering::SeqCst);
        });
    }

    /// Re-fetches the keys from the URL now.
    pub(crate) async fn refresh(&self) -> anyhow::Result<()> {
        let Some(url) = &self.url else { return Ok(()) };
        // Count the attempt even if it fails, so a broken provider is not hammered.
        if let Ok(mut at) = self.fetched_at.lock() {
            *at = Instant::now();
        }
        let keys = parse(&fetch(url).await?)?;
        tracing::info!(keys = keys.len(), "JWKS keys refreshed");
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
        Ok(())
    }
}

fn parse(doc: &str) -> anyhow::Result<HashMap<String, DecodingKey>> {
    let set: JwkSet = serde_json::from_str(doc).context("parsing the JWKS document")?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        keys.insert(
            jwk.common.key_id.clone().unwrap_or_default(),
            DecodingKey::from_jwk(jwk)?,
        );
    }
    anyhow::ensure!(!keys.is_empty(), "the JWKS document has no keys");
    Ok(keys)
}

/// GETs a document over HTTP or HTTPS (system trust roots).
pub(crate) async fn fetch(url: &str) -> anyhow::Result<String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        anyhow::bail!("JWKS URL must be http:// or https://: {url}");
    };
    let (authority, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_string();
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: application/json\r\nUser-Agent: crm\r\n\r\n"
    );
    let fetch = async {
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        if tls {
            let mut roots = tokio_rustls::rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?;
            exchange(stream, &request).await
        } else {
            exchange(tcp, &request).await
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .context("JWKS fetch timed out")?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> anyhow::Result<String> {
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // TLS servers may close without close_notify once the body is sent; what was read counts.
    if let Err(err) = stream.read_to_end(&mut response).await
        && response.is_empty()
    {
        return Err(err.into());
    }
    let response = String::from_utf8(response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status = head.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "JWKS fetch failed: {status}"
    );
    Ok(body.to_string())
}
