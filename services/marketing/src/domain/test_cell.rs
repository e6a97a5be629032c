//! The test-cell method: test 1 in N of each cell, compare each cell's response rate with the
//! break-even rate, roll out to the cells above it.

/// Picks a test group of 1 in `every_n` from members met in (cell, party id) order, each cell's
/// from its first member: positions 1, 1 + n, 1 + 2n, ... of each cell (n = 1 takes everybody).
/// It starts where a run stopped, so that a run going through the members a page at a time
/// picks the same group as one pass would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sampler {
    every_n: i64,
    /// The cell of the last member met.
    pub cell: String,
    /// How many members of that cell were met.
    pub rank: i64,
}

impl Sampler {
    /// Goes on after `rank` members of `cell`.
    pub fn resume(every_n: i64, cell: &str, rank: i64) -> Self {
        Self {
            every_n: every_n.max(1),
            cell: cell.to_owned(),
            rank,
        }
    }

    /// Meets the next member, of `cell`: whether the group takes it.
    pub fn takes(&mut self, cell: &str) -> bool {
        if cell != self.cell {
            cell.clone_into(&mut self.cell);
            self.rank = 0;
        }
        let take = self.rank % self.every_n == 0;
        self.rank += 1;
        take
    }
}

/// The test group of a cell in one pass: members in ascending id order, 1-based positions 1, 1+n,
/// 1+2n, ... (n = 1 selects everybody; n = 0 nobody). The reference [`Sampler`] is checked
/// against.
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
    fn a_sampler_going_page_by_page_picks_the_one_pass_group() {
        // Three cells of 10, 1 and 7 members, met in (cell, party) order.
        let cells: Vec<(String, Vec<String>)> = [("a", 10), ("b", 1), ("c", 7)]
            .into_iter()
            .map(|(cell, n)| (cell.to_owned(), (0..n).map(|i| format!("{cell}{i:02}")).collect()))
            .collect();
        let members: Vec<(&str, &String)> = cells
            .iter()
            .flat_map(|(cell, ids)| ids.iter().map(move |id| (cell.as_str(), id)))
            .collect();
        for every_n in [1, 3, 4, 20] {
            let want: Vec<String> = cells
                .iter()
                .flat_map(|(_, ids)| test_group(ids, every_n))
                .collect();
            for page in [1, 2, 5, 100] {
                let mut got = Vec::new();
                let (mut cell, mut rank) = (String::new(), 0);
                for chunk in members.chunks(page) {
                    // Each page starts from where the one before stopped, as a run does.
                    let mut sampler = Sampler::resume(every_n as i64, &cell, rank);
                    got.extend(
                        chunk
                            .iter()
                            .filter(|(c, _)| sampler.takes(c))
                            .map(|(_, id)| (*id).clone()),
                    );
                    (cell, rank) = (sampler.cell, sampler.rank);
                }
                assert_eq!(got, want, "1 in {every_n}, pages of {page}");
            }
        }
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
