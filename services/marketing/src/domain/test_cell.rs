//! The test-cell method: test 1 in N of each cell, compare each cell's response rate with the
//! break-even rate, roll out to the cells above it.

/// The test group of a cell: members in ascending id order, 1-based positions 1, 1+n, 1+2n, ...
/// (n = 1 selects everybody; n = 0 nobody).
pub fn test_group(member_ids: &[String], n: usize) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<&String> = member_ids.iter().collect();
    sorted.sort();
    sorted.into_iter().step_by(n).cloned().collect()
}

/// Break-even response rate = cost per contact / net profit per response, in basis points
/// rounded up (62 cents / 35.00 = 1.7714% -> 178 bps). None when the profit is not positive.
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

/// Roll a cell out when its response rate is strictly above break-even.
pub fn roll_out(response_rate_bps: i64, break_even_bps: i64) -> bool {
    response_rate_bps > break_even_bps
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
        assert!(roll_out(200, 178));
        assert!(!roll_out(178, 178));
    }
}
