//! The outbox relay: publishes committed outbox rows to JetStream, in order, at least once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use std::sync::atomic::{AtomicI64, Ordering};

use crm_storage::Db;
use sqlx::Row as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::cloudevents::CloudEvent;
use crate::outbox::{current_traceparent, parent_context};
use crate::streams::{StreamSpec, ensure_stream};

/// Tuning of a [`Relay`].
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Rows published per pass.
    pub batch_size: i64,
    /// How often to look for new rows when nobody wakes the relay.
    pub poll_interval: Duration,
    /// First retry delay after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How long to wait for a publish ack.
    pub publish_timeout: Duration,
    /// Sent rows older than this are deleted.
    pub retention: Duration,
    /// How often the backlog (unsent rows, oldest age) is reported as metrics.
    pub backlog_interval: Duration,
    /// Attempts after which a row the broker refuses (while it answers) is set aside.
    pub park_after_attempts: i64,
    /// How long the relay's lease on the outbox lasts unless renewed (every pass renews it):
    /// when a relay dies, another takes over this long after its last pass.
    pub lease_ttl: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_millis(200),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 86_400),
            backlog_interval: Duration::from_secs(5),
            park_after_attempts: 5,
            lease_ttl: Duration::from_secs(10),
        }
    }
}

/// Publishes a service's outbox to its domain stream.
///
/// Rows are published one by one in sequence order with the event id as `Nats-Msg-Id`, and
/// marked sent only after JetStream acknowledged them; the first failure stops the pass, so a
/// later event never overtakes an earlier one. A row the broker itself keeps refusing (not a
/// timeout or a lost connection: it answers, and refuses that row) is set aside after
/// [`RelayOptions::park_after_attempts`], with an error log and the `crm.outbox.parked` metric,
/// so that one row cannot stop a service's events.
///
/// Several replicas of a service run a relay each; one publishes at a time, under a lease on the
/// outbox renewed by every pass (`crm_relay_lease`). A relay that dies or stalls loses the
/// lease once it expires, and the next takes it with a larger token; a relay marks rows sent
/// only while it still holds the lease under its own token, so a stalled one that wakes up
/// cannot record as its own what the new leader does (what it published meanwhile carries the
/// events' ids, which the stream drops as duplicates).
#[derive(Debug)]
pub struct Relay {
    db: Db,
    js: jetstream::Context,
    spec: StreamSpec,
    options: RelayOptions,
    wake: Arc<Notify>,
    /// This relay in the lease table.
    holder: String,
    /// The lease's token while this relay holds it (0: it does not).
    token: AtomicI64,
    /// When this relay last renewed the lease.
    renewed: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How much longer than the stream keeps events the inbox remembers them.
const INBOX_MARGIN: Duration = Duration::from_secs(86_400);

impl Relay {
    /// A relay for `db`'s outbox into the stream of `spec`.
    pub fn new(db: Db, client: async_nats::Client, spec: StreamSpec) -> Self {
        Self {
            db,
            js: jetstream::new(client),
            spec,
            options: RelayOptions::default(),
            wake: Arc::new(Notify::new()),
            holder: uuid::Uuid::now_v7().to_string(),
            token: AtomicI64::new(0),
            renewed: std::sync::Mutex::new(None),
        }
    }

    /// Overrides the tuning.
    pub fn with_options(mut self, options: RelayOptions) -> Self {
        self.options = options;
        self
    }

