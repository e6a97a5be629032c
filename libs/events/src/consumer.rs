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
use crate::failure::{Failure, Panicked, Unreachable, classify};
use crate::outbox::parent_context;
use crate::streams::{StreamSpec, dlq_subject, ensure_read_stream, redrive_subject};

/// Applies events of one kind of consumer.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` inside `tx`, which also records the event in the inbox. An error (or a
    /// panic) rolls both back; the message is delivered again later. Errors that may pass by
    /// themselves (see [`crate::failure`]) are retried for as long as it takes; others are
    /// counted, and the message is dead-lettered after the last attempt.
    fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Runs in the same transaction once the events applied with it were handled: work that
    /// several events of a batch share (e.g. recomputing a figure two events changed) is done
    /// here once. The default does nothing.
    fn finish(&self, tx: &mut Tx) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }
}

/// Most messages applied in one transaction, and most held from the server at once: a message
/// waits in the client no longer than one batch takes.
const MAX_BATCH: usize = 100;

/// Most messages delivered to a consumer and not yet acknowledged (across its replicas).
const MAX_ACK_PENDING: i64 = 1_000;

/// The longest a consumer pauses after a failure that may pass by itself.
const MAX_PAUSE: Duration = Duration::from_secs(30);

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
    /// Failed attempts (of the kind that say something about the event) before it is
    /// dead-lettered.
    pub max_attempts: i64,
    /// How long the server waits for an ack (or a progress report) before delivering again.
    pub ack_wait: Duration,
    /// Delay before a failed message is retried, multiplied by the attempt number.
    pub retry_delay: Duration,
}

impl ConsumerOptions {
    /// Defaults for a consumer named `durable` of `domain`'s stream: 5 attempts, 30 s ack wait.
    pub fn new(durable: &str, domain: &str) -> Self {
        Self {
            durable: durable.to_string(),
            stream: StreamSpec::new(domain),
            filter_subjects: Vec::new(),
            max_attempts: 5,
            ack_wait: Duration::from_secs(30),
            retry_delay: Duration::from_secs(1),
        }
    }

    /// Defaults for the consumer a service declared it reads with (see
    /// [`crate::permissions`]).
    pub fn reading(reading: crate::permissions::Reading) -> Self {
        Self::new(reading.durable, reading.domain)
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
    /// Failed in a way that counts toward dead-lettering; will be delivered again.
    Retry,
    /// Failed for a reason that may pass by itself (the database unreachable, say): delivered
    /// again after the consumer pauses, not counted.
    Deferred,
    /// Failed for the last time (or cannot be read): parked on the dead-letter subject.
    DeadLettered,
}

/// What the consumer does after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Takes the next messages.
    Continue,
    /// Pauses first: a failure that may pass left messages to come again.
    Pause,
}

/// A durable pull consumer feeding an [`EventHandler`].
#[derive(Debug)]
pub struct Consumer<H> {
    db: Db,
    js: jetstream::Context,
    options: ConsumerOptions,
    handler: Arc<H>,
    /// The subject that re-drives dead letters into this consumer.
    redrive: String,
    /// What every re-drive subject of the stream starts with.
    redrive_prefix: String,
}

impl<H: EventHandler> Consumer<H> {
    /// A consumer applying events to `db` through `handler`.
    pub fn new(db: Db, client: async_nats::Client, options: ConsumerOptions, handler: H) -> Self {
        Self {
            db,
            js: jetstream::new(client),
            redrive: redrive_subject(&options.stream, &options.durable),
            redrive_prefix: redrive_subject(&options.stream, ""),
            options,
            handler: Arc::new(handler),
        }
    }

