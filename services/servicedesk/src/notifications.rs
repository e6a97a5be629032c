//! Proactive service: queues birthday greetings and delivers queued notifications to a webhook
//! (a messaging gateway), retrying with back-off. Delivery is at least once: each request
//! carries the notification id as `Idempotency-Key` so the receiver can drop repeats.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use crm_platform::Store;
use crm_proto::servicedesk::v1::{self as pb, NotificationStatus};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::ServicedeskSettings;
use crate::domain::notify::{MAX_ATTEMPTS, birthday_dates, is_birthday, retry_delay_secs};
use crate::error::Result;
use crate::storage::notifications as queue;

/// Notifications delivered per run.
const BATCH: i64 = 100;
/// How long a webhook may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts notifications to the configured webhook, over HTTP or HTTPS.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: Client<HttpsConnector<HttpConnector>, Full<bytes::Bytes>>,
}

impl Deliverer {
    /// A deliverer trusting the system's roots and those in `ca_file` (PEM), if given.
    pub fn new(ca_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // An unusable system certificate should not stop delivery to the others.
            let _ = roots.add(cert);
        }
        if let Some(path) = ca_file {
            let certs =
                CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))?;
            for cert in certs {
                roots
                    .add(cert.with_context(|| format!("reading {}", path.display()))?)
                    .with_context(|| format!("a certificate of {}", path.display()))?;
            }
        }
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn post(&self, url: &str, n: &pb::Notification) -> std::result::Result<(), String> {
        let payload: serde_json::Value = serde_json::from_str(&n.payload).unwrap_or(serde_json::Value::Null);
        let body = serde_json::json!({
            "id": n.id, "channel": n.channel, "template": n.template, "recipient": n.recipient, "payload": payload,
        });
        let request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", &n.id)
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(TIMEOUT, self.client.request(request)).await {
            Err(_) => Err("timed out".into()),
            Ok(Err(e)) => Err(chain(&e)),
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(format!("webhook answered {}", response.status())),
        }
    }

    /// Delivers the notifications due now: (delivered, to retry, given up). Without a webhook
    /// nothing is sent and notifications stay pending.
    pub async fn deliver_due(&self, store: &Store, config: &ServicedeskSettings) -> Result<(i32, i32, i32)> {
        let Some(url) = config.webhook_url.as_deref() else {
            return Ok((0, 0, 0));
        };
        let (db, now) = (store.db(), store.now_micros());
        let due = queue::due(&mut *db.pool().acquire().await?, now, BATCH).await?;
        let (mut delivered, mut retrying, mut failed) = (0, 0, 0);
        for n in due {
            let lease_until = now + 2 * TIMEOUT.as_micros() as i64;
            if !queue::claim(&mut *db.pool().acquire().await?, &n.id, now, lease_until).await? {
                continue;
            }
            let outcome = self.post(url, &n).await;
            let attempts = i64::from(n.attempts) + 1;
            let (status, error, next) = match outcome {
                Ok(()) => {
                    delivered += 1;
                    (NotificationStatus::Delivered, String::new(), now)
                }
                Err(e) if attempts >= MAX_ATTEMPTS => {
                    failed += 1;
                    (NotificationStatus::Failed, e, now)
                }
                Err(e) => {
                    retrying += 1;
                    (
                        NotificationStatus::Pending,
                        e,
                        now + retry_delay_secs(attempts) * 1_000_000,
                    )
                }
            };
            if !error.is_empty() {
                tracing::warn!(notification = %n.id, attempts, error = %error, "notification not delivered");
            }
            queue::record_attempt(&mut *db.pool().acquire().await?, &n.id, status, &error, now, next).await?;
        }
        Ok((delivered, retrying, failed))
    }
}

/// Queues today's birthday greetings (once per customer and year).
pub async fn queue_special_days(store: &Store) -> Result<()> {
    let (db, now) = (store.db(), store.now_micros());
    let today = DateTime::from_timestamp_micros(now)
        .unwrap_or_default()
        .date_naive();
    let mut tx = db.begin().await?;
    for (party, name, born) in queue::born_on(&mut tx, &birthday_dates(today)).await? {
        if is_birthday(&born, today) {
            let key = format!("birthday:{party}:{}", today.format("%Y"));
            queue::enqueue(
                &mut tx,
                &key,
                "birthday",
                &party,
                &serde_json::json!({ "name": name }),
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// An error with its causes (`client error (Connect): invalid peer certificate: UnknownIssuer`),
/// so that the stored reason says what went wrong.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Queues today's special days and delivers the notifications due (the notification job).
pub async fn run_once(
    store: &Store,
    config: &ServicedeskSettings,
    deliverer: &Deliverer,
) -> anyhow::Result<()> {
    queue_special_days(store).await?;
    deliverer.deliver_due(store, config).await?;
    Ok(())
}
