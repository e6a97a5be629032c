//! The test-cell method: test 1 in N of each cell, compare each cell's response rate with the
//! break-even rate, roll out to the cells above it.

/// The test group of a cell: members in ascending id order, 1-based positions 1, 1+n, 1+2n, ...
/// (n = 1 selects everybody; n = 0 nobody). The rule `storage::campaigns::mark_test_group`
/// applies in SQL, kept here as its reference.
#[cfg(test)]
pub fn test_group(member_ids: &[String], n: usize) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<&String> = member_ids.iter().collect();
    sorted.sort();
    sorted.into_iter().step_by(n).cloned().collect()
}

/// Break-even response rate = cost per contact / net profit per response, in basis points
/// rounded up (62 cents / 35.00 = 1.7714% -> 178 bps), for display. None when the profit is not
/// positive. Whether a cell rolls out is decided exactly, by [`roll_out`], never on these rounded
/// figures.
pub fn break_even_bps(cost_per_contact_minor: i64, net_profit_per_response_minor: i64) -> Option<i64> {
    if net_profit_per_response_minor <= 0 {
        return None;
    }
    let num = i128::from(cost_per_contact_minor.max(0)) * 10_000;
    let den = i128::from(net_profit_per_response_minor);
    Some(((num + den - 1) / den) as i64)
}

/// Response rate in basis points (rounded down); 0 when nobody was contacted.
pub fn response_rate_bps(responses: i64, contacted: i64) -> i64 {
    if contacted <= 0 {
        0
    } else {
        (i128::from(responses) * 10_000 / i128::from(contacted)) as i64
    }
}

/// Roll a cell out when its response rate is strictly above break-even, compared exactly:
/// responses x net profit per response > contacts x cost per contact (the profit of the
/// responses exceeds the cost of the contacts). Never when nobody was contacted or a response
/// earns nothing.
pub fn roll_out(
    responses: i64,
    contacted: i64,
    cost_per_contact_minor: i64,
    net_profit_per_response_minor: i64,
) -> bool {
    if contacted <= 0 || net_profit_per_response_minor <= 0 {
        return false;
    }
    i128::from(responses) * i128::from(net_profit_per_response_minor)
        > i128::from(contacted) * i128::from(cost_per_contact_minor.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_n_from_the_first() {
        let ids: Vec<String> = (1..=10).rev().map(|i| format!("m{i:02}")).collect();
        assert_eq!(test_group(&ids, 4), vec!["m01", "m05", "m09"]);
        assert_eq!(test_group(&ids, 1).len(), 10);
        assert!(test_group(&ids, 0).is_empty());
    }

    #[test]
    fn break_even_of_the_textbook_example() {
        assert_eq!(break_even_bps(62, 3500), Some(178));
        assert_eq!(break_even_bps(62, 0), None);
        assert_eq!(response_rate_bps(2, 100), 200);
    }

    #[test]
    fn a_cell_just_above_break_even_rolls_out() {
        // 0.62 / 35 = 1.7714%: 178 of 10,000 (1.78%) is above it, although both round to 178 bps.
        assert!(roll_out(178, 10_000, 62, 3500));
        assert!(!roll_out(177, 10_000, 62, 3500), "1.77% is below");
        assert!(roll_out(2, 100, 62, 3500));
        // Exactly at break-even (1 in 100 at 0.35 / 35) the responses only pay for the contacts.
        assert!(!roll_out(1, 100, 35, 3500));
        assert!(!roll_out(5, 0, 62, 3500), "nobody contacted");
        assert!(!roll_out(5, 10, 62, 0), "a response earns nothing");
    }
}
