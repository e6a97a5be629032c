//! Customers and sales events consumed by marketing: profiles (attributes) and purchases.

use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_proto::customers::v1 as customers;
use crm_proto::sales::v1 as sales;
use crm_storage::Tx;

use crate::storage::profiles::{self, Purchase};

/// The durable consumer of customers events.
pub fn customer_options() -> ConsumerOptions {
    ConsumerOptions::new("marketing-customer-events", "customers").subjects(&[
        "crm.customers.party.created",
        "crm.customers.parties.imported",
        "crm.customers.party.updated",
        "crm.customers.party.merged",
        "crm.customers.party.erased",
    ])
}

/// The durable consumer of sales order events.
pub fn order_options() -> ConsumerOptions {
    ConsumerOptions::new("marketing-order-events", "sales").subjects(&[
        "crm.sales.order.placed",
        "crm.sales.order.fulfilled",
        "crm.sales.order.cancelled",
        "crm.sales.order.returned",
        "crm.sales.orders.imported",
    ])
}

/// Keeps profiles current from customers events.
#[derive(Debug, Clone, Copy)]
pub struct CustomerEvents;

impl EventHandler for CustomerEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            "crm.customers.party.created.v1" => {
                if let Some(p) = event.decode::<customers::PartyCreated>()?.party {
                    profiles::upsert(tx, &p).await?;
                }
            }
            "crm.customers.parties.imported.v1" => {
                profiles::upsert_many(tx, &event.decode::<customers::PartiesImported>()?.parties).await?;
                // Imports of consents look profiles up by external id.
                crm_storage::statistics::analyze_if_grown(tx, "profiles").await?;
            }
            "crm.customers.party.updated.v1" => {
                if let Some(p) = event.decode::<customers::PartyUpdated>()?.party {
                    profiles::upsert(tx, &p).await?;
                }
            }
            "crm.customers.party.merged.v1" => {
                let e: customers::PartyMerged = event.decode()?;
                for merged in &e.merged_ids {
                    profiles::rekey(tx, merged, &e.survivor_id).await?;
                }
            }
            "crm.customers.party.erased.v1" => {
                profiles::erase(tx, &event.decode::<customers::PartyErased>()?.party_id).await?;
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}

/// Records purchases from sales order events.
#[derive(Debug, Clone, Copy)]
pub struct OrderEvents;

impl EventHandler for OrderEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let (order, status) = match event.event_type.as_str() {
            "crm.sales.order.placed.v1" => (event.decode::<sales::OrderPlaced>()?.order, "placed"),
            "crm.sales.order.fulfilled.v1" => (event.decode::<sales::OrderFulfilled>()?.order, "fulfilled"),
            "crm.sales.order.cancelled.v1" => (event.decode::<sales::OrderCancelled>()?.order, "cancelled"),
            "crm.sales.order.returned.v1" => (event.decode::<sales::OrderReturned>()?.order, "returned"),
            "crm.sales.orders.imported.v1" => {
                let imported = event.decode::<sales::OrdersImported>()?.orders;
                let purchases: Vec<Purchase> = imported
                    .iter()
                    .map(|o| purchase(o, sales::OrderStatus::name_of(o.status)))
                    .collect();
                profiles::record_purchases(tx, &purchases).await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let Some(order) = order else { return Ok(()) };
        profiles::record_purchases(tx, &[purchase(&order, status)]).await?;
        Ok(())
    }
}

/// The purchase an order in `status` is.
fn purchase(order: &sales::Order, status: &str) -> Purchase {
    let total = order.total.clone().unwrap_or_default();
    Purchase {
        order_id: order.id.clone(),
        party_id: order.party_id.clone(),
        placed_at: order
            .place_time
            .as_ref()
            .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
            .unwrap_or_default(),
        amount_minor: total.amount_minor,
        currency_code: total.currency_code,
        status: status.into(),
        product_ids: order.lines.iter().map(|l| l.product_id.clone()).collect(),
    }
}
