//! Value figures and lifecycle stage derived from a party's orders.

use crm_proto::customers::v1::LifecycleStage;

/// An order as the value rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFact {
    /// When it was placed (µs since the epoch).
    pub placed_at: i64,
    /// Amount in minor units of the reporting currency.
    pub amount_minor: i64,
    /// Whether it counts: placed or fulfilled (not cancelled or returned).
    pub counts: bool,
}

/// Settings of the lifecycle rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleRules {
    /// Orders in the trailing twelve months that make a customer loyal.
    pub loyal_min_orders: i64,
    /// Silence (µs) after the last order after which a customer is lost.
    pub lost_after_micros: i64,
}

const YEAR_MICROS: i64 = 365 * 86_400 * 1_000_000;
/// An at-risk customer stays at risk unless they ordered within this window.
const AT_RISK_RECOVERY_MICROS: i64 = 90 * 86_400 * 1_000_000;

/// What the value rules need of a party's orders at a moment: the storage layer computes it in
/// SQL, so applying one more order does not read all the others.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderSummary {
    /// Revenue of the orders that count.
    pub lifetime_minor: i64,
    /// Revenue of the orders that count placed in the twelve months before the moment.
    pub trailing_minor: i64,
    /// When the latest order that counts was placed.
    pub last_placed_at: Option<i64>,
    /// Orders that count placed in the twelve months before the moment.
    pub recent_orders: i64,
}

/// The start of the trailing twelve months at `now` (orders after it are recent).
pub fn trailing_start(now: i64) -> i64 {
    now - YEAR_MICROS
}

/// The summary of `orders` at `now` (what the SQL computes).
pub fn summarise(orders: &[OrderFact], now: i64) -> OrderSummary {
    let counted: Vec<&OrderFact> = orders.iter().filter(|o| o.counts).collect();
    let recent = || counted.iter().filter(|o| o.placed_at > trailing_start(now));
    OrderSummary {
        lifetime_minor: counted.iter().map(|o| o.amount_minor).sum(),
        trailing_minor: recent().map(|o| o.amount_minor).sum(),
        last_placed_at: counted.iter().map(|o| o.placed_at).max(),
        recent_orders: recent().count() as i64,
    }
}

/// Lifetime and trailing-12-month revenue at `now`.
pub fn revenue(orders: &[OrderFact], now: i64) -> (i64, i64) {
    let s = summarise(orders, now);
    (s.lifetime_minor, s.trailing_minor)
}

/// The stage the orders justify: no orders keep a prospect a prospect (and send a customer with
/// only cancelled orders back); silence past `lost_after` makes a customer lost; enough orders in
/// twelve months make them loyal; otherwise a customer. A party marked at risk (by marketing's
/// predictions) stays at risk until they order again.
pub fn stage(
    current: LifecycleStage,
    orders: &[OrderFact],
    now: i64,
    rules: &LifecycleRules,
) -> LifecycleStage {
    stage_of(current, &summarise(orders, now), now, rules)
}

/// [`stage`] from the summary of the orders.
pub fn stage_of(
    current: LifecycleStage,
    orders: &OrderSummary,
    now: i64,
    rules: &LifecycleRules,
) -> LifecycleStage {
    let Some(last) = orders.last_placed_at else {
        return match current {
            LifecycleStage::Customer | LifecycleStage::Loyal => LifecycleStage::Prospect,
            other => other,
        };
    };
    if last <= now - rules.lost_after_micros {
        return LifecycleStage::Lost;
    }
    if current == LifecycleStage::AtRisk && last <= now - AT_RISK_RECOVERY_MICROS {
        return LifecycleStage::AtRisk;
    }
    if orders.recent_orders >= rules.loyal_min_orders {
        LifecycleStage::Loyal
    } else {
        LifecycleStage::Customer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * 1_000_000;
    const RULES: LifecycleRules = LifecycleRules {
        loyal_min_orders: 3,
        lost_after_micros: 365 * DAY,
    };

    fn order(days_ago: i64, amount: i64, counts: bool) -> OrderFact {
        OrderFact {
            placed_at: 1000 * DAY - days_ago * DAY,
            amount_minor: amount,
            counts,
        }
    }

    #[test]
    fn revenue_counts_live_orders_and_the_trailing_year() {
        let orders = [order(10, 100, true), order(400, 50, true), order(5, 999, false)];
        assert_eq!(revenue(&orders, 1000 * DAY), (150, 100));
    }

    #[test]
    fn stages_follow_orders() {
        let now = 1000 * DAY;
        use LifecycleStage::*;
        assert_eq!(stage(Prospect, &[], now, &RULES), Prospect);
        assert_eq!(stage(Prospect, &[order(1, 1, true)], now, &RULES), Customer);
        assert_eq!(
            stage(
                Customer,
                &[order(1, 1, true), order(2, 1, true), order(3, 1, true)],
                now,
                &RULES
            ),
            Loyal
        );
        assert_eq!(stage(Loyal, &[order(400, 1, true)], now, &RULES), Lost);
        assert_eq!(
            stage(Customer, &[order(1, 1, false)], now, &RULES),
            Prospect,
            "only cancelled orders"
        );
        assert_eq!(stage(AtRisk, &[order(200, 1, true)], now, &RULES), AtRisk);
        assert_eq!(
            stage(AtRisk, &[order(2, 1, true)], now, &RULES),
            Customer,
            "ordering again clears the risk"
        );
        assert_eq!(
            stage(Lost, &[order(400, 1, true), order(1, 1, true)], now, &RULES),
            Customer,
            "a lost customer can come back"
        );
    }
}
