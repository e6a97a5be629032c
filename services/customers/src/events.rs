//! Events the customers service publishes (payloads in `crm/customers/v1/events.proto`).

use crm_proto::customers::v1 as pb;
use crm_proto::customers::v1::events as ev;
use crm_storage::Tx;

pub use crm_events::outbox::{publish, publish_about};

/// `party.created`, carrying the party's personal data (see [`crm_events::privacy`]).
pub async fn party_created(tx: &mut Tx, party: &pb::Party) -> sqlx::Result<()> {
    publish_about(
        tx,
        ev::PARTY_CREATED,
        &party.id,
        &party.id,
        &pb::PartyCreated {
            party: Some(party.clone()),
        },
    )
    .await
}

/// `party.updated` (with the party's personal data), plus `party.lifecycle_changed` when the stage moved.
pub async fn party_updated(
    tx: &mut Tx,
    before: &pb::Party,
    after: &pb::Party,
    changed_fields: Vec<String>,
) -> sqlx::Result<()> {
    publish_about(
        tx,
        ev::PARTY_UPDATED,
        &after.id,
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
