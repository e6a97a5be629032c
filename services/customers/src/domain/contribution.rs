//! Value as contribution: what a customer leaves once the goods they bought and the service
//! they needed are paid for.

use std::collections::BTreeMap;

/// The cost of one service case by its priority (1 most urgent to 4), in minor units of the
/// reporting currency: what serving a customer costs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseCosts(pub BTreeMap<i32, i64>);

impl CaseCosts {
    /// Parses `1=120.00,2=60.00,3=25.00,4=10.00` (a priority missing costs nothing; empty: the
    /// cost to serve is unknown).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut costs = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("{part:?}: expected priority=amount, e.g. 1=120.00");
            let (priority, amount) = part.split_once('=').ok_or_else(bad)?;
            let priority: i32 = priority.trim().parse().map_err(|_| bad())?;
            if !(1..=4).contains(&priority) || costs.contains_key(&priority) {
                return Err(format!("{part:?}: priorities are 1 to 4, each once"));
            }
            costs.insert(priority, minor_units(amount.trim()).ok_or_else(bad)?);
        }
        Ok(Self(costs))
    }

    /// Whether a cost per case is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The cost of a case of `priority`.
    pub fn of(&self, priority: i32) -> i64 {
        self.0.get(&priority).copied().unwrap_or(0)
    }
}

/// `120.00` or `120` as minor units (two decimals), not negative.
fn minor_units(amount: &str) -> Option<i64> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let cents: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<2}").parse().ok()?
    };
    whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents)
}

/// A customer's business as the ledgers add it up, minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Business {
    /// Revenue of the orders that count.
    pub revenue: i64,
    /// What their goods cost (0 where unknown).
    pub cost_of_goods: i64,
    /// What the customer's service cases cost.
    pub cost_to_serve: i64,
}

impl Business {
    /// Gross margin less cost to serve.
    pub fn contribution(&self) -> i64 {
        self.revenue
            .saturating_sub(self.cost_of_goods)
            .saturating_sub(self.cost_to_serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_costs_parse_or_are_refused() {
        let costs = CaseCosts::parse("1=120.00, 2=60,3=25.5,4=10.05").unwrap();
        assert_eq!(
            (costs.of(1), costs.of(2), costs.of(3), costs.of(4)),
            (12_000, 6_000, 2_550, 1_005)
        );
        assert!(CaseCosts::parse("").unwrap().is_empty());
        for bad in ["1=", "5=10", "1=10,1=20", "x=1", "1=-3", "1=1.234", "1=.5"] {
            assert!(CaseCosts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contribution_is_margin_less_cost_to_serve() {
        let big_but_demanding = Business {
            revenue: 100_000,
            cost_of_goods: 70_000,
            cost_to_serve: 36_000,
        };
        assert_eq!(big_but_demanding.contribution(), -6_000);
        let modest = Business {
            revenue: 20_000,
            cost_of_goods: 12_000,
            cost_to_serve: 1_000,
        };
        assert_eq!(modest.contribution(), 7_000);
    }
}
