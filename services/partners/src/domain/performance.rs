//! Performance against target: cells of a drill-down, pro-rating and exceptions.
//!
//! A target agreed for a period contributes to another period in proportion to the days they
//! share (a yearly target contributes 30/365 of itself to June); the expectation for a period in
//! progress is its target times the elapsed share of the period. The figures are added up in
//! SQL (`storage::performance`); this module decides which target periods count in a window and
//! by how much, and how a cell reads.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crm_calendar::{Period, PeriodKind};

/// What the rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Rows by partner, each with everything below it rolled up.
    Partner,
    /// Rows by product category.
    Category,
    /// Rows by product.
    Product,
    /// Rows by sub-period.
    Period,
    /// Rows by region.
    Region,
}

/// Totals of one cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    /// Row key.
    pub key: String,
    /// Target share in the period.
    pub target_minor: i64,
    /// Target units in the period.
    pub target_quantity: i64,
    /// Sold.
    pub actual_minor: i64,
    /// Units sold.
    pub actual_quantity: i64,
}

impl Cell {
    /// Actual / target in basis points (0 without a target).
    pub fn attainment_bps(&self) -> i32 {
        ratio_bps(self.actual_minor, self.target_minor)
    }
}

/// `a / b` in basis points, 0 when `b` is not positive.
pub fn ratio_bps(a: i64, b: i64) -> i32 {
    if b <= 0 {
        return 0;
    }
    (i128::from(a) * 10_000 / i128::from(b)).clamp(0, i128::from(i32::MAX)) as i32
}

/// Scales `amount` by `num / den`, rounding half up.
fn scale(amount: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let x = i128::from(amount) * i128::from(num);
    ((x * 2 + i128::from(den)) / (2 * i128::from(den))) as i64
}

fn days(p: &Period) -> i64 {
    (p.end_exclusive() - p.start).num_days().max(1)
}

/// A target period overlapping a window, with the share of its targets that falls in the
/// window: `num / den` of the target, rounded half up per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The window's key (its code for the period view; empty otherwise).
    pub window: String,
    /// The target period's code.
    pub period: String,
    /// Numerator of the share.
    pub num: i64,
    /// Denominator of the share.
    pub den: i64,
}

/// The target periods that overlap `window`, each with the share of its targets that falls in
/// it. Calendar periods nest, so a target period either lies inside the window (it counts
/// whole) or contains it (it counts by the days they share: a yearly target gives June 30/365
/// of itself).
pub fn shares(window: &Period, key: &str) -> Vec<Share> {
    let share = |period: &Period, num: i64, den: i64| Share {
        window: key.to_string(),
        period: period.code(),
        num,
        den,
    };
    let mut out = vec![share(window, 1, 1)];
    let mut outer = window.parent();
    while let Some(p) = outer {
        out.push(share(&p, days(window), days(&p)));
        outer = p.parent();
    }
    let quarters: Vec<Period> = match window.kind {
        PeriodKind::Year => sub_periods(window),
        _ => Vec::new(),
    };
    let months = match window.kind {
        PeriodKind::Month => Vec::new(),
        _ => window.months(),
    };
    out.extend(quarters.iter().chain(&months).map(|p| share(p, 1, 1)));
    out
}

/// The shares of `period` for the cells of `dimension`: one window (the period), or each
/// sub-period for the period view.
pub fn windows(period: &Period, dimension: Dimension) -> Vec<Share> {
    if dimension == Dimension::Period {
        sub_periods(period)
            .iter()
            .flat_map(|sub| shares(sub, &sub.code()))
            .collect()
    } else {
        shares(period, "")
    }
}

/// A target's part in one of the `regions` it is split evenly across (the region view).
pub fn regional(amount: i64, regions: usize) -> i64 {
    scale(amount, 1, regions.max(1) as i64)
}

/// The sub-period of `period` the month `month` (`YYYY-MM`) falls in, for the period view.
pub fn sub_period_of(period: &Period, month: &str) -> Option<String> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    sub_periods(period)
        .into_iter()
        .find(|p| p.contains(first))
        .map(|p| p.code())
}

/// The sub-periods of a period for the period view: a year's quarters, a quarter's months, a
/// month itself.
pub fn sub_periods(period: &Period) -> Vec<Period> {
    match period.kind {
        PeriodKind::Year => (0..4)
            .filter_map(|q| NaiveDate::from_ymd_opt(period.start.year_ce().1 as i32, 1 + 3 * q, 1))
            .map(|start| Period {
                kind: PeriodKind::Quarter,
                start,
            })
            .collect(),
        PeriodKind::Quarter => period.months(),
        PeriodKind::Month => vec![*period],
    }
}

use chrono::Datelike as _;

/// Adds a figure to the cell `key`, creating it.
pub fn add(cells: &mut BTreeMap<String, Cell>, key: &str, figure: Figure) {
    let cell = cells.entry(key.to_string()).or_insert_with(|| Cell {
        key: key.to_string(),
        ..Default::default()
    });
    match figure {
        Figure::Target { amount, quantity } => {
            cell.target_minor += amount;
            cell.target_quantity += quantity;
        }
        Figure::Actual { amount, quantity } => {
            cell.actual_minor += amount;
            cell.actual_quantity += quantity;
        }
    }
}

