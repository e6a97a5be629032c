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
