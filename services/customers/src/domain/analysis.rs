//! Customer base analysis over time: months, tier moves, shares.

use chrono::{Datelike as _, NaiveDate};

/// The first instant (µs) of each month from `first` for `months` months, and of the month
/// after: `months + 1` boundaries.
pub fn month_boundaries(first: NaiveDate, months: u32) -> Vec<i64> {
    let start = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap_or(first);
    (0..=months)
        .map(|i| {
            start
                .checked_add_months(chrono::Months::new(i))
                .unwrap_or(start)
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_micros()
        })
        .collect()
}

/// "2026-01" of the month starting at `micros`.
pub fn month_code(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m")
        .to_string()
}

/// Added to a purchase's month (1-based) in a trend key when it is the party's first purchase
/// in that month.
pub const FIRST_IN_MONTH: i64 = 50;
/// Added to the month code of a spell's end in a trend key when no purchase follows by the end
/// of that month: the customer is churned in it.
pub const CHURNED: i64 = 50;

/// The key a ledger pass groups orders by: the month of the purchase within the period (0
/// outside it, [`FIRST_IN_MONTH`] added), the spell of activity it starts (0 none, 1 at or
/// before the period's start, `i + 1` in month `i`) and the spell it ends (the same, with
/// [`CHURNED`] added). Each part stays under 100.
pub fn trend_key(bought: i64, starts: i64, ends: i64) -> i64 {
    bought * 10_000 + starts * 100 + ends
}

/// One month of the base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseMonthFigures {
    /// Active at the month's start: a purchase within the lost-after silence before it.
    pub active_at_start: i64,
    /// Of those, no longer active at its end.
    pub churned: i64,
    /// Buyers whose first purchase ever fell in the month.
    pub new_customers: i64,
    /// Buyers in the month who had bought before it.
    pub returning_customers: i64,
    /// Revenue of the month in the reporting currency.
    pub revenue: i64,
}

/// The months of a period from the ledger pass's `(trend key, orders, first orders ever,
/// revenue)` rows. A customer is active from a purchase until `lost_after` after their last
/// one, so those active at a moment are the spells begun by then less those ended by then; a
/// spell lasts at least `lost_after`, a month or more, so one that ends within a month was
/// active at its start.
pub fn base_months(rows: &[(i64, i64, i64, i64)], months: usize) -> Vec<BaseMonthFigures> {
    let mut out = vec![BaseMonthFigures::default(); months];
    // Index 0: at or before the period's start; i: within month i.
    let (mut starts, mut ends) = (vec![0_i64; months + 1], vec![0_i64; months + 1]);
    for &(key, orders, firsts, revenue) in rows {
        let (bought, start, end) = (key / 10_000, key / 100 % 100, key % 100);
        if bought > 0 {
            let first_in_month = bought > FIRST_IN_MONTH;
            let month = usize::try_from(bought - if first_in_month { FIRST_IN_MONTH } else { 0 } - 1)
                .ok()
                .and_then(|m| out.get_mut(m));
            if let Some(month) = month {
                month.revenue += revenue;
                if first_in_month {
                    month.new_customers += firsts;
                    month.returning_customers += orders - firsts;
                }
            }
        }
        if let Some(slot) = usize::try_from(start - 1).ok().and_then(|i| starts.get_mut(i)) {
            *slot += orders;
        }
        if end > 0 {
            let churned = end > CHURNED;
            let at = usize::try_from(end - if churned { CHURNED } else { 0 } - 1).unwrap_or(0);
            if let Some(slot) = ends.get_mut(at) {
                *slot += orders;
            }
            if let Some(month) = at.checked_sub(1).filter(|_| churned).and_then(|m| out.get_mut(m)) {
                month.churned += orders;
            }
        }
    }
    let mut active = starts[0] - ends[0];
    for (m, month) in out.iter_mut().enumerate() {
        month.active_at_start = active;
        active += starts[m + 1] - ends[m + 1];
    }
    out
}

/// How a customer's tier changed between two moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// To a better tier.
    Up,
    /// To a worse tier.
    Down,
    /// Into the ranking.
    In,
    /// Out of the ranking.
    Out,
    /// The same tier (or unranked both times).
    Unchanged,
}

/// The move from tier `from` to tier `to` ("" when unranked) under `order`, best tier first. A
/// tier no longer in the configuration counts below every configured one.
pub fn classify(from: &str, to: &str, order: &[String]) -> Move {
    let rank = |t: &str| order.iter().position(|o| o == t).unwrap_or(order.len());
    match (from.is_empty(), to.is_empty()) {
        (true, true) => Move::Unchanged,
        (true, false) => Move::In,
        (false, true) => Move::Out,
        _ if from == to => Move::Unchanged,
        _ if rank(to) < rank(from) => Move::Up,
        _ if rank(to) > rank(from) => Move::Down,
        _ => Move::Unchanged,
    }
}

/// `part` over `whole` in basis points, rounded half up; 0 when `whole` is 0.
pub fn share_bps(part: i64, whole: i64) -> i32 {
    if whole <= 0 {
        return 0;
    }
    i32::try_from((2 * i128::from(part) * 10_000 + i128::from(whole)) / (2 * i128::from(whole))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_on_their_first_day() {
        let b = month_boundaries(NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(), 3);
        let codes: Vec<String> = b.iter().map(|m| month_code(*m)).collect();
        assert_eq!(codes, ["2026-11", "2026-12", "2027-01", "2027-02"]);
        assert_eq!(b[1] - b[0], 30 * 86_400_000_000);
    }

    #[test]
    fn moves_follow_the_tier_order() {
        let order: Vec<String> = ["top", "high", "low"].iter().map(|s| s.to_string()).collect();
        assert_eq!(classify("low", "top", &order), Move::Up);
        assert_eq!(classify("top", "high", &order), Move::Down);
        assert_eq!(classify("", "low", &order), Move::In);
        assert_eq!(classify("high", "", &order), Move::Out);
        assert_eq!(classify("high", "high", &order), Move::Unchanged);
        assert_eq!(
            classify("gone", "low", &order),
            Move::Up,
            "a retired tier is below all"
        );
        assert_eq!(share_bps(1, 3), 3333);
        assert_eq!(share_bps(2, 3), 6667);
        assert_eq!(share_bps(5, 0), 0);
    }
}
