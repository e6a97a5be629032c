//! JetStream streams: one per domain (`CRM_<DOMAIN>` on `crm.<domain>.>`) and one for dead
//! letters (`CRM_DLQ` on `crm.dlq.>`).
//!
//! What the code needs of a stream (its subjects, how long it keeps events, its duplicate
//! window) is applied at every start; what an operator decides (replicas, the size limit) comes
//! from [`StreamSettings`] and only ever grows an existing stream: a service started with the
//! defaults does not undo an operator's three replicas.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// The dead-letter stream.
pub const DLQ_STREAM: &str = "CRM_DLQ";

/// How long dead letters are kept.
const DLQ_MAX_AGE: Duration = Duration::from_secs(90 * 86_400);

/// How the streams are kept: an operator's settings.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct StreamSettings {
    /// Replicas of each stream (3 in a clustered production deployment). An existing stream with
    /// more keeps them.
    #[arg(long = "stream-replicas", env = "CRM_STREAM_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// Most MiB a stream keeps (0: no limit but its 30-day retention). A full stream refuses
    /// new events, which wait in the outbox, rather than drop old ones a consumer may not have
    /// read. JetStream reserves the limit of every stream on its disk when the stream is made.
    /// An existing stream allowed more keeps its limit.
    #[arg(long = "stream-max-mib", env = "CRM_STREAM_MAX_MIB", default_value_t = 0)]
    pub max_mib: i64,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            replicas: 1,
            max_mib: 0,
        }
    }
}

/// A domain's stream.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// Domain name, e.g. `customers`.
    pub domain: String,
    /// How long events are kept.
    pub max_age: Duration,
    /// Window in which a repeated `Nats-Msg-Id` is dropped.
    pub duplicate_window: Duration,
    /// Replicas and size limit.
    pub settings: StreamSettings,
}

impl StreamSpec {
    /// The defaults for `domain`: events kept 30 days, duplicates dropped within 10 minutes,
    /// the default [`StreamSettings`].
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_string(),
            max_age: Duration::from_secs(30 * 86_400),
            duplicate_window: Duration::from_secs(600),
            settings: StreamSettings::default(),
        }
    }

    /// The same stream kept as `settings` say.
    pub fn with(mut self, settings: &StreamSettings) -> Self {
        self.settings = settings.clone();
        self
    }

    /// The stream's name.
    pub fn name(&self) -> String {
        format!("CRM_{}", self.domain.to_ascii_uppercase())
    }

    /// The subjects it captures.
    pub fn subjects(&self) -> String {
        format!("crm.{}.>", self.domain)
    }

    fn config(&self) -> stream::Config {
        stream::Config {
            name: self.name(),
            subjects: vec![self.subjects()],
            max_age: self.max_age,
            duplicate_window: self.duplicate_window,
            ..kept_as(&self.settings)
        }
    }
}

