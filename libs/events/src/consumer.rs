//! Durable event consumers with exactly-once effects.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer::pull, message::PublishMessage};
use crm_storage::{Arg, Db, SqlBuilder, Tx};
use futures::StreamExt as _;
use sqlx::Row as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::cloudevents::{CloudEvent, headers};
use crate::outbox::parent_context;
use crate::streams::{StreamSpec, dlq_subject, ensure_stream};

/// Applies events of one kind of consumer.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` inside `tx`, which also records the event in the inbox. An error rolls
    /// both back; the message is delivered again later, and dead-lettered after the last attempt.
    fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Runs in the same transaction once the events applied with it were handled: work that
    /// several events of a batch share (e.g. recomputing a figure two events changed) is done
    /// here once. The default does nothing.
    fn finish(&self, tx: &mut Tx) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }
}

/// Most messages applied in one transaction.
const MAX_BATCH: usize = 100;

/// Payload bytes after which no more messages join a transaction: a batch event (500 imported
/// orders) is worth hundreds of single ones, and what a transaction holds stays bounded.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// What a consumer reads and how it retries.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Durable consumer name, also the inbox key and the dead-letter subject suffix:
    /// `<service>-<purpose>`, e.g. `customers-sales-orders`.
    pub durable: String,
    /// The producing domain's stream.
    pub stream: StreamSpec,
    /// Subjects to receive (empty: the whole stream).
    pub filter_subjects: Vec<String>,
    /// Deliveries before a message is dead-lettered.
    pub max_deliver: i64,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Delay before a failed message is retried, multiplied by the attempt number.
    pub retry_delay: Duration,
}

