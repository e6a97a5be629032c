//! Putting the flow of events right after a restore, from what each side still holds:
//!
//! - [`backup`] and [`restore`] keep the streams' configuration (an operator's replicas, size
//!   limits, placement) and where each durable consumer stood, which a new NATS server does not
//!   have and the services would otherwise recreate with their defaults;
//! - [`rewind`] makes a consumer deliver again every event published since a point in time:
//!   after a service's database is restored to that point, its inbox no longer holds the events
//!   applied later, and the consumer's position on the server is past them. Events the restored
//!   database did apply are recognised by the inbox and acknowledged without effect;
//! - [`republish`] hands the sent outbox rows written since a point in time back to the relay:
//!   after the streams lost their messages, the events the outboxes still keep (seven days by
//!   default) flow again, and every consumer skips those it had applied.

use std::collections::BTreeMap;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};
use chrono::{DateTime, Utc};
use crm_storage::Db;
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};

/// What every stream of the suite is named with.
const SUITE_STREAMS: &str = "CRM_";

/// The streams' configuration and the consumers' positions at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamsBackup {
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// Every stream of the suite, by name.
    pub streams: BTreeMap<String, StreamBackup>,
}

/// One stream's configuration and its consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamBackup {
    /// Its configuration as the server reported it.
    pub config: stream::Config,
    /// Its last sequence when the backup was taken.
    pub last_sequence: u64,
    /// Its durable consumers, by name.
    pub consumers: BTreeMap<String, ConsumerBackup>,
}

/// One durable consumer's configuration and position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerBackup {
    /// Its configuration as the server reported it.
    pub config: consumer::Config,
    /// The stream sequence up to which every message was acknowledged.
    pub ack_floor: u64,
}

/// What [`restore`] did with each stream and consumer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Streams created from the backup.
    pub streams_created: Vec<String>,
    /// Streams that exist and whose configuration was brought back to the backup's.
    pub streams_updated: Vec<String>,
    /// Consumers created, each with the stream sequence it starts from.
    pub consumers_created: Vec<(String, u64)>,
}

/// Reads the configuration of every stream of the suite and the position of each durable
/// consumer.
pub async fn backup(js: &jetstream::Context) -> anyhow::Result<StreamsBackup> {
    let names: Vec<String> = js
        .stream_names()
        .try_collect()
        .await
        .context("listing the streams")?;
    let mut streams = BTreeMap::new();
    for name in names.into_iter().filter(|n| n.starts_with(SUITE_STREAMS)) {
        let mut stream = js.get_stream(&name).await?;
        let info = stream.info().await?.clone();
        let mut consumers = BTreeMap::new();
        let mut listed = stream.consumers();
        while let Some(consumer) = listed.try_next().await? {
            // Ephemeral readers (an operator's `nats` session) are not the suite's.
            if consumer.config.durable_name.is_none() {
                continue;
            }
            consumers.insert(
                consumer.name.clone(),
                ConsumerBackup {
                    config: consumer.config,
                    ack_floor: consumer.ack_floor.stream_sequence,
                },
            );
        }
        streams.insert(
            name,
            StreamBackup {
                config: info.config,
                last_sequence: info.state.last_sequence,
                consumers,
            },
        );
    }
    Ok(StreamsBackup {
        taken_at: Utc::now().to_rfc3339(),
        streams,
    })
}

/// Creates the streams of `backup` that are missing, brings those that exist back to its
/// configuration, and creates the consumers that are missing: on a stream that kept its
/// messages, from just after the position they had acknowledged; on a stream created anew, from
/// its beginning (the events [`republish`] sends again). Existing consumers are left alone.
pub async fn restore(js: &jetstream::Context, backup: &StreamsBackup) -> anyhow::Result<Restored> {
    let mut restored = Restored::default();
    for (name, saved) in &backup.streams {
        let created = match js.get_stream(name).await {
            Ok(mut existing) => {
                let current = existing.info().await?.config.clone();
                if current != saved.config {
                    js.update_stream(&saved.config)
                        .await
                        .with_context(|| format!("updating stream {name}"))?;
                    restored.streams_updated.push(name.clone());
                }
                false
            }
            Err(err) if crate::streams::not_found(&err) => {
                js.create_stream(saved.config.clone())
                    .await
                    .with_context(|| format!("creating stream {name}"))?;
                restored.streams_created.push(name.clone());
                true
            }
            Err(err) => return Err(anyhow::Error::new(err).context(format!("stream {name}"))),
        };
        let stream = js.get_stream(name).await?;
        for (durable, consumer) in &saved.consumers {
            if stream.consumer_info(durable).await.is_ok() {
                continue;
            }
            let start = if created { 1 } else { consumer.ack_floor + 1 };
            let config = consumer::Config {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..consumer.config.clone()
            };
            stream
                .create_consumer(config)
                .await
                .with_context(|| format!("creating consumer {durable} on {name}"))?;
            restored.consumers_created.push((durable.clone(), start));
        }
    }
    Ok(restored)
}

/// Recreates durable consumer `durable` of the stream `stream_name` so that it delivers every
/// message published at or after `since`, keeping the rest of its configuration. Returns how
/// many messages it has to deliver. The service reading with it must be stopped: a running one
/// would recreate it as it was.
pub async fn rewind(
    js: &jetstream::Context,
    stream_name: &str,
    durable: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let stream = js
        .get_stream(stream_name)
        .await
        .with_context(|| format!("stream {stream_name}"))?;
    let info = stream.consumer_info(durable).await.with_context(|| {
        format!("consumer {durable} of {stream_name} (the service creates it when it starts)")
    })?;
    let nanos = since.timestamp_nanos_opt().context("the time is out of range")?;
    let start_time =
        async_nats::datetime::from_nanos(i128::from(nanos)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = consumer::Config {
        deliver_policy: consumer::DeliverPolicy::ByStartTime { start_time },
        ..info.config
    };
    stream
        .delete_consumer(durable)
        .await
        .with_context(|| format!("deleting consumer {durable}"))?;
    let mut created = stream
        .create_consumer(config)
        .await
        .with_context(|| format!("creating consumer {durable} again; it is now missing, and its service recreates it, from the stream's beginning, when it starts"))?;
    Ok(created.info().await?.num_pending)
}

/// Marks the outbox rows of `db` written at or after `since` unsent, so that the relay
/// publishes them again in their order. Rows set aside as refused stay aside. Returns how many.
pub async fn republish(db: &Db, since: DateTime<Utc>) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE crm_outbox SET sent_at = NULL, attempts = 0, last_error = NULL \
         WHERE sent_at IS NOT NULL AND parked_at IS NULL AND created_at >= $1",
    )
    .bind(since.timestamp_micros())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}
