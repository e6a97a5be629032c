//! Events consumed by partners: from sales, the catalog copy and sell-through from orders placed
//! on a partner's channel (removed again when the order is cancelled or returned); from the
//! service desk, complaints about a partner for its scorecard.

use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_proto::partners::v1 as pb;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::events as sales_events;
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::events as servicedesk_events;
use crm_storage::Tx;

use crate::storage::{catalog, partners, portal, sales as sell, scorecards};

/// The durable consumer of sales events.
pub fn options() -> ConsumerOptions {
    ConsumerOptions::new("partners-sales-events", "sales").subjects(&[
        sales_events::PRODUCT_CHANGED.subject,
        sales_events::ORDER_PLACED.subject,
        sales_events::ORDER_CANCELLED.subject,
        sales_events::ORDER_RETURNED.subject,
        sales_events::ORDER_REJECTED.subject,
        sales_events::ORDERS_IMPORTED.subject,
    ])
}

/// The durable consumer of service-desk events.
pub fn servicedesk_options() -> ConsumerOptions {
    ConsumerOptions::new("partners-servicedesk-events", "servicedesk").subjects(&[
        servicedesk_events::CASE_OPENED.subject,
        servicedesk_events::CASE_IMPORTED.subject,
    ])
}

/// Counts complaint cases about a known partner, once per case, on the day they were opened
/// (imported ones included).
#[derive(Debug, Clone, Copy)]
pub struct ServicedeskEvents;

impl EventHandler for ServicedeskEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let case = match event.event_type.as_str() {
            servicedesk_events::types::CASE_OPENED => event.decode::<servicedesk::CaseOpened>()?.case,
            servicedesk_events::types::CASE_IMPORTED => event.decode::<servicedesk::CaseImported>()?.case,
            _ => None,
        };
        let Some(case) = case else {
            return Ok(());
        };
        if case.r#type != servicedesk::CaseType::Complaint as i32 || case.partner_id.is_empty() {
            return Ok(());
        }
        if partners::get(tx, &case.partner_id).await?.is_none() {
            tracing::warn!(case = %case.id, partner = %case.partner_id, "complaint about an unknown partner");
            return Ok(());
        }
        let opened = case.open_time.unwrap_or_default();
        let on = chrono::DateTime::from_timestamp(opened.seconds, 0)
            .unwrap_or_default()
            .date_naive();
        let reference = format!("case:{}", case.id);
        scorecards::record_complaint(
            tx,
            &case.partner_id,
            &reference,
            &on.format("%Y-%m-%d").to_string(),
        )
        .await?;
        Ok(())
    }
}

/// Applies sales events to the partners database.
#[derive(Debug, Clone)]
pub struct SalesEvents {
    /// The day a sale without a time is counted on.
    pub clock: std::sync::Arc<dyn crm_platform::clock::Clock>,
}

impl EventHandler for SalesEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        match event.event_type.as_str() {
            sales_events::types::PRODUCT_CHANGED => {
                if let Some(p) = event.decode::<sales::ProductChanged>()?.product {
                    catalog::upsert(tx, &p).await?;
                }
            }
            sales_events::types::ORDER_PLACED => {
                if let Some(order) = event.decode::<sales::OrderPlaced>()?.order {
                    record_order(tx, &order, self.clock.now_micros()).await?;
                }
            }
            sales_events::types::ORDER_CANCELLED => {
                if let Some(order) = event.decode::<sales::OrderCancelled>()?.order {
                    sell::remove_order(tx, &order.id).await?;
                }
            }
            sales_events::types::ORDER_RETURNED => {
                if let Some(order) = event.decode::<sales::OrderReturned>()?.order {
                    record_return(tx, &order, self.clock.now_micros()).await?;
                }
            }
            sales_events::types::ORDERS_IMPORTED => {
                // As if each order's order.placed, then its status event, had arrived; orders
                // sold direct leave nothing here.
                for order in event.decode::<sales::OrdersImported>()?.orders {
                    if order.channel.as_ref().is_none_or(|c| c.partner_id.is_empty()) {
                        continue;
                    }
                    record_order(tx, &order, self.clock.now_micros()).await?;
                    match sales::OrderStatus::try_from(order.status) {
                        Ok(sales::OrderStatus::Cancelled) => sell::remove_order(tx, &order.id).await?,
                        Ok(sales::OrderStatus::Returned) => {
                            record_return(tx, &order, self.clock.now_micros()).await?
                        }
                        _ => {}
                    }
                }
            }
            sales_events::types::ORDER_REJECTED => {
                let e: sales::OrderRejected = event.decode()?;
                portal::settle_order(
                    tx,
                    &e.partner_id,
                    &e.external_ref,
                    pb::PartnerOrderStatus::Rejected as i32,
                    "",
                    0,
                    &e.reason,
                )
                .await?;
            }
            other => tracing::debug!(event_type = other, "ignored"),
        }
        Ok(())
    }
}