impl ConsumerOptions {
    /// Defaults for a consumer named `durable` of `domain`'s stream: 5 deliveries, 30 s ack wait.
    pub fn new(durable: &str, domain: &str) -> Self {
        Self {
            durable: durable.to_string(),
            stream: StreamSpec::new(domain),
            filter_subjects: Vec::new(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
            retry_delay: Duration::from_secs(1),
        }
    }

    /// Only these subjects.
    pub fn subjects(mut self, subjects: &[&str]) -> Self {
        self.filter_subjects = subjects.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied and acknowledged.
    Applied,
    /// Already in the inbox: acknowledged without applying again.
    Duplicate,
    /// Failed; will be delivered again.
    Retry,
    /// Failed for the last time (or cannot be read): parked on the dead-letter subject.
    DeadLettered,
}

/// A durable pull consumer feeding an [`EventHandler`].
#[derive(Debug)]
pub struct Consumer<H> {
    db: Db,
    js: jetstream::Context,
    options: ConsumerOptions,
    handler: Arc<H>,
}

impl<H: EventHandler> Consumer<H> {
    /// A consumer applying events to `db` through `handler`.
    pub fn new(db: Db, client: async_nats::Client, options: ConsumerOptions, handler: H) -> Self {
        Self {
            db,
            js: jetstream::new(client),
            options,
            handler: Arc::new(handler),
        }
    }

    /// Runs until `stop` is cancelled, re-subscribing after NATS outages.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            match self.subscribe().await {
                Ok(mut messages) => {
                    backoff = Duration::from_millis(100);
                    loop {
                        let next = tokio::select! {
                            () = stop.cancelled() => return Ok(()),
                            next = messages.next() => next,
                        };
                        match next {
                            Some(Ok(message)) => {
                                // Whatever else has arrived is applied with it in one
                                // transaction (a backlog drains with one commit per batch).
                                let mut bytes = message.payload.len();
                                let mut batch = vec![message];
                                let mut broken = false;
                                while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                                    match futures::FutureExt::now_or_never(messages.next()) {
                                        Some(Some(Ok(more))) => {
                                            bytes += more.payload.len();
                                            batch.push(more);
                                        }
                                        Some(Some(Err(err))) => {
                                            tracing::warn!(consumer = %self.options.durable, "receiving events: {err}");
                                            broken = true;
                                            break;
                                        }
                                        Some(None) => {
                                            broken = true;
                                            break;
                                        }
                                        None => break,
                                    }
                                }
                                self.process_batch(batch).await;
                                if broken {
                                    break;
                                }
                            }
                            Some(Err(err)) => {
                                tracing::warn!(consumer = %self.options.durable, "receiving events: {err}");
                                break;
                            }
                            None => break,
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(consumer = %self.options.durable, retry_in_ms = backoff.as_millis() as u64, "subscribing: {err:#}");
                }
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        Ok(())
    }

    async fn subscribe(&self) -> anyhow::Result<pull::Stream> {
        ensure_stream(&self.js, &self.options.stream).await?;
        let stream = self.js.get_stream(self.options.stream.name()).await?;
        // Create or update: a new release that listens to more subjects updates the durable
        // consumer instead of keeping its old filter.
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .create_consumer(pull::Config {
                durable_name: Some(self.options.durable.clone()),
                filter_subjects: self.options.filter_subjects.clone(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: self.options.ack_wait,
                max_deliver: self.options.max_deliver,
                ..Default::default()
            })
            .await?;
        Ok(consumer.messages().await?)
    }

    /// Applies messages that arrived together in one transaction and acks them after the
    /// commit. Each event runs under a savepoint: one that fails is rolled back alone and then
    /// retried or dead-lettered as on its own, the others keep their effects.
    pub async fn process_batch(&self, batch: Vec<jetstream::Message>) {
        let events: Vec<CloudEvent> = batch
            .iter()
            .map_while(|m| CloudEvent::from_message(m.headers.as_ref(), m.payload.clone()).ok())
            .collect();
        if batch.len() == 1 || events.len() < batch.len() {
            for message in batch {
                self.process(message).await;
            }
            return;
        }
        if let Some(info) = batch.last().and_then(|m| m.info().ok()) {
            crate::metrics::consumer_lag(&self.options.durable, info.pending);
        }
        // The common case in one go: every event applies, so no savepoints are needed.
        match self.apply_together(&batch, &events).await {
            Ok(()) => {
                for message in &batch {
                    if let Err(err) = message.ack().await {
                        // Committed but not acked: the redelivery will be recognised by the inbox.
                        tracing::warn!("ack failed: {err}");
                    }
                }
                return;
            }
            Err(err) => {
                tracing::debug!(consumer = %self.options.durable, "a batch of events failed together, applying one by one: {err:#}");
            }
        }
        match self.apply_all(&batch, &events).await {
            Ok(mut failures) => {
                for (i, message) in batch.iter().enumerate() {
                    match failures.remove(&i) {
                        None => {
                            if let Err(err) = message.ack().await {
                                // Committed but not acked: the redelivery will be recognised by
                                // the inbox.
                                tracing::warn!("ack failed: {err}");
                            }
                        }
                        Some(err) => {
                            let span = self.span(message, &events[i]);
                            self.settle_failure(message, &err).instrument(span).await;
                        }
                    }
                }
            }
            Err(err) => {
                // The transaction itself failed (the database went away): nothing was applied,
                // every message comes again.
                tracing::warn!(consumer = %self.options.durable, "applying a batch of events failed, will retry: {err:#}");
                for message in &batch {
                    if let Err(err) = message
                        .ack_with(AckKind::Nak(Some(self.options.retry_delay)))
                        .await
                    {
                        tracing::warn!("nak failed: {err}");
                    }
                }
            }
        }
    }

    /// A failed message: retried later with a growing delay, or dead-lettered after its last
    /// delivery.
    async fn settle_failure(&self, message: &jetstream::Message, err: &anyhow::Error) -> Outcome {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        if delivered >= self.options.max_deliver {
            return self.dead_letter(message, err).await;
        }
        tracing::warn!(attempt = delivered, "event handling failed, will retry: {err:#}");
        let delay = self.options.retry_delay * u32::try_from(delivered.max(1)).unwrap_or(1);
        if let Err(err) = message.ack_with(AckKind::Nak(Some(delay))).await {
            tracing::warn!("nak failed: {err}");
        }
        Outcome::Retry
    }

    /// The consumer span of one event, a child of its producer's trace.
    fn span(&self, message: &jetstream::Message, event: &CloudEvent) -> tracing::Span {
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let span = tracing::info_span!(
            "event.consume",
            otel.name = %format!("{} process", message.subject),
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.consumer = %self.options.durable,
            messaging.message.id = %event.id,
            event.r#type = %event.event_type,
            delivery = delivered,
        );
        if let Some(cx) = event.traceparent.as_deref().and_then(parent_context) {
            let _ = span.set_parent(cx);
        }
        span
    }

    /// Applies every event of a batch (duplicates skipped) in one transaction with one inbox
    /// statement; any failure rolls back all of them.
    async fn apply_together(
        &self,
        batch: &[jetstream::Message],
        events: &[CloudEvent],
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        let mut fresh = self.record_all_in_inbox(&mut tx, events).await?;
        for (message, event) in batch.iter().zip(events) {
            // `remove`: an event delivered twice within the batch applies once.
            if fresh.remove(event.id.as_str()) {
                let span = self.span(message, event);
                self.handler.handle(&mut tx, event).instrument(span).await?;
            }
        }
        self.handler.finish(&mut tx).await?;
        tx.commit().await.context("committing event effects")?;
        Ok(())
    }

    /// Records the events of a batch in the inbox of `tx` in one statement; returns the ids not
    /// handled before.
    async fn record_all_in_inbox(
        &self,
        tx: &mut Tx,
        events: &[CloudEvent],
    ) -> sqlx::Result<std::collections::HashSet<String>> {
        let now = crate::now_micros();
        let mut q = SqlBuilder::insert_rows(
            "crm_inbox (consumer, event_id, event_type, handled_at)",
            events.iter().map(|e| {
                [
                    Arg::from(self.options.durable.as_str()),
                    Arg::from(e.id.as_str()),
                    Arg::from(e.event_type.as_str()),
                    Arg::Int(now),
                ]
            }),
        );
        q.push(" ON CONFLICT DO NOTHING RETURNING event_id");
        q.build()
            .fetch_all(tx)
            .await?
            .iter()
            .map(|row| row.try_get("event_id"))
            .collect()
    }

    /// Applies every event of a batch (duplicates skipped) in one transaction, each under a
    /// savepoint with the handler's [`EventHandler::finish`]; returns the events that failed
    /// (rolled back alone), by position.
    async fn apply_all(
        &self,
        batch: &[jetstream::Message],
        events: &[CloudEvent],
    ) -> anyhow::Result<std::collections::HashMap<usize, anyhow::Error>> {
        let mut failures = std::collections::HashMap::new();
        let mut tx = self.db.begin().await?;
        for (i, (message, event)) in batch.iter().zip(events).enumerate() {
            sqlx::query("SAVEPOINT crm_event").execute(&mut *tx).await?;
            let span = self.span(message, event);
            let result = async {
                if self.record_in_inbox(&mut tx, event).await? {
                    self.handler.handle(&mut tx, event).await?;
                    self.handler.finish(&mut tx).await?;
                }
                anyhow::Ok(())
            }
            .instrument(span)
            .await;
            match result {
                Ok(()) => {
                    sqlx::query("RELEASE SAVEPOINT crm_event")
                        .execute(&mut *tx)
                        .await?;
                }
                Err(err) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT crm_event")
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("RELEASE SAVEPOINT crm_event")
                        .execute(&mut *tx)
                        .await?;
                    failures.insert(i, err);
                }
            }
        }
        tx.commit().await.context("committing event effects")?;
        Ok(failures)
    }

    /// Records a handled event in the inbox of `tx`; false when it was handled before.
    async fn record_in_inbox(&self, tx: &mut Tx, event: &CloudEvent) -> sqlx::Result<bool> {
        Ok(sqlx::query(
            "INSERT INTO crm_inbox (consumer, event_id, event_type, handled_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.options.durable)
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(crate::now_micros())
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1)
    }

    /// Handles one message: inbox check, handler, commit, then ack (or retry / dead-letter).
    pub async fn process(&self, message: jetstream::Message) -> Outcome {
        if let Ok(info) = message.info() {
            crate::metrics::consumer_lag(&self.options.durable, info.pending);
        }
        let event = match CloudEvent::from_message(message.headers.as_ref(), message.payload.clone()) {
            Ok(event) => event,
            Err(err) => return self.dead_letter(&message, &err).await,
        };
        let span = self.span(&message, &event);
        let result = self.apply(&event).instrument(span.clone()).await;
        let _enter = span.enter();
        match result {
            Ok(outcome) => {
                if let Err(err) = message.ack().await {
                    // Committed but not acked: the redelivery will be recognised by the inbox.
                    tracing::warn!("ack failed: {err}");
                }
                outcome
            }
            Err(err) => self.settle_failure(&message, &err).await,
        }
    }

    async fn apply(&self, event: &CloudEvent) -> anyhow::Result<Outcome> {
        let mut tx = self.db.begin().await?;
        if !self.record_in_inbox(&mut tx, event).await? {
            tx.rollback().await?;
            tracing::debug!(event_id = %event.id, "duplicate event ignored");
            return Ok(Outcome::Duplicate);
        }
        self.handler.handle(&mut tx, event).await?;
        self.handler.finish(&mut tx).await?;
        tx.commit().await.context("committing event effects")?;
        Ok(Outcome::Applied)
    }

    async fn dead_letter(&self, message: &jetstream::Message, err: &anyhow::Error) -> Outcome {
        tracing::error!(consumer = %self.options.durable, subject = %message.subject, "dead-lettering event: {err:#}");
        let mut h = message.headers.clone().unwrap_or_default();
        h.insert(
            headers::DLQ_ERROR,
            format!("{err:#}").replace(['\r', '\n'], " ").as_str(),
        );
        h.insert(headers::DLQ_SUBJECT, message.subject.as_str());
        let publish = async {
            self.js
                .send_publish(
                    dlq_subject(&self.options.durable),
                    PublishMessage::build()
                        .payload(message.payload.clone())
                        .headers(h),
                )
                .await?
                .await?;
            anyhow::Ok(())
        };
        match publish.await {
            Ok(()) => {
                if let Err(err) = message.ack_with(AckKind::Term).await {
                    tracing::warn!("term failed: {err}");
                }
                Outcome::DeadLettered
            }
            Err(err) => {
                // Not parked: let the server deliver it again rather than lose it.
                tracing::warn!("dead-letter publish failed: {err:#}");
                let _ = message
                    .ack_with(AckKind::Nak(Some(self.options.retry_delay)))
                    .await;
                Outcome::Retry
            }
        }
    }
}
