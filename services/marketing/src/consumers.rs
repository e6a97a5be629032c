//! Customers and sales events consumed by marketing: profiles (attributes) and purchases.

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::events as customers_events;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::events as sales_events;
use crm_storage::Tx;

use crate::storage::profiles::{self, Purchase};
use crate::storage::{affinity, figures};

/// The durable consumer `marketing-customer-events`, reading the customers stream.
pub const CUSTOMER_EVENTS: Reading = Reading {
    durable: "marketing-customer-events",
    domain: "customers",
};

/// The durable consumer of customers events.
pub fn customer_options() -> ConsumerOptions {
    ConsumerOptions::reading(CUSTOMER_EVENTS).subjects(&[
        customers_events::PARTY_CREATED.subject,
        customers_events::PARTIES_IMPORTED.subject,
        customers_events::PARTY_UPDATED.subject,
        customers_events::PARTY_MERGED.subject,
        customers_events::PARTY_ERASED.subject,
    ])
}

/// The durable consumer `marketing-order-events`, reading the sales stream.
pub const ORDER_EVENTS: Reading = Reading {
    durable: "marketing-order-events",
    domain: "sales",
};

/// The durable consumer of sales order events.
pub fn order_options() -> ConsumerOptions {
    ConsumerOptions::reading(ORDER_EVENTS).subjects(&[
        sales_events::ORDER_PLACED.subject,
        sales_events::ORDER_FULFILLED.subject,
        sales_events::ORDER_CANCELLED.subject,
        sales_events::ORDER_RETURNED.subject,
        sales_events::ORDERS_IMPORTED.subject,
    ])
}

/// Keeps profiles current from customers events.
#[derive(Debug, Clone)]
pub struct CustomerEvents {
    /// The JetStream API, to purge an erased party's events from the stream.
    pub js: async_nats::jetstream::Context,
}

impl EventHandler for CustomerEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            customers_events::types::PARTY_CREATED => {
                if let Some(p) = event.decode::<customers::PartyCreated>()?.party {
                    profiles::upsert(tx, &p).await?;
                }
            }
            customers_events::types::PARTIES_IMPORTED => {
                profiles::upsert_many(tx, &event.decode::<customers::PartiesImported>()?.parties).await?;
                // Imports of consents look profiles up by external id.
                crm_storage::statistics::analyze_if_grown(tx, "profiles").await?;
            }
            customers_events::types::PARTY_UPDATED => {
                if let Some(p) = event.decode::<customers::PartyUpdated>()?.party {
                    profiles::upsert(tx, &p).await?;
                }
            }
            customers_events::types::PARTY_MERGED => {
                let e: customers::PartyMerged = event.decode()?;
                for merged in &e.merged_ids {
                    let version = e.merged_versions.get(merged).copied().unwrap_or_default();
                    profiles::rekey(tx, merged, &e.survivor_id, version).await?;
                }
                let mut moved = e.merged_ids.clone();
                moved.push(e.survivor_id.clone());
                figures::refresh(tx, &moved).await?;
                affinity::refresh(tx, &moved).await?;
            }
            customers_events::types::PARTY_ERASED => {
                let e: customers::PartyErased = event.decode()?;
                let id = e.party_id;
                profiles::erase(tx, &id, e.version).await?;
                // Its campaign responses announced its name.
                crm_events::privacy::forget(tx, &self.js, "marketing", &id).await?;
                figures::refresh(tx, std::slice::from_ref(&id)).await?;
                affinity::refresh(tx, std::slice::from_ref(&id)).await?;
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}

/// Records purchases from sales order events.
#[derive(Debug, Clone, Default)]
pub struct OrderEvents {
    /// When imported orders last arrived: the RFM boundaries wait while an import streams in.
    pub imports: std::sync::Arc<crm_platform::bulk::BulkActivity>,
}

impl EventHandler for OrderEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let (order, status) = match event.event_type.as_str() {
            sales_events::types::ORDER_PLACED => (event.decode::<sales::OrderPlaced>()?.order, "placed"),
            sales_events::types::ORDER_FULFILLED => {
                (event.decode::<sales::OrderFulfilled>()?.order, "fulfilled")
            }
            sales_events::types::ORDER_CANCELLED => {
                (event.decode::<sales::OrderCancelled>()?.order, "cancelled")
            }
            sales_events::types::ORDER_RETURNED => {
                (event.decode::<sales::OrderReturned>()?.order, "returned")
            }
            sales_events::types::ORDERS_IMPORTED => {
                let imported = event.decode::<sales::OrdersImported>()?.orders;
                let purchases: Vec<Purchase> = imported
                    .iter()
                    .map(|o| purchase(o, sales::OrderStatus::name_of(o.status)))
                    .collect();
                record(tx, &purchases).await?;
                self.imports.touch();
                // A bulk load outruns the database's own statistics: on a never-analysed
                // purchases table each refresh of figures sorted every purchase (1.6 s a
                // statement at a million) instead of reading the customers' own.
                crm_storage::statistics::analyze_if_grown(tx, "purchases").await?;
                crm_storage::statistics::analyze_if_grown(tx, "customer_figures").await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let Some(order) = order else { return Ok(()) };
        record(tx, &[purchase(&order, status)]).await?;
        if status == "placed" && !order.campaign_code.is_empty() {
            redeemed(tx, &order).await?;
        }
        Ok(())
    }
}

/// An order that redeemed a campaign's code is the response of the member who placed it (once;
/// a customer the campaign never contacted does not count as its response).
async fn redeemed(tx: &mut Tx, order: &sales::Order) -> anyhow::Result<()> {
    let Some(campaign) = crate::storage::campaigns::by_code(tx, &order.campaign_code).await? else {
        tracing::debug!(code = %order.campaign_code, order = %order.id, "no campaign has this code");
        return Ok(());
    };
    let placed_at = order
        .place_time
        .as_ref()
        .map(crm_platform::time::micros)
        .unwrap_or_default();
    let response = crate::responses::Response {
        party_id: &order.party_id,
        response_id: &order.id,
        order_id: &order.id,
    };
    crate::responses::record(tx, &campaign, &response, placed_at).await?;
    Ok(())
}

/// Records purchases (not of erased customers) and brings their customers' figures up to date:
/// a new purchase is added to them, a changed one has its customer's purchases added up again
/// (each customer's own, not the base).
async fn record(tx: &mut Tx, purchases: &[Purchase]) -> anyhow::Result<()> {
    // An order event that arrives after its customer's erasure leaves nothing of them here; one
    // that arrives while it is applied waits for it (or it for this one).
    let parties: Vec<&str> = purchases.iter().map(|p| p.party_id.as_str()).collect();
    profiles::lock(tx, &parties).await?;
    let erased = profiles::erased_among(tx, &parties).await?;
    let kept: Vec<Purchase>;
    let purchases = if erased.is_empty() {
        purchases
    } else {
        kept = purchases
            .iter()
            .filter(|p| !erased.contains(&p.party_id))
            .cloned()
            .collect();
        &kept
    };
    let recorded = profiles::record_purchases(tx, purchases).await?;
    figures::add(tx, &recorded.new).await?;
    figures::refresh(tx, &recorded.changed_parties).await?;
    // Only purchases naming products can change what their customers bought (an order known
    // by its total, as many imported ones are, changes no co-purchase count).
    let with_products: Vec<String> = purchases
        .iter()
        .filter(|p| !p.product_ids.is_empty())
        .map(|p| p.party_id.clone())
        .collect();
    affinity::refresh(tx, &with_products).await?;
    Ok(())
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