/// A returned order is no longer sell-through; its partner's scorecard counts the return on the
/// day it happened (an imported return keeps its history).
async fn record_return(tx: &mut Tx, order: &sales::Order, now: i64) -> anyhow::Result<()> {
    sell::remove_order(tx, &order.id).await?;
    let partner_id = order.channel.clone().unwrap_or_default().partner_id;
    if !partner_id.is_empty() {
        let total = order.total.clone().unwrap_or_default();
        let returned_on = day_of(order.status_time.as_ref(), now);
        scorecards::record_return(
            tx,
            &order.id,
            &partner_id,
            total.amount_minor,
            &total.currency_code,
            &returned_on,
        )
        .await?;
    }
    Ok(())
}

/// The lines of an order on a partner channel become sell-through of that partner.
/// The UTC day of a time (of `now` when absent), `YYYY-MM-DD`.
fn day_of(time: Option<&prost_types::Timestamp>, now: i64) -> String {
    let micros = time.map_or(now, crm_platform::time::micros);
    crm_platform::time::naive_utc(micros)
        .format("%Y-%m-%d")
        .to_string()
}

async fn record_order(tx: &mut Tx, order: &sales::Order, now: i64) -> anyhow::Result<()> {
    let partner_id = order.channel.clone().unwrap_or_default().partner_id;
    if partner_id.is_empty() {
        return Ok(());
    }
    // An e-order of ours: it is now a sales order.
    if !order.external_ref.is_empty() {
        let total = order.total.clone().unwrap_or_default().amount_minor;
        portal::settle_order(
            tx,
            &partner_id,
            &order.external_ref,
            pb::PartnerOrderStatus::Placed as i32,
            &order.id,
            total,
            "",
        )
        .await?;
    }
    let Some(partner) = partners::get(tx, &partner_id).await? else {
        tracing::warn!(partner = %partner_id, order = %order.id, "order on an unknown partner channel");
        return Ok(());
    };
    let sold_on = day_of(order.place_time.as_ref(), now);
    if order.lines.is_empty() {
        // An order known by its total only (an imported one): one record without a product.
        let record = pb::SellThrough {
            partner_id: partner.id.clone(),
            region_code: partner.region_codes.first().cloned().unwrap_or_default(),
            amount: order.total.clone(),
            sold_on,
            source: pb::SaleSource::Order as i32,
            source_ref: order.id.clone(),
            ..Default::default()
        };
        sell::record(tx, &format!("order:{}:total", order.id), &record).await?;
        return Ok(());
    }
    let ids: Vec<String> = order.lines.iter().map(|l| l.product_id.clone()).collect();
    let categories = catalog::categories(tx, &ids).await?;
    for (i, line) in order.lines.iter().enumerate() {
        let category = categories.get(&line.product_id).cloned().unwrap_or_default();
        let record = pb::SellThrough {
            partner_id: partner.id.clone(),
            product_id: line.product_id.clone(),
            product_category: category,
            region_code: partner.region_codes.first().cloned().unwrap_or_default(),
            quantity: line.quantity,
            amount: Some(line.net.clone().unwrap_or_default()),
            sold_on: sold_on.clone(),
            source: pb::SaleSource::Order as i32,
            source_ref: order.id.clone(),
        };
        sell::record(tx, &format!("order:{}:{i}", order.id), &record).await?;
    }
    Ok(())
}
