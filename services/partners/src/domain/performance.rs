//! Performance against target: cells of a drill-down, pro-rating and exceptions.
//!
//! A target agreed for a period contributes to another period in proportion to the days they
//! share (a yearly target contributes 30/365 of itself to June); the expectation for a period in
//! progress is its target times the elapsed share of the period.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crm_calendar::{Period, PeriodKind};

/// A target as the computation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFact {
    /// The partner.
    pub partner_id: String,
    /// Its period.
    pub period: Period,
    /// Product category ("" for the whole range or a product target without category).
    pub category: String,
    /// Product ("" for category or range targets).
    pub product_id: String,
    /// Regions the partner serves (a target is split evenly across them for the region view).
    pub regions: Vec<String>,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Units.
    pub quantity: i64,
}

/// A sell-through record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleFact {
    /// The partner.
    pub partner_id: String,
    /// Product.
    pub product_id: String,
    /// Its category.
    pub category: String,
    /// Region sold in.
    pub region: String,
    /// Units.
    pub quantity: i64,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// Day sold.
    pub sold_on: NaiveDate,
}

/// What the rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Rows by the key `partner_key` gives each partner.
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

fn days(start: NaiveDate, end: NaiveDate) -> i64 {
    (end - start).num_days().max(0)
}

/// The part of a target falling in [start, end): (amount, quantity).
pub fn target_share(t: &TargetFact, start: NaiveDate, end: NaiveDate) -> (i64, i64) {
    let (ts, te) = (t.period.start, t.period.end_exclusive());
    let overlap = days(ts.max(start), te.min(end));
    let total = days(ts, te);
    if overlap == total {
        (t.amount_minor, t.quantity)
    } else {
        (
            scale(t.amount_minor, overlap, total),
            scale(t.quantity, overlap, total),
        )
    }
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

/// The cells of `period` by `dimension`. `partner_key` maps a partner to its row (for the
/// partner view: the child of the scope it lies under) and leaves out partners outside the
/// scope; `keep_sale` / `keep_target` filter by category or region.
pub fn cells(
    targets: &[TargetFact],
    sales: &[SaleFact],
    dimension: Dimension,
    period: &Period,
    partner_key: &dyn Fn(&str) -> Option<String>,
) -> Vec<Cell> {
    let mut out: BTreeMap<String, Cell> = BTreeMap::new();
    let (start, end) = (period.start, period.end_exclusive());
    if dimension == Dimension::Period {
        for sub in sub_periods(period) {
            out.insert(
                sub.code(),
                Cell {
                    key: sub.code(),
                    ..Default::default()
                },
            );
        }
    }
    for t in targets {
        let Some(partner_row) = partner_key(&t.partner_id) else {
            continue;
        };
        let mut add = |key: String, amount: i64, quantity: i64| {
            let cell = out.entry(key.clone()).or_insert_with(|| Cell {
                key,
                ..Default::default()
            });
            cell.target_minor += amount;
            cell.target_quantity += quantity;
        };
        match dimension {
            Dimension::Partner => {
                let (a, q) = target_share(t, start, end);
                add(partner_row, a, q);
            }
            Dimension::Category => {
                let (a, q) = target_share(t, start, end);
                add(t.category.clone(), a, q);
            }
            Dimension::Product => {
                if !t.product_id.is_empty() {
                    let (a, q) = target_share(t, start, end);
                    add(t.product_id.clone(), a, q);
                }
            }
            Dimension::Period => {
                for sub in sub_periods(period) {
                    let (a, q) = target_share(t, sub.start, sub.end_exclusive());
                    add(sub.code(), a, q);
                }
            }
            Dimension::Region => {
                let (a, q) = target_share(t, start, end);
                let regions = if t.regions.is_empty() {
                    vec![String::new()]
                } else {
                    t.regions.clone()
                };
                let n = regions.len() as i64;
                for region in regions {
                    add(region, scale(a, 1, n), scale(q, 1, n));
                }
            }
        }
    }
    for s in sales {
        if s.sold_on < start || s.sold_on >= end {
            continue;
        }
        let Some(partner_row) = partner_key(&s.partner_id) else {
            continue;
        };
        let key = match dimension {
            Dimension::Partner => partner_row,
            Dimension::Category => s.category.clone(),
            Dimension::Product => s.product_id.clone(),
            Dimension::Period => sub_periods(period)
                .into_iter()
                .find(|p| p.contains(s.sold_on))
                .map(|p| p.code())
                .unwrap_or_default(),
            Dimension::Region => s.region.clone(),
        };
        let cell = out.entry(key.clone()).or_insert_with(|| Cell {
            key,
            ..Default::default()
        });
        cell.actual_minor += s.amount_minor;
        cell.actual_quantity += s.quantity;
    }
    out.into_values().collect()
}

/// The expectation for `target` in `period` at `today`: the target times the elapsed share.
pub fn expected(target_minor: i64, period: &Period, today: NaiveDate) -> i64 {
    scale(target_minor, i64::from(period.elapsed_bps(today)), 10_000)
}

/// A cell under its threshold, with the path that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Partner.
    pub partner_id: String,
    /// Month.
    pub month: Period,
    /// Category ("" for range targets).
    pub category: String,
    /// Product ("" for category targets).
    pub product_id: String,
    /// Pro-rated target.
    pub expected_minor: i64,
    /// Sold.
    pub actual_minor: i64,
    /// Target share of the month.
    pub target_minor: i64,
}

impl Exception {
    /// A stable key of the cell (announced once when it falls under).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.partner_id,
            self.month.code(),
            self.category,
            self.product_id
        )
    }
}