/// What [`add`] adds to a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// A share of targets.
    Target {
        /// Amount in minor units.
        amount: i64,
        /// Units.
        quantity: i64,
    },
    /// Sales.
    Actual {
        /// Amount in minor units.
        amount: i64,
        /// Units.
        quantity: i64,
    },
}

/// The expectation for `target` in `period` at `today`: the target times the elapsed share.
pub fn expected(target_minor: i64, period: &Period, today: NaiveDate) -> i64 {
    scale(target_minor, i64::from(period.elapsed_bps(today)), 10_000)
}

/// The months of `period` that have begun by `today`, each with the target periods that
/// overlap it (see [`shares`], keyed by the month's code) and its elapsed share in basis points:
/// the cells exceptions are looked for in.
pub fn exception_months(period: &Period, today: NaiveDate) -> Vec<(Vec<Share>, i32)> {
    period
        .months()
        .into_iter()
        .filter(|m| m.start <= today)
        .map(|m| (shares(&m, &m.code()), m.elapsed_bps(today)))
        .collect()
}

/// A stable key of an exception cell (announced once when it falls under).
pub fn exception_key(partner_id: &str, month: &str, category: &str, product_id: &str) -> String {
    format!("{partner_id}|{month}|{category}|{product_id}")
}

/// True when `actual` is under `threshold_bps` of `expected`: the test that makes a cell an
/// exception (the SQL applies the same).
pub fn under(actual_minor: i64, expected_minor: i64, threshold_bps: i32) -> bool {
    i128::from(actual_minor) * 10_000 < i128::from(expected_minor) * i128::from(threshold_bps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn p(code: &str) -> Period {
        Period::parse(code).unwrap()
    }

    fn share_of(shares: &[Share], period: &str) -> Option<(i64, i64)> {
        shares.iter().find(|s| s.period == period).map(|s| (s.num, s.den))
    }

    #[test]
    fn a_window_takes_whole_targets_inside_it_and_days_of_those_around_it() {
        let june = shares(&p("2026-06"), "");
        assert_eq!(share_of(&june, "2026-06"), Some((1, 1)));
        assert_eq!(share_of(&june, "2026-Q2"), Some((30, 91)));
        assert_eq!(share_of(&june, "2026"), Some((30, 365)));
        assert_eq!(june.len(), 3, "nothing lies inside a month");
        let year = shares(&p("2026"), "");
        assert_eq!(year.len(), 1 + 4 + 12, "itself, its quarters and its months");
        assert!(year.iter().all(|s| (s.num, s.den) == (1, 1)));
        assert_eq!(share_of(&year, "2025-12"), None, "other years do not overlap");
        let q2 = shares(&p("2026-Q2"), "");
        assert_eq!(share_of(&q2, "2026"), Some((91, 365)));
        assert_eq!(share_of(&q2, "2026-05"), Some((1, 1)));
        assert_eq!(share_of(&q2, "2026-07"), None);
    }

    #[test]
    fn the_period_view_has_a_window_per_sub_period() {
        let quarters = windows(&p("2026"), Dimension::Period);
        let keys: std::collections::BTreeSet<&str> = quarters.iter().map(|s| s.window.as_str()).collect();
        assert_eq!(
            keys.into_iter().collect::<Vec<_>>(),
            vec!["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
        );
        // A yearly target splits over the quarters by their days, and the parts add up.
        let parts: i64 = quarters
            .iter()
            .filter(|s| s.period == "2026")
            .map(|s| scale(36_500, s.num, s.den))
            .sum();
        assert_eq!(parts, 36_500);
        assert!(
            windows(&p("2026"), Dimension::Region)
                .iter()
                .all(|s| s.window.is_empty())
        );
        assert_eq!(sub_period_of(&p("2026"), "2026-05").as_deref(), Some("2026-Q2"));
        assert_eq!(
            sub_period_of(&p("2026-Q2"), "2026-05").as_deref(),
            Some("2026-05")
        );
    }

    #[test]
    fn regions_share_a_target_evenly() {
        assert_eq!(regional(9_000, 2), 4_500);
        assert_eq!(regional(1_001, 2), 501, "half up");
        assert_eq!(
            regional(1_000, 0),
            1_000,
            "a partner without regions keeps it whole"
        );
    }

    #[test]
    fn exceptions_look_at_the_months_begun() {
        let months = exception_months(&p("2026-Q2"), d(2026, 5, 15));
        assert_eq!(months.len(), 2, "June has not begun");
        let (may, elapsed) = &months[1];
        assert_eq!(may[0].window, "2026-05");
        assert_eq!(*elapsed, 4_839, "15 of 31 days");
        // Half of June gone: 1500 expected of 3000; 1000 sold is 66%, under 80% but not 60%.
        let expected = expected(3_000, &p("2026-06"), d(2026, 6, 15));
        assert_eq!(expected, 1_500);
        assert!(under(1_000, expected, 8_000));
        assert!(!under(1_000, expected, 6_000));
        assert_eq!(exception_key("a", "2026-06", "laptops", ""), "a|2026-06|laptops|");
    }
}
