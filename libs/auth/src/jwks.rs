//! JWKS documents: parsing, fetching over HTTPS, and key rotation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crm_tls::HttpClient;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

/// Where a JWKS document is fetched from, and with which client.
#[derive(Debug, Clone)]
pub struct JwksSource {
    /// The document's URL.
    pub url: String,
    /// The client that fetches it (HTTPS only unless built to allow plain HTTP).
    pub client: HttpClient,
}

impl JwksSource {
    /// Fetches the document.
    pub(crate) async fn fetch(&self) -> anyhow::Result<String> {
        let body = self.client.get(&self.url, "application/json").await?;
        String::from_utf8(body.to_vec()).context("the JWKS document is not UTF-8")
    }
}

/// RS256 keys by key id, re-fetched from their URL when a token names an unknown key id or the
/// keys are older than the refresh interval (identity providers rotate keys).
pub(crate) struct KeyStore {
    keys: RwLock<HashMap<String, DecodingKey>>,
    source: Option<JwksSource>,
    fetched_at: Mutex<Instant>,
    refreshing: AtomicBool,
    refresh_interval: Duration,
    min_refetch: Duration,
}

impl KeyStore {
    /// Keys from a JWKS document; `source` is where to re-fetch it (None for a file).
    pub(crate) fn new(doc: &str, source: Option<JwksSource>) -> anyhow::Result<Self> {
        Ok(Self {
            keys: RwLock::new(parse(doc)?),
            source,
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
        if self.source.is_some()
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
        let Some(source) = &self.source else { return Ok(()) };
        // Count the attempt even if it fails, so a broken provider is not hammered.
        if let Ok(mut at) = self.fetched_at.lock() {
            *at = Instant::now();
        }
        let keys = parse(&source.fetch().await?)?;
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