/// A new stream's storage, replicas, size limit and discard policy.
fn kept_as(settings: &StreamSettings) -> stream::Config {
    stream::Config {
        storage: stream::StorageType::File,
        num_replicas: settings.replicas.max(1),
        max_bytes: if settings.max_mib > 0 {
            settings.max_mib.saturating_mul(1 << 20)
        } else {
            -1
        },
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// The dead-letter stream as `settings` keep it.
fn dlq_config(settings: &StreamSettings) -> stream::Config {
    stream::Config {
        name: DLQ_STREAM.to_string(),
        subjects: vec!["crm.dlq.>".to_string()],
        max_age: DLQ_MAX_AGE,
        ..kept_as(settings)
    }
}

/// Creates the stream of `spec` and the dead-letter stream, or brings existing ones to what the
/// code needs without undoing an operator's settings.
pub async fn ensure_stream(js: &jetstream::Context, spec: &StreamSpec) -> anyhow::Result<()> {
    ensure(js, spec.config()).await?;
    ensure(js, dlq_config(&spec.settings)).await
}

/// Makes sure the stream `spec` a consumer reads exists (creating it as its producer would,
/// should the consumer start first) without changing an existing one, which is its producer's
/// to keep; and creates or updates the dead-letter stream.
pub async fn ensure_read_stream(js: &jetstream::Context, spec: &StreamSpec) -> anyhow::Result<()> {
    let wanted = spec.config();
    let exists = match js.get_stream(&wanted.name).await {
        Ok(_) => true,
        Err(err) if not_found(&err) => false,
        Err(err) => return Err(err.into()),
    };
    // Another process may create it between the look and the create: then it exists.
    if !exists && let Err(err) = js.create_stream(wanted.clone()).await {
        js.get_stream(&wanted.name)
            .await
            .map_err(|_| anyhow::anyhow!("could not create stream {}: {err}", wanted.name))?;
    }
    ensure(js, dlq_config(&spec.settings)).await
}

async fn ensure(js: &jetstream::Context, wanted: stream::Config) -> anyhow::Result<()> {
    // Twice: another service may create the stream between the look and the create.
    for _ in 0..2 {
        match js.get_stream(&wanted.name).await {
            Ok(mut existing) => {
                let current = existing.info().await?.config.clone();
                if let Some(update) = reconciled(&current, &wanted) {
                    js.update_stream(update).await?;
                }
                return Ok(());
            }
            Err(err) if not_found(&err) => {
                if js.create_stream(wanted.clone()).await.is_ok() {
                    return Ok(());
                }
            }
            Err(err) => return Err(err.into()),
        }
    }
    anyhow::bail!("could not create or update stream {}", wanted.name)
}

/// Whether looking a stream up failed because it does not exist.
pub(crate) fn not_found(err: &jetstream::context::GetStreamError) -> bool {
    matches!(
        err.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(e)
            if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// What to change in an existing stream: the subjects, retention and duplicate window follow
/// the code; replicas and the size limit only grow (unlimited stays unlimited); the discard
/// policy is left as it is. `None` when nothing changes.
fn reconciled(current: &stream::Config, wanted: &stream::Config) -> Option<stream::Config> {
    let mut next = current.clone();
    next.subjects = wanted.subjects.clone();
    next.max_age = wanted.max_age;
    next.duplicate_window = wanted.duplicate_window;
    next.num_replicas = current.num_replicas.max(wanted.num_replicas);
    let unlimited = |bytes: i64| bytes <= 0;
    if !unlimited(current.max_bytes) && (unlimited(wanted.max_bytes) || wanted.max_bytes > current.max_bytes)
    {
        next.max_bytes = wanted.max_bytes;
    }
    (next != *current).then_some(next)
}

/// The dead-letter subject of a consumer.
pub fn dlq_subject(consumer: &str) -> String {
    format!("crm.dlq.{consumer}")
}

/// The subject on `spec`'s stream that re-drives dead letters into the one consumer `durable`
/// (see [`crate::dlq::replay`]); producers never publish on it.
pub fn redrive_subject(spec: &StreamSpec, durable: &str) -> String {
    format!("crm.{}.{REDRIVE}.{durable}", spec.domain)
}

/// The token of re-drive subjects after the domain.
const REDRIVE: &str = "redrive";

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(replicas: usize, max_mib: i64) -> stream::Config {
        StreamSpec::new("sales")
            .with(&StreamSettings { replicas, max_mib })
            .config()
    }

    #[test]
    fn an_operator_s_replicas_and_size_limit_are_never_lowered() {
        let mut operated = spec(3, 65_536);
        operated.discard = stream::DiscardPolicy::Old;
        assert_eq!(reconciled(&operated, &spec(1, 8192)), None);
        let mut unlimited = spec(1, 8192);
        unlimited.max_bytes = -1;
        assert_eq!(reconciled(&unlimited, &spec(1, 8192)), None);
    }

    #[test]
    fn what_the_code_needs_and_larger_settings_are_applied() {
        let mut old = spec(1, 8192);
        old.subjects = vec!["crm.sales.orders.>".into()];
        old.max_age = Duration::from_secs(86_400);
        let next = reconciled(&old, &spec(3, 16_384)).expect("a change");
        assert_eq!(next.subjects, vec!["crm.sales.>".to_string()]);
        assert_eq!(next.max_age, Duration::from_secs(30 * 86_400));
        assert_eq!(next.num_replicas, 3);
        assert_eq!(next.max_bytes, 16_384 << 20);
        assert_eq!(reconciled(&next, &spec(3, 16_384)), None, "then nothing more");
    }
}
