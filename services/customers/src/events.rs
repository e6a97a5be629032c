//! Events the customers service publishes (payloads in `crm/customers/v1/events.proto`).

use crm_events::{NewEvent, outbox};
use crm_proto::customers::v1 as pb;
use crm_storage::Tx;

use crate::DOMAIN;

/// CloudEvents source of this service.
pub const SOURCE: &str = "/crm/customers";

/// Writes an event about `key` into the outbox of `tx`; `name` is `<entity>.<action>`.
pub async fn publish(tx: &mut Tx, name: &str, key: &str, payload: &impl prost::Message) -> sqlx::Result<()> {
    outbox::enqueue(tx, SOURCE, NewEvent::new(DOMAIN, name, key, payload)).await?;
    Ok(())
}

/// `party.created`.
pub async fn party_created(tx: &mut Tx, party: &pb::Party) -> sqlx::Result<()> {
    publish(
        tx,
        "party.created",
        &party.id,
        &pb::PartyCreated {
            party: Some(party.clone()),
        },
    )
    .await
}

/// `party.updated`, plus `party.lifecycle_changed` when the stage moved.
pub async fn party_updated(
    tx: &mut Tx,
    before: &pb::Party,
    after: &pb::Party,
    changed_fields: Vec<String>,
) -> sqlx::Result<()> {
    publish(
        tx,
        "party.updated",
        &after.id,
        &pb::PartyUpdated {
            party: Some(after.clone()),
            changed_fields,
        },
    )
    .await?;
    if before.lifecycle_stage != after.lifecycle_stage {
        publish(
            tx,
            "party.lifecycle_changed",
            &after.id,
            &pb::PartyLifecycleChanged {
                party_id: after.id.clone(),
                previous_stage: before.lifecycle_stage,
                stage: after.lifecycle_stage,
            },
        )
        .await?;
    }
    Ok(())
}
