//! Events consumed by partners: from sales, the catalog copy and sell-through from orders placed
//! on a partner's channel (removed again when the order is cancelled or returned); from the
//! service desk, complaints about a partner for its scorecard.

use std::collections::HashMap;

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_proto::partners::v1 as pb;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::events as sales_events;
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::events as servicedesk_events;
use crm_storage::Tx;

use crate::storage::{catalog, partners, portal, sales as sell, scorecards};

/// The durable consumer `partners-sales-events`, reading the sales stream.
pub const SALES_EVENTS: Reading = Reading {
    durable: "partners-sales-events",
    domain: "sales",
};

/// The durable consumer of sales events.
pub fn options() -> ConsumerOptions {
    ConsumerOptions::reading(SALES_EVENTS).subjects(&[
        sales_events::PRODUCT_CHANGED.subject,
        sales_events::ORDER_PLACED.subject,
        sales_events::ORDER_CANCELLED.subject,
        sales_events::ORDER_RETURNED.subject,
        sales_events::ORDER_REJECTED.subject,
        sales_events::ORDERS_IMPORTED.subject,
    ])
}

/// The durable consumer `partners-servicedesk-events`, reading the servicedesk stream.
pub const SERVICEDESK_EVENTS: Reading = Reading {
    durable: "partners-servicedesk-events",
    domain: "servicedesk",
};

/// The durable consumer of service-desk events.
pub fn servicedesk_options() -> ConsumerOptions {
    ConsumerOptions::reading(SERVICEDESK_EVENTS).subjects(&[
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
                    record_order(tx, &order, self.clock.now_micros()).await?;
                }
            }
            sales_events::types::ORDER_RETURNED => {
                if let Some(order) = event.decode::<sales::OrderReturned>()?.order {
                    record_order(tx, &order, self.clock.now_micros()).await?;
                }
            }
            sales_events::types::ORDERS_IMPORTED => {
                // Orders sold direct leave nothing here.
                let mut orders = event.decode::<sales::OrdersImported>()?.orders;
                orders.retain(|o| !partner_of(o).is_empty());
                record_imported(tx, &orders, self.clock.now_micros()).await?;
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

/// Counts a returned order on its partner's scorecard.
async fn note_return(tx: &mut Tx, order: &sales::Order, now: i64) -> anyhow::Result<()> {
    let partner_id = partner_of(order);
    if !partner_id.is_empty() {
        let total = order.total.clone().unwrap_or_default();
        let returned_on = day_of(order.status_time.as_ref(), now);
        scorecards::record_return(
            tx,
            &order.id,
            partner_id,
            total.amount_minor,
            &total.currency_code,
            &returned_on,
        )
        .await?;
    }
    Ok(())
}

/// The partner an order was sold through; empty for a direct sale.
fn partner_of(order: &sales::Order) -> &str {
    order.channel.as_ref().map_or("", |c| c.partner_id.as_str())
}

/// The UTC day of a time (of `now` when absent), `YYYY-MM-DD`.
fn day_of(time: Option<&prost_types::Timestamp>, now: i64) -> String {
    let micros = time.map_or(now, crm_platform::time::micros);
    crm_platform::time::naive_utc(micros)
        .format("%Y-%m-%d")
        .to_string()
}

/// An e-order of the portal that has become a sales order.
async fn settle_e_order(tx: &mut Tx, order: &sales::Order) -> anyhow::Result<()> {
    if order.external_ref.is_empty() {
        return Ok(());
    }
    let total = order.total.clone().unwrap_or_default().amount_minor;
    portal::settle_order(
        tx,
        partner_of(order),
        &order.external_ref,
        pb::PartnerOrderStatus::Placed as i32,
        &order.id,
        total,
        "",
    )
    .await?;
    Ok(())
}

/// The sell-through of an order on the channel of `partner_id`, counted in `region`, each
/// record with the key that makes it count once: one per line, or one for the total of an
/// order known by its total only (an imported one).
fn sell_through(
    order: &sales::Order,
    partner_id: &str,
    region: &str,
    categories: &HashMap<String, String>,
    now: i64,
) -> Vec<(String, pb::SellThrough)> {
    let record = pb::SellThrough {
        partner_id: partner_id.to_string(),
        region_code: region.to_string(),
        sold_on: day_of(order.place_time.as_ref(), now),
        source: pb::SaleSource::Order as i32,
        source_ref: order.id.clone(),
        ..Default::default()
    };
    if order.lines.is_empty() {
        let total = pb::SellThrough {
            amount: order.total.clone(),
            ..record
        };
        return vec![(format!("order:{}:total", order.id), total)];
    }
    order
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line = pb::SellThrough {
                product_id: line.product_id.clone(),
                product_category: categories.get(&line.product_id).cloned().unwrap_or_default(),
                quantity: line.quantity,
                amount: Some(line.net.clone().unwrap_or_default()),
                ..record.clone()
            };
            (format!("order:{}:{i}", order.id), line)
        })
        .collect()
}

/// The categories of the products an order's lines name.
async fn categories_of(tx: &mut Tx, orders: &[sales::Order]) -> anyhow::Result<HashMap<String, String>> {
    let mut ids: Vec<String> = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(|l| l.product_id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(catalog::categories(tx, &ids).await?)
}

/// An order on a partner channel, in the status its event gives (see [`record_imported`]).
async fn record_order(tx: &mut Tx, order: &sales::Order, now: i64) -> anyhow::Result<()> {
    if partner_of(order).is_empty() {
        return Ok(());
    }
    record_imported(tx, std::slice::from_ref(order), now).await
}

/// Orders on partner channels, as if each one's order.placed and then its status event had
/// arrived, in a few statements however many there are: those placed or fulfilled become
/// sell-through, those cancelled or returned leave none (nor what an earlier event of them
/// left, nor what a later order.placed of them would), and each return counts on its partner's
/// scorecard.
async fn record_imported(tx: &mut Tx, orders: &[sales::Order], now: i64) -> anyhow::Result<()> {
    use sales::OrderStatus::{Cancelled, Returned};
    if orders.is_empty() {
        return Ok(());
    }
    for order in orders {
        settle_e_order(tx, order).await?;
    }
    let ids: Vec<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    let ended = sell::ended_among(tx, &ids).await?;
    let mut ids: Vec<String> = orders.iter().map(|o| partner_of(o).to_string()).collect();
    ids.sort();
    ids.dedup();
    let regions = partners::first_regions(tx, &ids).await?;
    let categories = categories_of(tx, orders).await?;
    let (mut sold, mut gone) = (Vec::new(), Vec::new());
    for order in orders {
        if order.status == Cancelled as i32 || order.status == Returned as i32 {
            gone.push((order.id.as_str(), sales::OrderStatus::name_of(order.status)));
            continue;
        }
        if ended.contains(&order.id) {
            continue;
        }
        let Some(region) = regions.get(partner_of(order)) else {
            tracing::warn!(partner = %partner_of(order), order = %order.id, "order on an unknown partner channel");
            continue;
        };
        sold.extend(sell_through(order, partner_of(order), region, &categories, now));
    }
    sell::record_many(tx, &sold).await?;
    sell::end_orders(tx, &gone).await?;
    for order in orders.iter().filter(|o| o.status == Returned as i32) {
        note_return(tx, order, now).await?;
    }
    Ok(())
}
