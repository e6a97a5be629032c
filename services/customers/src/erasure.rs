//! Erasure reaching the customers stream: once a party's erasure is published, the messages
//! that carried its personal data (its creation and updates) are purged from the stream and the
//! dead letters, and the bulk announcements every reader has settled with them (see
//! [`crm_events::privacy`]). The outbox rows went in the erasure's own transaction.

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler, StreamSpec, privacy};
use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::events as ev;
use crm_storage::Tx;

/// The durable consumer `customers-erasures`, reading the service's own stream.
pub const ERASURES: Reading = Reading {
    durable: "customers-erasures",
    domain: "customers",
};

/// The consumer of the service's own erasures.
pub fn options() -> ConsumerOptions {
    ConsumerOptions::reading(ERASURES).subjects(&[ev::PARTY_ERASED.subject])
}

/// How often import announcements every reader has settled are purged: personal data in them
/// lasts no longer than the slowest reader plus this.
pub const BULK_PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Purges the import announcements (`parties.imported`) every reader has settled.
pub async fn purge_settled_imports(js: &async_nats::jetstream::Context) -> anyhow::Result<u64> {
    privacy::purge_settled(js, &StreamSpec::new("customers"), ev::PARTIES_IMPORTED.subject).await
}

/// Purges an erased party's personal data from the customers stream.
#[derive(Debug, Clone)]
pub struct Erasures {
    /// The JetStream API of the service's connection.
    pub js: async_nats::jetstream::Context,
}

impl EventHandler for Erasures {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let erased: pb::PartyErased = event.decode()?;
        // The erasure's own transaction deleted the import announcements sent by then; one the
        // relay had published but not yet marked sent is marked by now (the relay publishes in
        // order, and this erasure was published after it).
        privacy::scrub_outbox(tx, &erased.party_id).await?;
        let purged = privacy::purge_person(&self.js, "customers", &erased.party_id).await?;
        // The party may also be in an import's bulk announcement, which names no party.
        let bulk = purge_settled_imports(&self.js).await?;
        tracing::info!(party = %erased.party_id, purged, bulk, "erased party purged from the event log");
        Ok(())
    }
}
