//! Quote and order arithmetic.
//!
//! Money is integer minor units (`i64`), percentages are basis points (10000 = 100%).
//! Products are computed in `i128` so that no input can overflow; results that do not fit
//! an `i64` saturate (such inputs are rejected by [`validate`] anyway).

use crm_platform::money::div_round;

/// Smallest allowed line quantity.
const MIN_QUANTITY: i64 = 1;
/// Largest allowed line quantity.
const MAX_QUANTITY: i64 = 1_000_000;
/// Largest allowed unit price, in minor units.
const MAX_UNIT_PRICE_MINOR: i64 = 10_000_000_000_000;
/// 100% in basis points.
const FULL_BPS: i32 = 10_000;
/// Largest number of lines on one quote.
const MAX_LINES: usize = 200;

/// One quote or order line as entered by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineInput {
    /// Number of units.
    pub quantity: i64,
    /// Price of one unit, in minor units.
    pub unit_price_minor: i64,
    /// Line discount in basis points (10000 = 100%).
    pub discount_bps: i32,
}

/// Computed amounts of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTotal {
    /// `quantity * unit_price_minor`.
    pub gross_minor: i64,
    /// The line discount, rounded half away from zero.
    pub discount_minor: i64,
    /// `gross_minor - discount_minor`.
    pub net_minor: i64,
}

/// Computed amounts of a whole quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuoteTotals {
    /// Sum of the line nets.
    pub subtotal_minor: i64,
    /// The header discount applied to the subtotal, rounded half away from zero.
    pub header_discount_minor: i64,
    /// `subtotal_minor - header_discount_minor`.
    pub total_minor: i64,
}

/// Computes one line: gross = quantity*unit_price; discount = round(gross*discount_bps/10000);
/// net = gross - discount.
pub fn line_total(line: &LineInput) -> LineTotal {
    let gross = i128::from(line.quantity) * i128::from(line.unit_price_minor);
    let discount = apply_bps(gross, line.discount_bps);
    LineTotal {
        gross_minor: saturate(gross),
        discount_minor: saturate(discount),
        net_minor: saturate(gross.saturating_sub(discount)),
    }
}

/// Computes the quote totals; the header discount applies to the subtotal:
/// round(subtotal*header_discount_bps/10000).
pub fn quote_totals(lines: &[LineInput], header_discount_bps: i32) -> QuoteTotals {
    // Sum the exact (unsaturated) nets so that saturation happens at most once, at the end.
    let subtotal = lines.iter().map(exact_net).fold(0i128, i128::saturating_add);
    let header_discount = apply_bps(subtotal, header_discount_bps);
    QuoteTotals {
        subtotal_minor: saturate(subtotal),
        header_discount_minor: saturate(header_discount),
        total_minor: saturate(subtotal.saturating_sub(header_discount)),
    }
}

/// Problems as (field, message) with field paths like "lines[2].quantity": quantity 1..=1_000_000;
/// unit_price_minor 0..=10^13; discount_bps 0..=10000; at most 200 lines; header_discount_bps
/// 0..=10000 (field "discount_bps"). An empty line list is reported on field "lines".
///
/// Additionally, when every line is in range, reports on "lines" a quote whose gross total would not
/// fit an `i64` (possible with in-range values, e.g. 10^6 units at 10^13).
pub fn validate(lines: &[LineInput], header_discount_bps: i32) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if lines.is_empty() {
        push(&mut problems, "lines", "at least one line is required");
    }
    if lines.len() > MAX_LINES {
        push(
            &mut problems,
            "lines",
            &format!("at most {MAX_LINES} lines are allowed"),
        );
    }
    let before_lines = problems.len();
    for (index, line) in lines.iter().enumerate() {
        validate_line(&mut problems, index, line);
    }
    // Out-of-range lines are already reported; the total only matters once every line is valid.
    if problems.len() == before_lines && !overflow_free(lines) {
        push(&mut problems, "lines", "the quote total is too large");
    }
    if !(0..=FULL_BPS).contains(&header_discount_bps) {
        push(&mut problems, "discount_bps", "must be between 0 and 10000");
    }
    problems
}

