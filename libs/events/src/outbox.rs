//! Writing events into the outbox, inside the caller's transaction.

use crm_proto::events::EventKind;
use crm_storage::{Arg, Tx};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// An event to publish once the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// NATS subject, `crm.<domain>.<entity>.<action>`.
    pub nats_subject: String,
    /// CloudEvents type: the subject plus a version suffix.
    pub event_type: String,
    /// The entity the event is about (CloudEvents `subject`), e.g. a party id.
    pub key: String,
    /// Protobuf payload.
    pub payload: Vec<u8>,
    /// CloudEvents source: the publishing domain's, `/crm/<domain>`.
    pub source: String,
    /// The party whose personal data the payload carries, if any (see
    /// [`NewEvent::about_person`]).
    pub person: Option<String>,
}

impl NewEvent {
    /// An event of `kind` about `key`.
    pub fn of<M: prost::Message>(kind: EventKind<M>, key: impl Into<String>, payload: &M) -> Self {
        Self {
            nats_subject: kind.subject.to_string(),
            event_type: kind.event_type.to_string(),
            key: key.into(),
            payload: payload.encode_to_vec(),
            source: format!("/crm/{}", kind.domain),
            person: None,
        }
    }

    /// An event `crm.<domain>.<name>` (type `crm.<domain>.<name>.v1`) about `key`, for an event
    /// without a definition in `crm_proto` (tests of the mechanism itself).
    pub fn new(domain: &str, name: &str, key: impl Into<String>, payload: &impl prost::Message) -> Self {
        let nats_subject = format!("crm.{domain}.{name}");
        Self {
            event_type: format!("{nats_subject}.v1"),
            nats_subject,
            key: key.into(),
            payload: payload.encode_to_vec(),
            source: format!("/crm/{domain}"),
            person: None,
        }
    }

    /// The same event, a bulk announcement carrying personal data of many parties (an import's
    /// batch): its outbox row is deleted, once sent, when any party is erased; the stream keeps
    /// it until its readers have settled it (see [`crate::privacy::purge_settled`]).
    pub fn about_people(mut self) -> Self {
        self.person = Some(crate::privacy::MANY.to_string());
        self
    }

    /// The same event, carrying personal data of the party `person`: it is published on
    /// `<subject>.<person>` and its outbox row names the party, so that erasing the party can
    /// delete the row and purge the message from the stream (see [`crate::privacy`]). An id
    /// that cannot be a subject token (never one the suite makes) leaves the event as it was.
    pub fn about_person(mut self, person: &str) -> Self {
        if crate::privacy::is_token(person) {
            self.nats_subject = format!("{}.{person}", self.nats_subject);
            self.person = Some(person.to_string());
        } else if !person.is_empty() {
            tracing::warn!(person, subject = %self.nats_subject, "a party id unusable in a subject: its event cannot be purged on erasure");
        }
        self
    }
}

/// Writes an event of `kind` about `key` into the outbox of `tx`.
pub async fn publish<M: prost::Message>(
    tx: &mut Tx,
    kind: EventKind<M>,
    key: &str,
    payload: &M,
) -> sqlx::Result<()> {
    enqueue(tx, NewEvent::of(kind, key, payload)).await?;
    Ok(())
}

/// Writes an event of `kind` about `key` carrying personal data of the party `person` into the
/// outbox of `tx` (see [`NewEvent::about_person`]).
pub async fn publish_about<M: prost::Message>(
    tx: &mut Tx,
    kind: EventKind<M>,
    key: &str,
    person: &str,
    payload: &M,
) -> sqlx::Result<()> {
    enqueue(tx, NewEvent::of(kind, key, payload).about_person(person)).await?;
    Ok(())
}

/// Writes `event` to the outbox in `tx`; it is published only if `tx` commits. Returns the
/// event id. Write it after the state change it announces, so that events about one entity get
/// increasing sequence numbers in commit order.
pub async fn enqueue(tx: &mut Tx, event: NewEvent) -> sqlx::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now();
    sqlx::query(
        "INSERT INTO crm_outbox (event_id, subject, event_type, source, event_subject, event_time, payload, traceparent, created_at, person) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(event.nats_subject)
    .bind(event.event_type)
    .bind(event.source)
    .bind(event.key)
    .bind(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    .bind(event.payload)
    .bind(current_traceparent())
    .bind(now.timestamp_micros())
    .bind(event.person)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Most records one batch event carries (a bulk import announces what it created this way).
pub const RECORDS_PER_BATCH_EVENT: usize = 500;

/// Payload bytes after which a batch event takes no more records: long texts must not push it
/// past the broker's message size limit (1 MiB by default).
pub const BYTES_PER_BATCH_EVENT: usize = 256 * 1024;

/// Batch events of `kind` about `key` (an import run) announcing `records`, at most
/// [`RECORDS_PER_BATCH_EVENT`] records or [`BYTES_PER_BATCH_EVENT`] payload bytes each, in
/// order; `wrap` makes the payload of one batch.
pub fn batch_events<T, M>(
    kind: EventKind<M>,
    key: &str,
    records: impl IntoIterator<Item = T>,
    wrap: impl Fn(Vec<T>) -> M,
) -> Vec<NewEvent>
where
    T: prost::Message,
    M: prost::Message,
{
    let mut events = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0;
    for record in records {
        bytes += record.encoded_len();
        batch.push(record);
        if batch.len() >= RECORDS_PER_BATCH_EVENT || bytes >= BYTES_PER_BATCH_EVENT {
            events.push(NewEvent::of(kind, key, &wrap(std::mem::take(&mut batch))));
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        events.push(NewEvent::of(kind, key, &wrap(batch)));
    }
    events
}

/// Writes `events` to the outbox in `tx` with multi-row inserts (bulk imports), in order.
pub async fn enqueue_many(tx: &mut Tx, events: Vec<NewEvent>) -> sqlx::Result<()> {
    let now = chrono::Utc::now();
    let time = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let traceparent = current_traceparent();
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<NewEvent> = events.by_ref().take(500).collect();
        let q = crm_storage::SqlBuilder::insert_rows(
            "crm_outbox (event_id, subject, event_type, source, event_subject, event_time, payload, traceparent, created_at, person)",
            chunk.into_iter().map(|e| {
                [
                    Arg::from(uuid::Uuid::now_v7().to_string()),
                    Arg::from(e.nats_subject),
                    Arg::from(e.event_type),
                    Arg::from(e.source),
                    Arg::from(e.key),
                    Arg::from(time.as_str()),
                    Arg::from(e.payload),
                    Arg::from(traceparent.clone()),
                    Arg::from(now.timestamp_micros()),
                    Arg::from(e.person),
                ]
            }),
        );
        q.build().execute(tx).await?;
    }
    Ok(())
}

/// The W3C `traceparent` of the current span, if it is part of a trace.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// The remote parent context described by a `traceparent` header.
pub fn parent_context(traceparent: &str) -> Option<opentelemetry::Context> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let sc = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    sc.is_valid()
        .then(|| opentelemetry::Context::new().with_remote_span_context(sc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_traceparent() {
        let cx = parent_context("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(parent_context("garbage").is_none());
        assert!(parent_context("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none());
    }
}