    /// A handle that wakes the relay right away (call it after committing an event) instead of
    /// waiting for the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `stop` is cancelled, retrying with backoff while NATS or the database fails.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut streams_ready = false;
        let mut backoff = self.options.min_backoff;
        let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
        let mut last_measure: Option<std::time::Instant> = None;
        while !stop.is_cancelled() {
            if last_measure.is_none_or(|at| at.elapsed() >= self.options.backlog_interval) {
                self.measure_backlog().await;
                last_measure = Some(std::time::Instant::now());
            }
            let pass = async {
                if !self.lead().await? {
                    return Ok(None);
                }
                if !streams_ready {
                    ensure_stream(&self.js, &self.spec)
                        .await
                        .context("creating streams")?;
                    streams_ready = true;
                }
                if last_purge.elapsed() > Duration::from_secs(600) {
                    self.purge_sent().await?;
                    last_purge = std::time::Instant::now();
                }
                self.publish_leading().await.map(Some)
            };
            match pass.await {
                Ok(Some(n)) if n > 0 => {
                    backoff = self.options.min_backoff;
                    continue;
                }
                Ok(_) => {
                    backoff = self.options.min_backoff;
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(self.options.poll_interval) => {}
                    }
                }
                Err(err) => {
                    tracing::warn!(stream = %self.spec.name(), retry_in_ms = backoff.as_millis() as u64, "outbox relay: {err:#}");
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.options.max_backoff);
                }
            }
        }
        // A last pass, so that events of the calls drained just before the stop go out now
        // rather than at the next start.
        if streams_ready
            && let Ok(Err(err)) =
                tokio::time::timeout(self.options.publish_timeout, self.publish_pending()).await
        {
            tracing::info!("outbox relay stopped with events pending: {err:#}");
        }
        self.release().await;
        Ok(())
    }

    /// Takes the lease on the outbox, or renews it: true while this relay leads. A lease renewed
    /// within the last third of its time is not written again (a pass every 200 ms would write
    /// the lease row five times a second, on SQLite taking its one write lock each time).
    async fn lead(&self) -> anyhow::Result<bool> {
        let fresh = self
            .renewed
            .lock()
            .expect("the renewal time")
            .is_some_and(|at| at.elapsed() < self.options.lease_ttl / 3);
        if fresh && self.token.load(Ordering::Acquire) != 0 {
            return Ok(true);
        }
        let now = crate::now_micros();
        let ttl = i64::try_from(self.options.lease_ttl.as_micros()).unwrap_or(i64::MAX);
        // SET reads the row as it was: a takeover raises the token, a renewal keeps it.
        let token: Option<i64> = sqlx::query_scalar(
            "UPDATE crm_relay_lease SET token = CASE WHEN holder = $1 THEN token ELSE token + 1 END, \
             holder = $1, expires_at = $2 WHERE name = 'outbox' AND (holder = $1 OR expires_at < $3) \
             RETURNING token",
        )
        .bind(&self.holder)
        .bind(now.saturating_add(ttl))
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        let held = token.unwrap_or(0);
        crate::metrics::leading(&self.spec.name(), held != 0);
        *self.renewed.lock().expect("the renewal time") = (held != 0).then(std::time::Instant::now);
        let before = self.token.swap(held, Ordering::AcqRel);
        if held != before {
            if held != 0 {
                tracing::info!(stream = %self.spec.name(), token = held, "this relay publishes the outbox now");
            } else {
                tracing::warn!(stream = %self.spec.name(), "another relay took over the outbox");
            }
        }
        Ok(held != 0)
    }

    /// Gives the lease up (at a clean stop), so that another relay takes over at once.
    async fn release(&self) {
        if self.token.swap(0, Ordering::AcqRel) == 0 {
            return;
        }
        let released =
            sqlx::query("UPDATE crm_relay_lease SET expires_at = 0 WHERE name = 'outbox' AND holder = $1")
                .bind(&self.holder)
                .execute(self.db.pool())
                .await;
        if let Err(err) = released {
            tracing::debug!("releasing the relay lease: {err}");
        }
    }

    /// Reports the unsent rows and the age of the oldest (a failed query is skipped: the
    /// database being away is reported elsewhere).
    async fn measure_backlog(&self) {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM crm_outbox \
             WHERE sent_at IS NULL AND parked_at IS NULL",
        )
        .fetch_one(self.db.pool())
        .await;
        let Ok(row) = row else { return };
        let pending: i64 = row.try_get("pending").unwrap_or(0);
        let oldest: Option<i64> = row.try_get("oldest").unwrap_or(None);
        let now = chrono::Utc::now().timestamp_micros();
        let age = oldest.map_or(0.0, |at| (now - at).max(0) as f64 / 1e6);
        crate::metrics::outbox(&self.spec.name(), pending.max(0) as u64, age);
    }

    /// One pass, if this relay holds (or can take) the lease: publishes up to a batch of pending
    /// rows in order. Returns how many were sent.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        if !self.lead().await? {
            return Ok(0);
        }
        self.publish_leading().await
    }

    /// One pass of the leading relay.
    async fn publish_leading(&self) -> anyhow::Result<usize> {
        let rows = sqlx::query(
            "SELECT seq, event_id, subject, event_type, source, event_subject, event_time, payload, traceparent, \
             attempts FROM crm_outbox WHERE sent_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(self.options.batch_size)
        .fetch_all(self.db.pool())
        .await?;
        let mut sent = Vec::with_capacity(rows.len());
        let mut failure = None;
        // The whole batch is sent before its acks are awaited: one round trip per batch, not per
        // event. Only the rows up to the first failure count as sent; a later row the broker
        // stored anyway is sent again with the same `Nats-Msg-Id`, which the stream drops.
        let mut acks = Vec::with_capacity(rows.len());
        let attempts_of = |seq: i64| {
            rows.iter()
                .find(|r| r.try_get::<i64, _>("seq").ok() == Some(seq))
                .and_then(|r| r.try_get::<i64, _>("attempts").ok())
                .unwrap_or_default()
        };
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            let subject: String = row.try_get("subject")?;
            let event = CloudEvent {
                id: row.try_get("event_id")?,
                event_type: row.try_get("event_type")?,
                source: row.try_get("source")?,
                subject: row.try_get("event_subject")?,
                time: row.try_get("event_time")?,
                traceparent: row.try_get("traceparent")?,
                sequence: Some(seq),
                data: row.try_get::<Vec<u8>, _>("payload")?.into(),
            };
            match self.send(&subject, event).await {
                Ok(ack) => acks.push((seq, ack)),
                Err(err) => {
                    failure = Some((seq, err));
                    break;
                }
            }
        }
        for (seq, ack) in acks {
            match tokio::time::timeout(self.options.publish_timeout, ack).await {
                Ok(Ok(_)) => sent.push(seq),
                Ok(Err(err)) => {
                    failure = Some((seq, err.into()));
                    break;
                }
                Err(_) => {
                    failure = Some((seq, anyhow::anyhow!("timed out waiting for the publish ack")));
                    break;
                }
            }
        }
        self.mark_sent(&sent).await?;
        if let Some((seq, err)) = failure {
            sqlx::query("UPDATE crm_outbox SET attempts = attempts + 1, last_error = $1 WHERE seq = $2")
                .bind(format!("{err:#}"))
                .bind(seq)
                .execute(self.db.pool())
                .await?;
            if attempts_of(seq) + 1 >= self.options.park_after_attempts
                && refused(&err)
                && self.broker_answers().await
            {
                self.park(seq, &err).await?;
                return Ok(sent.len() + 1);
            }
            return Err(err.context(format!("publishing outbox row {seq}")));
        }
        Ok(sent.len())
    }

    /// Whether the broker answers a request about this relay's stream.
    async fn broker_answers(&self) -> bool {
        let asked = self.js.get_stream(self.spec.name());
        matches!(
            tokio::time::timeout(self.options.publish_timeout, asked).await,
            Ok(Ok(_))
        )
    }

    /// Sets row `seq` aside: the rows after it are published without it.
    async fn park(&self, seq: i64, err: &anyhow::Error) -> anyhow::Result<()> {
        sqlx::query("UPDATE crm_outbox SET parked_at = $1 WHERE seq = $2")
            .bind(crate::now_micros())
            .bind(seq)
            .execute(self.db.pool())
            .await?;
        tracing::error!(stream = %self.spec.name(), seq, "outbox row set aside: the broker keeps refusing it: {err:#}");
        crate::metrics::outbox_parked(&self.spec.name());
        Ok(())
    }

    /// Sends one event; the future it returns resolves to the stream's ack.
    async fn send(&self, subject: &str, mut event: CloudEvent) -> anyhow::Result<PublishAckFuture> {
        let span = tracing::info_span!(
            "event.publish",
            otel.name = %format!("{subject} publish"),
            otel.kind = "producer",
            messaging.system = "nats",
            messaging.destination = %subject,
            messaging.message.id = %event.id,
        );
        if let Some(cx) = event.traceparent.as_deref().and_then(parent_context) {
            let _ = span.set_parent(cx);
        }
        async {
            // Pass on this publish span, so the consumer's span is its child; keep the producer's
            // own context when tracing is not installed.
            if let Some(tp) = current_traceparent() {
                event.traceparent = Some(tp);
            }
            let ack = self
                .js
                .send_publish(
                    subject.to_string(),
                    PublishMessage::build()
                        .headers(event.to_headers())
                        .payload(event.data),
                )
                .await?;
            Ok(ack)
        }
        .instrument(span)
        .await
    }

    /// Marks rows sent, only while this relay still holds the lease under its token.
    async fn mark_sent(&self, seqs: &[i64]) -> anyhow::Result<()> {
        let now = crate::now_micros();
        let token = self.token.load(Ordering::Acquire);
        for chunk in seqs.chunks(128) {
            // Lists padded to a power of two (repeating the last): a handful of statement shapes
            // stay prepared instead of one per batch size.
            let size = chunk.len().next_power_of_two();
            let placeholders: Vec<String> = (0..size).map(|i| format!("${}", i + 4)).collect();
            let sql = format!(
                "UPDATE crm_outbox SET sent_at = $1 WHERE seq IN ({}) AND EXISTS (SELECT 1 FROM crm_relay_lease \
                 WHERE name = 'outbox' AND holder = $2 AND token = $3)",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(&self.holder)
                .bind(token);
            let last = chunk.last().copied().unwrap_or_default();
            for seq in chunk.iter().copied().chain(std::iter::repeat(last)).take(size) {
                query = query.bind(seq);
            }
            if query.execute(self.db.pool()).await?.rows_affected() == 0 {
                self.token.store(0, Ordering::Release);
                anyhow::bail!("the outbox lease went to another relay during the pass");
            }
        }
        Ok(())
    }

    /// Deletes sent outbox rows past their retention, and inbox rows (and counted failures) of
    /// events older than the streams keep, plus a day: such events cannot come again.
    async fn purge_sent(&self) -> anyhow::Result<()> {
        let now = crate::now_micros();
        let cutoff = now - self.options.retention.as_micros() as i64;
        sqlx::query("DELETE FROM crm_outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(cutoff)
            .execute(self.db.pool())
            .await?;
        let delivered_until = now - (self.spec.max_age + INBOX_MARGIN).as_micros() as i64;
        sqlx::query("DELETE FROM crm_inbox WHERE handled_at < $1")
            .bind(delivered_until)
            .execute(self.db.pool())
            .await?;
        sqlx::query("DELETE FROM crm_event_failures WHERE failed_at < $1")
            .bind(delivered_until)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// Whether a publish failed because the broker refused the message itself (it is bigger than
/// the server or the stream takes), not because the broker could not be reached, did not answer
/// in time, or is full (which passes once consumers catch up or the limit is raised).
fn refused(err: &anyhow::Error) -> bool {
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};
    use async_nats::jetstream::{Error as JetStreamError, ErrorCode};
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<PublishError>())
        .any(|e| match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => true,
            PublishErrorKind::Other => std::error::Error::source(e)
                .and_then(|source| source.downcast_ref::<JetStreamError>())
                .is_some_and(|js| js.error_code() == ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM),
            _ => false,
        })
}
