//! Customers events consumed by sales: the read copy of accounts, merges (re-keying every sales
//! record of the merged parties) and erasures (anonymising the sales copy).

use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_proto::customers::v1 as customers;
use crm_storage::Tx;

use crate::storage::accounts;

/// The durable consumer of customers events.
pub fn options() -> ConsumerOptions {
    ConsumerOptions::new("sales-customer-events", "customers").subjects(&[
        "crm.customers.party.created",
        "crm.customers.party.updated",
        "crm.customers.party.merged",
        "crm.customers.party.erased",
    ])
}

/// Applies customers events to the sales database.
#[derive(Debug, Clone, Copy)]
pub struct CustomerEvents;

impl EventHandler for CustomerEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            "crm.customers.party.created.v1" => {
                let e: customers::PartyCreated = event.decode()?;
                if let Some(p) = e.party {
                    accounts::upsert(tx, &accounts::Account::from_party(&p)).await?;
                    crate::assignment::reassign(tx, Some(&p.id)).await?;
                }
            }
            "crm.customers.party.updated.v1" => {
                let e: customers::PartyUpdated = event.decode()?;
                if let Some(p) = e.party {
                    accounts::upsert(tx, &accounts::Account::from_party(&p)).await?;
                    crate::assignment::reassign(tx, Some(&p.id)).await?;
                }
            }
            "crm.customers.party.merged.v1" => {
                let e: customers::PartyMerged = event.decode()?;
                for merged in &e.merged_ids {
                    accounts::rekey(tx, merged, &e.survivor_id).await?;
                }
            }
            "crm.customers.party.erased.v1" => {
                let e: customers::PartyErased = event.decode()?;
                accounts::anonymise(tx, &e.party_id).await?;
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}
