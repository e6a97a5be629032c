//! The outbox relay: publishes committed outbox rows to JetStream, in order, at least once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, context::PublishAckFuture, message::PublishMessage};
use crm_storage::{Backend, Db};
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
        }
    }
}

/// Publishes a service's outbox to its domain stream.
///
/// Rows are published one by one in sequence order with the event id as `Nats-Msg-Id`, and
/// marked sent only after JetStream acknowledged them; the first failure stops the pass, so a
/// later event never overtakes an earlier one. On PostgreSQL, where several replicas may run,
/// an advisory lock lets one relay publish at a time.
#[derive(Debug)]
pub struct Relay {
    db: Db,
    js: jetstream::Context,
    spec: StreamSpec,
    options: RelayOptions,
    wake: Arc<Notify>,
}

/// Advisory-lock key of the relay (any constant; one database per service).
const RELAY_LOCK_KEY: i64 = 0x00C2_4D0B_7E1A_7001;

impl Relay {
    /// A relay for `db`'s outbox into the stream of `spec`.
    pub fn new(db: Db, client: async_nats::Client, spec: StreamSpec) -> Self {
        Self {
            db,
            js: jetstream::new(client),
            spec,
            options: RelayOptions::default(),
            wake: Arc::new(Notify::new()),
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
        let mut leader: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
        let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
        let mut last_measure: Option<std::time::Instant> = None;
        while !stop.is_cancelled() {
            if last_measure.is_none_or(|at| at.elapsed() >= self.options.backlog_interval) {
                self.measure_backlog().await;
                last_measure = Some(std::time::Instant::now());
            }
            let pass = async {
                if self.db.backend() == Backend::Postgres && !self.hold_leadership(&mut leader).await? {
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
                self.publish_pending().await.map(Some)
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
        Ok(())
    }

    /// Keeps a connection holding the relay's advisory lock; false while another replica holds it.
    async fn hold_leadership(
        &self,
        leader: &mut Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    ) -> anyhow::Result<bool> {
        if let Some(conn) = leader.as_mut() {
            if sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok() {
                return Ok(true);
            }
            *leader = None;
        }
        let mut conn = self.db.pool().acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(RELAY_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await?;
        if locked {
            *leader = Some(conn);
        }
        Ok(locked)
    }

    /// Reports the unsent rows and the age of the oldest (a failed query is skipped: the
    /// database being away is reported elsewhere).
    async fn measure_backlog(&self) {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM crm_outbox WHERE sent_at IS NULL",
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

    /// One pass: publishes up to a batch of pending rows in order. Returns how many were sent.
    pub async fn publish_pending(&self) -> anyhow::Result<usize> {
        let rows = sqlx::query(
            "SELECT seq, event_id, subject, event_type, source, event_subject, event_time, payload, traceparent \
             FROM crm_outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1",
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
            return Err(err.context(format!("publishing outbox row {seq}")));
        }
        Ok(sent.len())
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

    async fn mark_sent(&self, seqs: &[i64]) -> anyhow::Result<()> {
        let now = crate::now_micros();
        for chunk in seqs.chunks(128) {
            // Lists padded to a power of two (repeating the last): a handful of statement shapes
            // stay prepared instead of one per batch size.
            let size = chunk.len().next_power_of_two();
            let placeholders: Vec<String> = (0..size).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE crm_outbox SET sent_at = $1 WHERE seq IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
            let last = chunk.last().copied().unwrap_or_default();
            for seq in chunk.iter().copied().chain(std::iter::repeat(last)).take(size) {
                query = query.bind(seq);
            }
            query.execute(self.db.pool()).await?;
        }
        Ok(())
    }

    async fn purge_sent(&self) -> anyhow::Result<()> {
        let cutoff = crate::now_micros() - self.options.retention.as_micros() as i64;
        sqlx::query("DELETE FROM crm_outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(cutoff)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}
