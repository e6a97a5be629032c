//! Events the customers service publishes (payloads in `crm/customers/v1/events.proto`).

use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::events as ev;
use crm_storage::Tx;

pub use crm_events::outbox::publish;

/// `party.created`.
pub async fn party_created(tx: &mut Tx, party: &pb::Party) -> sqlx::Result<()> {
    publish(
        tx,
        ev::PARTY_CREATED,
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
        ev::PARTY_UPDATED,
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
            ev::PARTY_LIFECYCLE_CHANGED,
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
