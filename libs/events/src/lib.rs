//! Events between services, the same way for every service:
//!
//! - [`outbox::enqueue`] writes an event in the transaction of the change it announces;
//! - [`Relay`] publishes outbox rows to the domain's JetStream stream with the event id as
//!   `Nats-Msg-Id`, marks them sent only after the publish ack and only while it holds the
//!   outbox's lease (one relay of a service's replicas publishes), retries with backoff while
//!   NATS is unreachable, and sets aside a row the broker keeps refusing;
//! - [`Consumer`] runs a durable pull consumer with explicit acks, records each handled event id
//!   in the inbox table in the handler's own transaction (exactly-once effects), pauses and
//!   retries for as long as it takes when a failure may pass by itself (see [`failure`]), and
//!   parks a message whose own failures repeat on the dead-letter subject `crm.dlq.<consumer>`,
//!   from where [`dlq::replay`] re-drives it into that consumer alone;
//! - [`recovery`] puts the flow right after a restore: the streams' configuration backed up and
//!   restored, a consumer rewound to a point in time, the outbox published again;
//! - events are CloudEvents in binary mode: attributes in NATS headers (`ce-*`), a protobuf
//!   payload, and `traceparent` so the consumer's span joins the producer's trace.

mod cloudevents;
mod config;
mod consumer;
pub mod dlq;
pub mod failure;
mod metrics;
pub mod outbox;
pub mod permissions;
pub mod privacy;
pub mod recovery;
mod relay;
mod streams;

pub use cloudevents::{CloudEvent, headers as ce_headers};
pub use config::{
    MIN_NATS_VERSION, NatsConfig, NatsSecurity, check_server, connect, inbox_prefix, version_at_least,
};
pub use consumer::{Consumer, ConsumerOptions, EventHandler};
pub use outbox::NewEvent;
pub use relay::{Relay, RelayOptions};
pub use streams::{DLQ_STREAM, StreamSettings, StreamSpec, dlq_subject, ensure_stream, redrive_subject};

/// Migrations of the shared event tables (`crm_outbox`, `crm_inbox`), applied to every service's
/// database beside the service's own.
pub static MIGRATIONS: crm_storage::Migrations = crm_storage::Migrations {
    table: "_crm_events_migrations",
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
};

/// Applies the shared tables' migrations (events, import keys) and then a service's own (what
/// `crm migrate` runs, and every service at start-up unless told to verify only).
pub async fn migrate_service(db: &crm_storage::Db, own: &crm_storage::Migrations) -> anyhow::Result<()> {
    prepare_service(db, own, crm_storage::Migrating::OnStart).await
}

/// Brings the shared tables' schema and a service's own to the binary's versions as
/// `migrating` says, or refuses (see [`crm_storage::schema`]).
pub async fn prepare_service(
    db: &crm_storage::Db,
    own: &crm_storage::Migrations,
    migrating: crm_storage::Migrating,
) -> anyhow::Result<()> {
    db.prepare(&MIGRATIONS, migrating).await?;
    db.prepare(&crm_storage::imports::MIGRATIONS, migrating).await?;
    db.prepare(own, migrating).await
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
