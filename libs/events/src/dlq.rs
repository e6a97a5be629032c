//! The dead-letter stream for operators: what is parked and why, and re-driving a dead letter
//! into the one consumer that parked it once the cause is fixed (`crm dlq list|show|replay`).

use async_nats::jetstream::{self, message::StreamMessage, stream::RawMessageErrorKind};
use bytes::Bytes;

use crate::cloudevents::headers;
use crate::streams::{DLQ_STREAM, StreamSpec, redrive_subject};

/// A parked message.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its place in the dead-letter stream.
    pub sequence: u64,
    /// The consumer that parked it.
    pub consumer: String,
    /// The subject it was published on.
    pub original_subject: String,
    /// The event's id (`ce-id`), empty when the message was not a readable event.
    pub event_id: String,
    /// The event's type (`ce-type`).
    pub event_type: String,
    /// The entity it is about (`ce-subject`).
    pub entity: String,
    /// Why the last attempt failed.
    pub error: String,
    /// Failed attempts before it was parked.
    pub attempts: String,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
    /// The event's payload, as published.
    pub payload: Bytes,
}

impl DeadLetter {
    fn of(message: StreamMessage) -> Self {
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        let consumer = match header(headers::DLQ_CONSUMER) {
            named if !named.is_empty() => named,
            // Parked before the consumer was named in a header: its subject names it.
            _ => message
                .subject
                .strip_prefix("crm.dlq.")
                .and_then(|rest| rest.split('.').next())
                .unwrap_or_default()
                .to_string(),
        };
        Self {
            sequence: message.sequence,
            consumer,
            original_subject: header(headers::DLQ_SUBJECT),
            event_id: header(headers::ID),
            event_type: header(headers::TYPE),
            entity: header(headers::SUBJECT),
            error: header(headers::DLQ_ERROR),
            attempts: header(headers::DLQ_ATTEMPTS),
            parked_at: header(headers::DLQ_PARKED_AT),
            payload: message.payload,
        }
    }
}

/// Up to `limit` dead letters after sequence `after`, oldest first, of one consumer or all.
pub async fn list(
    js: &jetstream::Context,
    consumer: Option<&str>,
    after: u64,
    limit: usize,
) -> anyhow::Result<Vec<DeadLetter>> {
    let stream = js.get_stream(DLQ_STREAM).await?;
    let mut out = Vec::new();
    let mut next = after + 1;
    while out.len() < limit {
        // One consumer's letters are on `crm.dlq.<consumer>` and, with a party's personal data,
        // `crm.dlq.<consumer>.<party>`: read them all and keep that consumer's (dead letters are
        // few).
        match stream.get_first_raw_message_by_subject("crm.dlq.>", next).await {
            Ok(message) => {
                next = message.sequence + 1;
                let letter = DeadLetter::of(message);
                if consumer.is_none_or(|c| c == letter.consumer) {
                    out.push(letter);
                }
            }
            Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(out)
}

/// The dead letter at `sequence`.
pub async fn get(js: &jetstream::Context, sequence: u64) -> anyhow::Result<DeadLetter> {
    let stream = js.get_stream(DLQ_STREAM).await?;
    match stream.get_raw_message(sequence).await {
        Ok(message) => Ok(DeadLetter::of(message)),
        Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => {
            anyhow::bail!("no dead letter {sequence}")
        }
        Err(err) => Err(err.into()),
    }
}

/// Re-drives the dead letter at `sequence` into the consumer that parked it (and no other), on
/// its domain's stream, then removes it from the dead-letter stream. The event keeps its id, so
/// a consumer that applied it meanwhile skips it. Returns the dead letter.
pub async fn replay(js: &jetstream::Context, sequence: u64) -> anyhow::Result<DeadLetter> {
    let stream = js.get_stream(DLQ_STREAM).await?;
    let message = match stream.get_raw_message(sequence).await {
        Ok(message) => message,
        Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => {
            anyhow::bail!("no dead letter {sequence}")
        }
        Err(err) => return Err(err.into()),
    };
    // The event's own headers, without what parking it added.
    let mut h = async_nats::HeaderMap::new();
    for (name, values) in message.headers.iter() {
        let name_text = name.to_string();
        if name_text.starts_with("crm-dlq-") || name_text.eq_ignore_ascii_case("Nats-Msg-Id") {
            continue;
        }
        for value in values {
            h.append(name.clone(), value.clone());
        }
    }
    let letter = DeadLetter::of(message);
    let domain = letter
        .original_subject
        .strip_prefix("crm.")
        .and_then(|rest| rest.split('.').next())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "dead letter {sequence} does not say which stream it came from (original subject {:?})",
                letter.original_subject
            )
        })?;
    anyhow::ensure!(
        !letter.consumer.is_empty(),
        "dead letter {sequence} names no consumer"
    );
    // Its own id: replaying the same dead letter twice within the duplicate window publishes once.
    h.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("redrive:{}:{sequence}", letter.consumer).as_str(),
    );
    let mut subject = redrive_subject(&StreamSpec::new(domain), &letter.consumer);
    // Still purged if the party is erased.
    if let Some(person) = crate::privacy::person_of(&letter.original_subject) {
        subject = format!("{subject}.{person}");
    }
    js.publish_with_headers(subject, h, letter.payload.clone())
        .await?
        .await?;
    stream.delete_message(sequence).await?;
    Ok(letter)
}