/// Checks one line's fields, appending problems with indexed field paths.
fn validate_line(problems: &mut Vec<(String, String)>, index: usize, line: &LineInput) {
    if !(MIN_QUANTITY..=MAX_QUANTITY).contains(&line.quantity) {
        let field = format!("lines[{index}].quantity");
        push(
            problems,
            &field,
            &format!("must be between {MIN_QUANTITY} and {MAX_QUANTITY}"),
        );
    }
    if !(0..=MAX_UNIT_PRICE_MINOR).contains(&line.unit_price_minor) {
        let field = format!("lines[{index}].unit_price_minor");
        push(
            problems,
            &field,
            &format!("must be between 0 and {MAX_UNIT_PRICE_MINOR}"),
        );
    }
    if !(0..=FULL_BPS).contains(&line.discount_bps) {
        let field = format!("lines[{index}].discount_bps");
        push(problems, &field, "must be between 0 and 10000");
    }
}

/// True when every gross amount, and their sum, fits an `i64` — then no computed amount saturates
/// for non-negative in-range discounts.
fn overflow_free(lines: &[LineInput]) -> bool {
    let max = i128::from(i64::MAX);
    let grosses = lines
        .iter()
        .map(|l| i128::from(l.quantity) * i128::from(l.unit_price_minor));
    let mut sum: i128 = 0;
    for gross in grosses {
        sum += gross.abs();
        if sum > max {
            return false;
        }
    }
    true
}

/// The exact net of a line, before any saturation.
fn exact_net(line: &LineInput) -> i128 {
    let gross = i128::from(line.quantity) * i128::from(line.unit_price_minor);
    gross.saturating_sub(apply_bps(gross, line.discount_bps))
}

/// `round(amount * bps / 10000)`, half away from zero.
fn apply_bps(amount: i128, bps: i32) -> i128 {
    // Only absurd unvalidated inputs can exceed i128 here; they saturate like every other result.
    div_round(amount.saturating_mul(i128::from(bps)), i128::from(FULL_BPS))
}

