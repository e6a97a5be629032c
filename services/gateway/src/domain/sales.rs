//! What the 360 derives from a customer's orders and opportunities: recent orders, lifetime
//! value, the quota owner, the partner channels.

use std::collections::BTreeMap;

use crm_proto::common::v1::Money;
use crm_proto::sales::v1::{Opportunity, OpportunityStatus, Order, OrderStatus};

/// Placed and fulfilled orders count; cancelled and returned ones do not.
fn counts(order: &Order) -> bool {
    matches!(
        OrderStatus::try_from(order.status),
        Ok(OrderStatus::Placed | OrderStatus::Fulfilled)
    )
}

fn micros(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map_or(i64::MIN, |t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
}

/// Orders newest first (ties by id, so the order is stable).
pub fn newest_first(mut orders: Vec<Order>) -> Vec<Order> {
    orders.sort_by(|a, b| {
        micros(b.place_time.as_ref())
            .cmp(&micros(a.place_time.as_ref()))
            .then_with(|| b.id.cmp(&a.id))
    });
    orders
}

/// The total of the orders that count, per currency (currencies in code order).
pub fn lifetime_value(orders: &[Order]) -> Vec<Money> {
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for order in orders.iter().filter(|o| counts(o)) {
        if let Some(total) = &order.total {
            *totals.entry(total.currency_code.as_str()).or_default() += total.amount_minor;
        }
    }
    totals
        .into_iter()
        .map(|(currency, amount)| Money {
            amount_minor: amount,
            currency_code: currency.to_string(),
        })
        .collect()
}

/// How many orders count.
pub fn order_count(orders: &[Order]) -> i64 {
    orders.iter().filter(|o| counts(o)).count() as i64
}

/// Open opportunities, and closed ones most recently closed first.
pub fn split_opportunities(opportunities: Vec<Opportunity>) -> (Vec<Opportunity>, Vec<Opportunity>) {
    let (open, mut closed): (Vec<_>, Vec<_>) = opportunities
        .into_iter()
        .partition(|o| o.status == OpportunityStatus::Open as i32);
    closed.sort_by(|a, b| {
        micros(b.close_time.as_ref())
            .cmp(&micros(a.close_time.as_ref()))
            .then_with(|| b.id.cmp(&a.id))
    });
    (open, closed)
}

/// The rep whose quota the customer's business counts toward: the owner of the newest order
/// that counts, else of the newest opportunity. `orders` must be newest first.
pub fn quota_owner(orders: &[Order], opportunities: &[Opportunity]) -> String {
    if let Some(order) = orders.iter().find(|o| counts(o) && !o.owner_id.is_empty()) {
        return order.owner_id.clone();
    }
    opportunities
        .iter()
        .filter(|o| !o.owner_id.is_empty())
        .max_by_key(|o| (micros(o.create_time.as_ref()), o.id.clone()))
        .map(|o| o.owner_id.clone())
        .unwrap_or_default()
}

/// The partners the customer bought through, most recent first, each once. `orders` must be
/// newest first.
pub fn partner_ids(orders: &[Order]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for order in orders {
        let Some(partner) = order.channel.as_ref().map(|c| c.partner_id.as_str()) else {
            continue;
        };
        if !partner.is_empty() && !out.iter().any(|p| p == partner) {
            out.push(partner.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_proto::sales::v1::Channel;

    fn order(id: &str, at: i64, status: OrderStatus, amount: i64, currency: &str, partner: &str) -> Order {
        Order {
            id: id.into(),
            place_time: Some(prost_types::Timestamp {
                seconds: at,
                nanos: 0,
            }),
            status: status as i32,
            total: Some(Money {
                amount_minor: amount,
                currency_code: currency.into(),
            }),
            owner_id: format!("rep-{id}"),
            channel: Some(Channel {
                partner_id: partner.into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn lifetime_value_counts_placed_and_fulfilled_orders_per_currency() {
        let orders = newest_first(vec![
            order("a", 1, OrderStatus::Placed, 100_00, "USD", ""),
            order("b", 3, OrderStatus::Cancelled, 999_00, "USD", "p1"),
            order("c", 2, OrderStatus::Fulfilled, 50_00, "USD", "p2"),
            order("d", 4, OrderStatus::Placed, 10_00, "EUR", "p2"),
            order("e", 5, OrderStatus::Returned, 70_00, "EUR", "p1"),
        ]);
        assert_eq!(
            orders.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["e", "d", "b", "c", "a"]
        );
        let value = lifetime_value(&orders);
        assert_eq!(
            value
                .iter()
                .map(|m| (m.currency_code.as_str(), m.amount_minor))
                .collect::<Vec<_>>(),
            [("EUR", 10_00), ("USD", 150_00)]
        );
        assert_eq!(order_count(&orders), 3);
        // The newest order that counts is d.
        assert_eq!(quota_owner(&orders, &[]), "rep-d");
        assert_eq!(partner_ids(&orders), ["p1", "p2"]);
    }

    #[test]
    fn without_orders_the_newest_opportunity_names_the_quota_owner() {
        let opp = |id: &str, at: i64, status: OpportunityStatus| Opportunity {
            id: id.into(),
            owner_id: format!("rep-{id}"),
            status: status as i32,
            create_time: Some(prost_types::Timestamp {
                seconds: at,
                nanos: 0,
            }),
            close_time: Some(prost_types::Timestamp {
                seconds: at + 10,
                nanos: 0,
            }),
            ..Default::default()
        };
        let all = vec![
            opp("x", 1, OpportunityStatus::Won),
            opp("y", 5, OpportunityStatus::Open),
            opp("z", 3, OpportunityStatus::Lost),
        ];
        assert_eq!(quota_owner(&[], &all), "rep-y");
        let (open, closed) = split_opportunities(all);
        assert_eq!(open.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["y"]);
        assert_eq!(
            closed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["z", "x"]
        );
    }
}
