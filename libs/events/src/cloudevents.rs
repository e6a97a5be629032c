//! CloudEvents 1.0 in binary content mode over NATS: attributes in headers, data as the payload.

use anyhow::Context as _;
use bytes::Bytes;

/// Header names.
pub mod headers {
    /// Event id (also sent as `Nats-Msg-Id`).
    pub const ID: &str = "ce-id";
    /// Event type, e.g. `crm.customers.party.created.v1`.
    pub const TYPE: &str = "ce-type";
    /// Producer, e.g. `/crm/customers`.
    pub const SOURCE: &str = "ce-source";
    /// The entity the event is about (e.g. a party id); ordering is kept per subject.
    pub const SUBJECT: &str = "ce-subject";
    /// RFC 3339 time of the change.
    pub const TIME: &str = "ce-time";
    /// Always `1.0`.
    pub const SPECVERSION: &str = "ce-specversion";
    /// Always `application/protobuf`.
    pub const DATACONTENTTYPE: &str = "ce-datacontenttype";
    /// W3C trace context of the change.
    pub const TRACEPARENT: &str = "traceparent";
    /// The producer's outbox sequence (the CloudEvents `sequence` extension): rises with each
    /// event a service commits, so a consumer can tell which of two events was written later.
    pub const SEQUENCE: &str = "ce-sequence";
    /// Set on dead-lettered messages: why the last attempt failed.
    pub const DLQ_ERROR: &str = "crm-dlq-error";
    /// Set on dead-lettered messages: the original NATS subject.
    pub const DLQ_SUBJECT: &str = "crm-dlq-original-subject";
    /// Set on dead-lettered messages: the durable consumer that parked it.
    pub const DLQ_CONSUMER: &str = "crm-dlq-consumer";
    /// Set on dead-lettered messages: failed attempts before it was parked.
    pub const DLQ_ATTEMPTS: &str = "crm-dlq-attempts";
    /// Set on dead-lettered messages: RFC 3339 time it was parked.
    pub const DLQ_PARKED_AT: &str = "crm-dlq-parked-at";
}

/// Content type of every payload.
pub const PROTOBUF: &str = "application/protobuf";

/// An event as carried over NATS.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudEvent {
    /// Unique id (UUIDv7).
    pub id: String,
    /// Type with version suffix.
    pub event_type: String,
    /// Producer.
    pub source: String,
    /// The entity the event is about.
    pub subject: String,
    /// RFC 3339 time.
    pub time: String,
    /// W3C `traceparent` of the producing request, if any.
    pub traceparent: Option<String>,
    /// The producer's outbox sequence, once the relay has sent it.
    pub sequence: Option<i64>,
    /// Protobuf-encoded payload.
    pub data: Bytes,
}

impl CloudEvent {
    /// NATS headers for this event, including `Nats-Msg-Id` for JetStream de-duplication.
    pub fn to_headers(&self) -> async_nats::HeaderMap {
        let mut h = async_nats::HeaderMap::new();
        h.insert(async_nats::header::NATS_MESSAGE_ID, self.id.as_str());
        h.insert(headers::ID, self.id.as_str());
        h.insert(headers::TYPE, self.event_type.as_str());
        h.insert(headers::SOURCE, self.source.as_str());
        h.insert(headers::SUBJECT, self.subject.as_str());
        h.insert(headers::TIME, self.time.as_str());
        h.insert(headers::SPECVERSION, "1.0");
        h.insert(headers::DATACONTENTTYPE, PROTOBUF);
        if let Some(sequence) = self.sequence {
            h.insert(headers::SEQUENCE, sequence.to_string().as_str());
        }
        if let Some(tp) = &self.traceparent {
            h.insert(headers::TRACEPARENT, tp.as_str());
        }
        h
    }

    /// Reads an event from a NATS message's headers and payload.
    pub fn from_message(headers: Option<&async_nats::HeaderMap>, payload: Bytes) -> anyhow::Result<Self> {
        let h = headers.context("message has no headers")?;
        let get = |name: &str| h.get(name).map(|v| v.as_str().to_string());
        let required = |name: &str| {
            get(name)
                .filter(|v| !v.is_empty())
                .with_context(|| format!("missing header {name}"))
        };
        anyhow::ensure!(
            get(headers::SPECVERSION).as_deref() == Some("1.0"),
            "unsupported ce-specversion"
        );
        Ok(Self {
            id: required(headers::ID)?,
            event_type: required(headers::TYPE)?,
            source: required(headers::SOURCE)?,
            subject: get(headers::SUBJECT).unwrap_or_default(),
            time: get(headers::TIME).unwrap_or_default(),
            traceparent: get(headers::TRACEPARENT),
            sequence: get(headers::SEQUENCE).and_then(|s| s.parse().ok()),
            data: payload,
        })
    }

    /// Decodes the payload as `M`.
    pub fn decode<M: prost::Message + Default>(&self) -> anyhow::Result<M> {
        M::decode(self.data.clone()).with_context(|| format!("decoding {} payload", self.event_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let event = CloudEvent {
            id: "0192-id".into(),
            event_type: "crm.test.thing.happened.v1".into(),
            source: "/crm/test".into(),
            subject: "thing-1".into(),
            time: "2026-11-24T10:00:00Z".into(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            sequence: Some(42),
            data: Bytes::from_static(b"\x08\x01"),
        };
        let headers = event.to_headers();
        assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), "0192-id");
        assert_eq!(headers.get("ce-datacontenttype").unwrap().as_str(), PROTOBUF);
        let back = CloudEvent::from_message(Some(&headers), event.data.clone()).unwrap();
        assert_eq!(back, event);
        assert!(CloudEvent::from_message(None, Bytes::new()).is_err());
    }
}
