//! JetStream streams: one per domain (`CRM_<DOMAIN>` on `crm.<domain>.>`) and one for dead
//! letters (`CRM_DLQ` on `crm.dlq.>`).

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// The dead-letter stream.
pub const DLQ_STREAM: &str = "CRM_DLQ";

/// A domain's stream.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Domain name, e.g. `customers`.
    pub domain: String,
    /// How long events are kept.
    pub max_age: Duration,
    /// Window in which a repeated `Nats-Msg-Id` is dropped.
    pub duplicate_window: Duration,
}

impl StreamSpec {
    /// The defaults for `domain`: events kept 30 days, duplicates dropped within 10 minutes.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_string(),
            max_age: Duration::from_secs(30 * 86_400),
            duplicate_window: Duration::from_secs(600),
        }
    }

    /// The stream's name.
    pub fn name(&self) -> String {
        format!("CRM_{}", self.domain.to_ascii_uppercase())
    }

    /// The subjects it captures.
    pub fn subjects(&self) -> String {
        format!("crm.{}.>", self.domain)
    }
}

/// Creates the stream, or updates it to `spec`, and the dead-letter stream.
pub async fn ensure_stream(js: &jetstream::Context, spec: &StreamSpec) -> anyhow::Result<()> {
    js.create_or_update_stream(stream::Config {
        name: spec.name(),
        subjects: vec![spec.subjects()],
        max_age: spec.max_age,
        duplicate_window: spec.duplicate_window,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    js.create_or_update_stream(stream::Config {
        name: DLQ_STREAM.to_string(),
        subjects: vec!["crm.dlq.>".to_string()],
        max_age: Duration::from_secs(90 * 86_400),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// The dead-letter subject of a consumer.
pub fn dlq_subject(consumer: &str) -> String {
    format!("crm.dlq.{consumer}")
}