/// Clamps an exact amount into `i64`.
fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Appends one (field, message) problem.
fn push(problems: &mut Vec<(String, String)>, field: &str, message: &str) {
    problems.push((field.to_string(), message.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, unit_price_minor: i64, discount_bps: i32) -> LineInput {
        LineInput {
            quantity,
            unit_price_minor,
            discount_bps,
        }
    }

    fn fields(problems: &[(String, String)]) -> Vec<&str> {
        problems.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn line_total_rounds_discount_half_away_from_zero() {
        // 3 x 333 = 999; 15% of 999 = 149.85 -> 150.
        let total = line_total(&line(3, 333, 1500));
        assert_eq!(
            total,
            LineTotal {
                gross_minor: 999,
                discount_minor: 150,
                net_minor: 849
            }
        );
    }

    #[test]
    fn line_total_exact_half_rounds_up() {
        // 5% of 10 = 0.5 -> 1; 5% of 30 = 1.5 -> 2; 5% of 50 = 2.5 -> 3.
        assert_eq!(line_total(&line(1, 10, 500)).discount_minor, 1);
        assert_eq!(line_total(&line(1, 30, 500)).discount_minor, 2);
        assert_eq!(line_total(&line(5, 10, 500)).discount_minor, 3);
    }

    #[test]
    fn line_total_just_below_half_rounds_down() {
        // 1% of 149 = 1.49 -> 1.
        assert_eq!(line_total(&line(1, 149, 100)).discount_minor, 1);
    }

    #[test]
    fn line_total_negative_amount_rounds_away_from_zero() {
        // Not valid input, but arithmetic stays symmetric: 5% of -10 = -0.5 -> -1.
        let total = line_total(&line(1, -10, 500));
        assert_eq!(
            total,
            LineTotal {
                gross_minor: -10,
                discount_minor: -1,
                net_minor: -9
            }
        );
    }

    #[test]
    fn line_total_without_and_with_full_discount() {
        assert_eq!(
            line_total(&line(2, 1250, 0)),
            LineTotal {
                gross_minor: 2500,
                discount_minor: 0,
                net_minor: 2500
            }
        );
        assert_eq!(
            line_total(&line(2, 1250, 10_000)),
            LineTotal {
                gross_minor: 2500,
                discount_minor: 2500,
                net_minor: 0
            }
        );
    }

    #[test]
    fn line_total_saturates_instead_of_overflowing() {
        let total = line_total(&line(1_000_000, 10_000_000_000_000, 0));
        assert_eq!(total.gross_minor, i64::MAX);
        assert_eq!(total.net_minor, i64::MAX);
    }

    #[test]
    fn extreme_unvalidated_input_does_not_panic() {
        let worst = line(i64::MIN, i64::MAX, i32::MIN);
        let total = line_total(&worst);
        assert_eq!(total.gross_minor, i64::MIN);
        let totals = quote_totals(&[worst, worst, line(i64::MAX, i64::MAX, i32::MAX)], i32::MAX);
        assert!(totals.subtotal_minor == i64::MIN || totals.subtotal_minor == i64::MAX);
        assert!(!validate(&[worst], i32::MIN).is_empty());
    }

    #[test]
    fn quote_totals_applies_header_discount_to_subtotal() {
        // Nets: 849 (3 x 333 at 15%) + 1000 (1 x 1000) = 1849; 10% of 1849 = 184.9 -> 185.
        let lines = [line(3, 333, 1500), line(1, 1000, 0)];
        let totals = quote_totals(&lines, 1000);
        assert_eq!(
            totals,
            QuoteTotals {
                subtotal_minor: 1849,
                header_discount_minor: 185,
                total_minor: 1664
            }
        );
    }

    #[test]
    fn quote_totals_empty_and_no_header_discount() {
        assert_eq!(quote_totals(&[], 500), QuoteTotals::default());
        let totals = quote_totals(&[line(4, 25, 0)], 0);
        assert_eq!(
            totals,
            QuoteTotals {
                subtotal_minor: 100,
                header_discount_minor: 0,
                total_minor: 100
            }
        );
    }

    #[test]
    fn quote_totals_header_half_rounds_up() {
        // 25% of 10 = 2.5 -> 3.
        let totals = quote_totals(&[line(1, 10, 0)], 2500);
        assert_eq!(
            totals,
            QuoteTotals {
                subtotal_minor: 10,
                header_discount_minor: 3,
                total_minor: 7
            }
        );
    }

    #[test]
    fn validate_accepts_boundaries() {
        let lines = [line(1, 0, 0), line(1_000_000, 1_000_000, 10_000)];
        assert!(validate(&lines, 10_000).is_empty());
        assert!(validate(&[line(1, 10_000_000_000_000, 0)], 0).is_empty());
    }

    #[test]
    fn validate_reports_empty_lines() {
        assert_eq!(fields(&validate(&[], 0)), vec!["lines"]);
    }

    #[test]
    fn validate_reports_each_bad_field_with_path() {
        let lines = [
            line(1, 100, 0),
            line(0, -1, 10_001),
            line(1_000_001, 10_000_000_000_001, -1),
        ];
        let problems = validate(&lines, 0);
        assert_eq!(
            fields(&problems),
            vec![
                "lines[1].quantity",
                "lines[1].unit_price_minor",
                "lines[1].discount_bps",
                "lines[2].quantity",
                "lines[2].unit_price_minor",
                "lines[2].discount_bps",
            ]
        );
        assert_eq!(problems[0].1, "must be between 1 and 1000000");
    }

    #[test]
    fn validate_reports_header_discount() {
        assert_eq!(fields(&validate(&[line(1, 1, 0)], -1)), vec!["discount_bps"]);
        assert_eq!(fields(&validate(&[line(1, 1, 0)], 10_001)), vec!["discount_bps"]);
    }

    #[test]
    fn validate_limits_line_count() {
        let ok = vec![line(1, 1, 0); 200];
        assert!(validate(&ok, 0).is_empty());
        let too_many = vec![line(1, 1, 0); 201];
        assert_eq!(fields(&validate(&too_many, 0)), vec!["lines"]);
    }

    #[test]
    fn validate_reports_overflowing_total() {
        // Each value is in range, but 10^6 * 10^13 = 10^19 > i64::MAX.
        let problems = validate(&[line(1_000_000, 10_000_000_000_000, 0)], 0);
        assert_eq!(
            problems,
            vec![("lines".to_string(), "the quote total is too large".to_string())]
        );
    }
}
