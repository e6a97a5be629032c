//! Proactive service: queues birthday greetings and delivers queued notifications to a webhook
//! (a messaging gateway), retrying with back-off. Delivery is at least once: each request
//! carries the notification id as `Idempotency-Key` so the receiver can drop repeats.

use std::time::Duration;

use chrono::DateTime;
use crm_platform::Store;
use crm_proto::servicedesk::v1::{self as pb, NotificationStatus};
use crm_tls::{HttpClient, HttpLimits};
use http_body_util::Full;

use crate::config::ServicedeskSettings;
use crate::domain::notify::{
    MAX_ATTEMPTS, birthday_dates, birthday_key, consent_channel, is_birthday, retry_delay_secs,
};
use crate::error::Result;
use crate::storage::consents;
use crate::storage::notifications as queue;

/// Notifications delivered per run.
const BATCH: i64 = 100;
/// How long a webhook may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What one delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Posted and accepted.
    pub delivered: i32,
    /// Failed this time, to be retried later.
    pub retrying: i32,
    /// Failed for the last time.
    pub failed: i32,
    /// Campaign messages not sent for want of consent.
    pub suppressed: i32,
    /// Not sent, and removed, because their customer was erased after they were queued.
    pub withdrawn: i32,
}

/// Posts notifications to the configured webhook, over HTTP or HTTPS.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: HttpClient,
}

impl Deliverer {
    /// A deliverer trusting the system's roots and those in `ca_file` (PEM), if given.
    pub fn new(ca_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let limits = HttpLimits {
            total: TIMEOUT,
            // The answer is only looked at for its status.
            max_body_bytes: 64 * 1024,
            ..HttpLimits::default()
        };
        Ok(Self {
            client: HttpClient::new(ca_file, true, limits)?,
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
        match self.client.send(request).await {
            Err(e) => Err(format!("{e:#}")),
            Ok((status, _)) if status.is_success() => Ok(()),
            Ok((status, _)) => Err(format!("webhook answered {status}")),
        }
    }

    /// Delivers the notifications due now. Without a webhook nothing is sent and notifications
    /// stay pending. A campaign's message to a customer who opted out of its channel since the
    /// campaign selected them is suppressed, not sent. One to or about a customer erased since it
    /// was queued is removed: an erasure deletes the pending notifications it sees, but one
    /// queued by a transaction that read the customer before the erasure committed escapes it.
    pub async fn deliver_due(&self, store: &Store, config: &ServicedeskSettings) -> Result<Delivered> {
        let mut out = Delivered::default();
        let Some(url) = config.webhook_url.as_deref() else {
            return Ok(out);
        };
        let (db, now) = (store.db(), store.now_micros());
        let due = queue::due(&mut *db.pool().acquire().await?, now, BATCH).await?;
        let (mut delivered, mut retrying, mut failed) = (0, 0, 0);
        for n in due {
            let lease_until = now + 2 * TIMEOUT.as_micros() as i64;
            if !queue::claim(&mut *db.pool().acquire().await?, &n.id, now, lease_until).await? {
                continue;
            }
            if queue::withdraw_if_erased(&mut *db.pool().acquire().await?, &n.id).await? {
                out.withdrawn += 1;
                continue;
            }
            if n.template == "campaign" {
                let channel = consent_channel(&n.channel);
                if consents::blocks(&mut *db.pool().acquire().await?, &n.recipient, channel as i32).await? {
                    let why = format!("suppressed: no consent to contact on {}", n.channel);
                    queue::record_attempt(
                        &mut *db.pool().acquire().await?,
                        &n.id,
                        NotificationStatus::Suppressed,
                        &why,
                        now,
                        now,
                    )
                    .await?;
                    out.suppressed += 1;
                    continue;
                }
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
        out.delivered = delivered;
        out.retrying = retrying;
        out.failed = failed;
        Ok(out)
    }
}

/// Queues today's birthday greetings (once per customer and year).
pub async fn queue_special_days(store: &Store) -> Result<()> {
    let (db, now) = (store.db(), store.now_micros());
    let today = DateTime::from_timestamp_micros(now)
        .unwrap_or_default()
        .date_naive();
    let mut tx = db.begin().await?;
    let (prefix, suffix) = birthday_key(today);
    for (party, name, born) in queue::born_on(&mut tx, &birthday_dates(today), (prefix, &suffix)).await? {
        if is_birthday(&born, today) {
            let key = format!("{prefix}{party}{suffix}");
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