    /// Runs until `stop` is cancelled, re-subscribing after NATS outages and pausing, with a
    /// growing pause, after failures that may pass by themselves.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(100);
        let mut pause = Duration::ZERO;
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
                                if self.process_batch(batch).await == Flow::Pause {
                                    pause = (pause * 2).clamp(self.options.retry_delay, MAX_PAUSE);
                                    tracing::warn!(consumer = %self.options.durable, pause_ms = pause.as_millis() as u64, "pausing after a failure that may pass");
                                    tokio::select! {
                                        () = stop.cancelled() => return Ok(()),
                                        () = tokio::time::sleep(pause) => {}
                                    }
                                } else {
                                    pause = Duration::ZERO;
                                }
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
        ensure_read_stream(&self.js, &self.options.stream).await?;
        let stream = self.js.get_stream(self.options.stream.name()).await?;
        // Events re-driven from the dead-letter stream come to this consumer alone.
        let mut filter_subjects = Vec::new();
        if !self.options.filter_subjects.is_empty() {
            // Each subject also as `<subject>.<party>`, where events carrying a party's
            // personal data are published (see crate::privacy).
            for subject in self.options.filter_subjects.iter().chain([&self.redrive]) {
                filter_subjects.push(subject.clone());
                filter_subjects.push(format!("{subject}.*"));
            }
        }
        // Where it starts is kept: an operator may have rewound it after a restore (see
        // crate::recovery), and the server refuses to change it.
        let deliver_policy = match stream.consumer_info(&self.options.durable).await {
            Ok(info) => info.config.deliver_policy,
            Err(_) => jetstream::consumer::DeliverPolicy::All,
        };
        // Create or update: a new release that listens to more subjects updates the durable
        // consumer instead of keeping its old filter. The server delivers without limit: a
        // message is given up only once it is parked on the dead-letter subject.
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .create_consumer(pull::Config {
                durable_name: Some(self.options.durable.clone()),
                deliver_policy,
                filter_subjects,
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: self.options.ack_wait,
                max_deliver: -1,
                max_ack_pending: MAX_ACK_PENDING,
                ..Default::default()
            })
            .await?;
        Ok(consumer
            .stream()
            .max_messages_per_batch(MAX_BATCH)
            .messages()
            .await?)
    }

    /// Applies messages that arrived together in one transaction and acks them after the
    /// commit. When that fails for a reason in one of the events, each is applied on its own,
    /// so the one that fails is retried or dead-lettered alone and the others take effect.
    async fn process_batch(&self, batch: Vec<jetstream::Message>) -> Flow {
        // A consumer of the whole stream also receives what is re-driven to the others.
        let (foreign, batch): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|m| self.redriven_to_another(&m.subject));
        for message in foreign {
            if let Err(err) = message.ack().await {
                tracing::debug!("ack failed: {err}");
            }
        }
        if batch.is_empty() {
            return Flow::Continue;
        }
        let again = batch
            .iter()
            .filter(|m| m.info().is_ok_and(|i| i.delivered > 1))
            .count();
        if again > 0 {
            crate::metrics::redelivered(&self.options.durable, again as u64);
        }
        let events: Vec<CloudEvent> = batch
            .iter()
            .map_while(|m| CloudEvent::from_message(m.headers.as_ref(), m.payload.clone()).ok())
            .collect();
        if batch.len() == 1 || events.len() < batch.len() {
            return self.process_each(batch).await;
        }
        if let Some(info) = batch.last().and_then(|m| m.info().ok()) {
            crate::metrics::consumer_lag(&self.options.durable, info.pending);
        }
        // The common case in one go: every event applies.
        let together = with_progress(
            &batch,
            self.options.ack_wait,
            self.apply_together(&batch, &events),
        )
        .await;
        match together {
            Ok(()) => {
                for message in &batch {
                    if let Err(err) = message.ack().await {
                        // Committed but not acked: the redelivery will be recognised by the inbox.
                        tracing::warn!("ack failed: {err}");
                    }
                }
                Flow::Continue
            }
            Err(err) if classify(&err) == Failure::Retryable => {
                tracing::warn!(consumer = %self.options.durable, "applying a batch of events failed, will retry: {err:#}");
                crate::metrics::deferred(&self.options.durable, batch.len() as u64);
                for message in &batch {
                    self.nak(message, self.options.retry_delay).await;
                }
                Flow::Pause
            }
            Err(err) => {
                tracing::debug!(consumer = %self.options.durable, "a batch of events failed together, applying one by one: {err:#}");
                self.process_each(batch).await
            }
        }
    }

    /// Whether `subject` re-drives dead letters into another consumer of the stream.
    fn redriven_to_another(&self, subject: &str) -> bool {
        let target = match crate::privacy::person_of(subject) {
            Some(_) => subject.rsplit_once('.').map_or(subject, |(head, _)| head),
            None => subject,
        };
        target.starts_with(&self.redrive_prefix) && target != self.redrive
    }

    /// Applies each message in its own transaction; after a failure that may pass, the rest
    /// are left to come again.
    async fn process_each(&self, batch: Vec<jetstream::Message>) -> Flow {
        let mut messages = batch.into_iter();
        while let Some(message) = messages.next() {
            if self.process(message).await == Outcome::Deferred {
                for rest in messages {
                    self.nak(&rest, self.options.retry_delay).await;
                }
                return Flow::Pause;
            }
        }
        Flow::Continue
    }

    /// Handles one message: inbox check, handler, commit, then ack (or retry / dead-letter).
    pub async fn process(&self, message: jetstream::Message) -> Outcome {
        if let Ok(info) = message.info() {
            crate::metrics::consumer_lag(&self.options.durable, info.pending);
        }
        let event = match CloudEvent::from_message(message.headers.as_ref(), message.payload.clone()) {
            Ok(event) => event,
            // Nothing can make an unreadable message readable: parked at once.
            Err(err) => return self.dead_letter(&message, &err, 1).await,
        };
        let span = self.span(&message, &event);
        let result = with_progress(
            std::slice::from_ref(&message),
            self.options.ack_wait,
            self.apply(&event).instrument(span.clone()),
        )
        .await;
        // Instrumented, not entered: a span entered across an await stays on the thread's
        // stack when the task moves, and outlives the thread's context at shutdown.
        async {
            match result {
                Ok(outcome) => {
                    if let Err(err) = message.ack().await {
                        // Committed but not acked: the redelivery will be recognised by the
                        // inbox.
                        tracing::warn!("ack failed: {err}");
                    }
                    outcome
                }
                Err(err) => self.settle_failure(&message, &event, &err).await,
            }
        }
        .instrument(span)
        .await
    }

    /// A failed message: one that may pass comes again after a pause, uncounted; others are
    /// counted, retried with a growing delay, and dead-lettered after the last attempt.
    async fn settle_failure(
        &self,
        message: &jetstream::Message,
        event: &CloudEvent,
        err: &anyhow::Error,
    ) -> Outcome {
        if classify(err) == Failure::Retryable {
            tracing::warn!("event handling failed for a reason that may pass, will retry: {err:#}");
            crate::metrics::deferred(&self.options.durable, 1);
            self.nak(message, self.options.retry_delay).await;
            return Outcome::Deferred;
        }
        let attempts = match self.count_failure(event, err).await {
            Ok(attempts) => attempts,
            Err(count_err) => {
                // The failure cannot be counted (the database is failing too): not counted.
                tracing::warn!(
                    "event handling failed: {err:#}; counting the attempt failed too: {count_err:#}"
                );
                self.nak(message, self.options.retry_delay).await;
                return Outcome::Deferred;
            }
        };
        if attempts >= self.options.max_attempts {
            return self.dead_letter(message, err, attempts).await;
        }
        tracing::warn!(attempt = attempts, "event handling failed, will retry: {err:#}");
        let delay = self.options.retry_delay * u32::try_from(attempts.max(1)).unwrap_or(1);
        self.nak(message, delay).await;
        Outcome::Retry
    }

    /// Counts a failed attempt at `event` (outside any transaction of the event's); returns the
    /// attempts so far.
    async fn count_failure(&self, event: &CloudEvent, err: &anyhow::Error) -> sqlx::Result<i64> {
        sqlx::query(
            "INSERT INTO crm_event_failures (consumer, event_id, attempts, last_error, failed_at) \
             VALUES ($1, $2, 1, $3, $4) ON CONFLICT (consumer, event_id) DO UPDATE SET \
             attempts = crm_event_failures.attempts + 1, last_error = excluded.last_error, \
             failed_at = excluded.failed_at RETURNING attempts",
        )
        .bind(&self.options.durable)
        .bind(&event.id)
        .bind(format!("{err:#}"))
        .bind(crate::now_micros())
        .fetch_one(self.db.pool())
        .await?
        .try_get("attempts")
    }

    /// Forgets the failed attempts at `event_id` (once it is parked; a re-driven copy starts
    /// afresh).
    async fn forget_failures(&self, event_id: &str) {
        let forgotten = sqlx::query("DELETE FROM crm_event_failures WHERE consumer = $1 AND event_id = $2")
            .bind(&self.options.durable)
            .bind(event_id)
            .execute(self.db.pool())
            .await;
        if let Err(err) = forgotten {
            tracing::debug!("forgetting failed attempts: {err}");
        }
    }

    async fn nak(&self, message: &jetstream::Message, delay: Duration) {
        if let Err(err) = message.ack_with(AckKind::Nak(Some(delay))).await {
            tracing::warn!("nak failed: {err}");
        }
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
        let mut tx = self.db.begin().await.context(Unreachable)?;
        let mut fresh = self.record_all_in_inbox(&mut tx, events).await?;
        for (message, event) in batch.iter().zip(events) {
            // `remove`: an event delivered twice within the batch applies once.
            if fresh.remove(event.id.as_str()) {
                let span = self.span(message, event);
                contained(self.handler.handle(&mut tx, event))
                    .instrument(span)
                    .await?;
            }
        }
        contained(self.handler.finish(&mut tx)).await?;
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

    async fn apply(&self, event: &CloudEvent) -> anyhow::Result<Outcome> {
        let mut tx = self.db.begin().await.context(Unreachable)?;
        if !self.record_in_inbox(&mut tx, event).await? {
            tx.rollback().await?;
            tracing::debug!(event_id = %event.id, "duplicate event ignored");
            return Ok(Outcome::Duplicate);
        }
        contained(self.handler.handle(&mut tx, event)).await?;
        contained(self.handler.finish(&mut tx)).await?;
        tx.commit().await.context("committing event effects")?;
        Ok(Outcome::Applied)
    }

    /// Parks `message` on this consumer's dead-letter subject, then terminates its delivery.
    /// The dead letter's `Nats-Msg-Id` names this consumer and the message's place in its
    /// stream: the same event parked by two consumers is two dead letters, the same delivery
    /// parked twice is one. When parking fails the message comes again: it is never dropped.
    async fn dead_letter(&self, message: &jetstream::Message, err: &anyhow::Error, attempts: i64) -> Outcome {
        tracing::error!(consumer = %self.options.durable, subject = %message.subject, "dead-lettering event: {err:#}");
        let mut h = message.headers.clone().unwrap_or_default();
        let place = message
            .info()
            .map(|i| format!("{}:{}", i.stream, i.stream_sequence))
            .unwrap_or_else(|_| h.get(headers::ID).map(|id| id.to_string()).unwrap_or_default());
        h.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("{}:{place}", self.options.durable).as_str(),
        );
        h.insert(
            headers::DLQ_ERROR,
            format!("{err:#}").replace(['\r', '\n'], " ").as_str(),
        );
        h.insert(headers::DLQ_SUBJECT, message.subject.as_str());
        h.insert(headers::DLQ_CONSUMER, self.options.durable.as_str());
        h.insert(headers::DLQ_ATTEMPTS, attempts.to_string().as_str());
        h.insert(headers::DLQ_PARKED_AT, chrono::Utc::now().to_rfc3339().as_str());
        // A letter with a party's personal data names the party, so erasing it purges the letter.
        let letter_subject = match crate::privacy::person_of(&message.subject) {
            Some(person) => format!("{}.{person}", dlq_subject(&self.options.durable)),
            None => dlq_subject(&self.options.durable),
        };
        let publish = async {
            self.js
                .send_publish(
                    letter_subject.clone(),
                    PublishMessage::build()
                        .payload(message.payload.clone())
                        .headers(h.clone()),
                )
                .await?
                .await?;
            anyhow::Ok(())
        };
        match publish.await {
            Ok(()) => {
                crate::metrics::dead_lettered(&self.options.durable);
                if let Some(id) = h.get(headers::ID) {
                    self.forget_failures(id.as_str()).await;
                }
                if let Err(err) = message.ack_with(AckKind::Term).await {
                    // Parked but not terminated: the next delivery is parked again under the
                    // same id, which the dead-letter stream drops.
                    tracing::warn!("term failed: {err}");
                }
                Outcome::DeadLettered
            }
            Err(err) => {
                // Not parked: the server delivers it again rather than lose it.
                tracing::warn!("dead-letter publish failed: {err:#}");
                self.nak(message, self.options.retry_delay).await;
                Outcome::Deferred
            }
        }
    }
}

/// Runs a handler's future with its panics contained: a panic becomes a [`Panicked`] error of
/// the event it was applying, and the consumer goes on.
async fn contained(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work)).await {
        Ok(result) => result,
        Err(payload) => Err(Panicked::from_payload(payload).into()),
    }
}

/// Runs `work` while telling the server, every third of the ack wait, that `messages` are still
/// being worked on, so that a long batch is not delivered again meanwhile.
async fn with_progress<T>(
    messages: &[jetstream::Message],
    ack_wait: Duration,
    work: impl Future<Output = T>,
) -> T {
    let every = (ack_wait / 3).max(Duration::from_millis(100));
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            () = tokio::time::sleep(every) => {
                for message in messages {
                    if let Err(err) = message.ack_with(AckKind::Progress).await {
                        tracing::debug!("progress ack failed: {err}");
                    }
                }
            }
        }
    }
}