/// Every partner x month x (category / product) target cell of `period` that has started by
/// `today` and whose sales are under `threshold_bps` of its pro-rated target, worst first.
pub fn exceptions(
    targets: &[TargetFact],
    sales: &[SaleFact],
    period: &Period,
    today: NaiveDate,
    threshold_bps: i32,
) -> Vec<Exception> {
    let mut out = Vec::new();
    // Each target looks at its partner's sales only.
    let mut by_partner: std::collections::HashMap<&str, Vec<&SaleFact>> = std::collections::HashMap::new();
    for s in sales {
        by_partner.entry(s.partner_id.as_str()).or_default().push(s);
    }
    for t in targets {
        let partner_sales = by_partner
            .get(t.partner_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for month in period.months() {
            if month.start > today {
                continue;
            }
            let (target_minor, _) = target_share(t, month.start, month.end_exclusive());
            if target_minor <= 0 {
                continue;
            }
            let expected_minor = expected(target_minor, &month, today);
            let actual_minor: i64 = partner_sales
                .iter()
                .filter(|s| month.contains(s.sold_on))
                .filter(|s| t.category.is_empty() || s.category == t.category)
                .filter(|s| t.product_id.is_empty() || s.product_id == t.product_id)
                .map(|s| s.amount_minor)
                .sum();
            if i128::from(actual_minor) * 10_000 < i128::from(expected_minor) * i128::from(threshold_bps) {
                out.push(Exception {
                    partner_id: t.partner_id.clone(),
                    month,
                    category: t.category.clone(),
                    product_id: t.product_id.clone(),
                    expected_minor,
                    actual_minor,
                    target_minor,
                });
            }
        }
    }
    out.sort_by_key(|e| (ratio_bps(e.actual_minor, e.expected_minor), e.key()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn target(partner: &str, period: &str, category: &str, amount: i64) -> TargetFact {
        TargetFact {
            partner_id: partner.into(),
            period: Period::parse(period).unwrap(),
            category: category.into(),
            product_id: String::new(),
            regions: vec!["N".into(), "S".into()],
            amount_minor: amount,
            quantity: 0,
        }
    }

    fn sale(partner: &str, category: &str, amount: i64, on: NaiveDate) -> SaleFact {
        SaleFact {
            partner_id: partner.into(),
            product_id: format!("{category}-1"),
            category: category.into(),
            region: "N".into(),
            quantity: 1,
            amount_minor: amount,
            sold_on: on,
        }
    }

    #[test]
    fn targets_are_shared_by_overlapping_days() {
        let year = target("p", "2026", "", 36_500);
        assert_eq!(
            target_share(&year, d(2026, 6, 1), d(2026, 7, 1)),
            (3_000, 0),
            "30 of 365 days"
        );
        let month = target("p", "2026-06", "", 1_000);
        assert_eq!(
            target_share(&month, d(2026, 1, 1), d(2027, 1, 1)),
            (1_000, 0),
            "wholly inside"
        );
    }

    #[test]
    fn cells_by_each_dimension() {
        let targets = [
            target("a", "2026-Q2", "laptops", 9_000),
            target("b", "2026-Q2", "phones", 3_000),
        ];
        let sales = [
            sale("a", "laptops", 2_000, d(2026, 4, 10)),
            sale("a", "laptops", 1_000, d(2026, 6, 1)),
            sale("b", "phones", 500, d(2026, 7, 1)),
        ];
        let q2 = Period::parse("2026-Q2").unwrap();
        let all = |id: &str| Some(id.to_string());
        let by_partner = cells(&targets, &sales, Dimension::Partner, &q2, &all);
        assert_eq!(
            by_partner
                .iter()
                .map(|c| (c.key.as_str(), c.target_minor, c.actual_minor))
                .collect::<Vec<_>>(),
            vec![("a", 9_000, 3_000), ("b", 3_000, 0)]
        );
        let by_month = cells(&targets, &sales, Dimension::Period, &q2, &all);
        assert_eq!(
            by_month.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            vec!["2026-04", "2026-05", "2026-06"]
        );
        assert_eq!(by_month[0].actual_minor, 2_000);
        assert_eq!(
            by_month.iter().map(|c| c.target_minor).sum::<i64>(),
            12_000,
            "shares add up"
        );
        let by_region = cells(&targets, &sales, Dimension::Region, &q2, &all);
        assert_eq!(
            by_region
                .iter()
                .map(|c| (c.key.as_str(), c.target_minor))
                .collect::<Vec<_>>(),
            vec![("N", 6_000), ("S", 6_000)]
        );
        let only_b = |id: &str| (id == "b").then(|| id.to_string());
        assert_eq!(
            cells(&targets, &sales, Dimension::Category, &q2, &only_b).len(),
            1
        );
    }

    #[test]
    fn exceptions_compare_with_the_pro_rated_target() {
        let targets = [target("a", "2026-06", "laptops", 3_000)];
        let june = Period::parse("2026-Q2").unwrap();
        // Half of June gone: 1500 expected; 1000 sold is 66% -> under 80%.
        let sales = [sale("a", "laptops", 1_000, d(2026, 6, 2))];
        let found = exceptions(&targets, &sales, &june, d(2026, 6, 15), 8_000);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].expected_minor, found[0].actual_minor), (1_500, 1_000));
        assert_eq!(found[0].key(), "a|2026-06|laptops|");
        assert!(exceptions(&targets, &sales, &june, d(2026, 6, 15), 6_000).is_empty());
        assert!(
            exceptions(&targets, &sales, &june, d(2026, 5, 31), 8_000).is_empty(),
            "June has not started"
        );
    }
}
