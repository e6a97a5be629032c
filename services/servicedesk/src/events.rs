//! Events the service desk publishes (payloads in `crm/servicedesk/v1/events.proto`).

use crm_events::{NewEvent, outbox};
use crm_storage::Tx;

use crate::DOMAIN;

/// CloudEvents source of this service.
pub const SOURCE: &str = "/crm/servicedesk";

/// Writes an event about `key` into the outbox of `tx`; `name` is `<entity>.<action>`.
pub async fn publish(tx: &mut Tx, name: &str, key: &str, payload: &impl prost::Message) -> sqlx::Result<()> {
    outbox::enqueue(tx, SOURCE, NewEvent::new(DOMAIN, name, key, payload)).await?;
    Ok(())
}
