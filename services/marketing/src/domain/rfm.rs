//! RFM scores: recency, frequency and monetary value in quintiles 1-5 (5 best).
//!
//! Equal-count bins: in each dimension customers are ordered from worst to best (recency: most
//! days since the last purchase first; frequency and monetary: smallest first), ties broken by
//! customer id ascending so the order is total and reproducible; the customer at 0-based
//! position `i` of `n` scores `1 + i * 5 / n`. The five bins therefore differ in size by at most
//! one, and equal values may fall into adjacent bins (decided by id) rather than make the bins
//! uneven. The service scores a customer against stored boundaries ([`Cuts`]); ranking the
//! whole base ([`score`], built in tests only) is the reference they are checked against.

#[cfg(test)]
use std::cmp::Ordering;

/// A customer's purchase figures.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchaser {
    /// Customer id.
    pub id: String,
    /// Days since the last purchase.
    pub recency_days: i64,
    /// Number of purchases.
    pub frequency: i64,
    /// Total spend in minor units.
    pub monetary_minor: i64,
}

/// A customer's scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scored {
    /// Customer id.
    pub id: String,
    /// Recency score 1-5.
    pub r: u8,
    /// Frequency score 1-5.
    pub f: u8,
    /// Monetary score 1-5.
    pub m: u8,
}

impl Scored {
    /// The cell, e.g. `5-3-1`.
    pub fn cell(&self) -> String {
        format!("{}-{}-{}", self.r, self.f, self.m)
    }
}

/// Scores every customer in one dimension; `worse` orders worst first.
#[cfg(test)]
fn quintiles(customers: &[Purchaser], worse: impl Fn(&Purchaser, &Purchaser) -> Ordering) -> Vec<u8> {
    let n = customers.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        worse(&customers[a], &customers[b]).then_with(|| customers[a].id.cmp(&customers[b].id))
    });
    let mut scores = vec![0u8; n];
    for (position, index) in order.into_iter().enumerate() {
        scores[index] = (1 + position * 5 / n) as u8;
    }
    scores
}

/// Scores every customer; the result is sorted by id.
#[cfg(test)]
pub fn score(customers: &[Purchaser]) -> Vec<Scored> {
    if customers.is_empty() {
        return Vec::new();
    }
    let r = quintiles(customers, |a, b| b.recency_days.cmp(&a.recency_days));
    let f = quintiles(customers, |a, b| a.frequency.cmp(&b.frequency));
    let m = quintiles(customers, |a, b| a.monetary_minor.cmp(&b.monetary_minor));
    let mut out: Vec<Scored> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| Scored {
            id: c.id.clone(),
            r: r[i],
            f: f[i],
            m: m[i],
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Where scores begin in each dimension, so that one customer is scored without ranking the
/// base: in the worst-first order of `n` customers, score `k` (2 to 5) begins at position
/// `ceil((k - 1) * n / 5)`, the same bins [`score`] gives. Each boundary is the (value, id) of
/// the customer at that position; recency's value is the day of the last purchase (older is
/// worse), frequency's the number of orders, monetary's the total spend.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cuts {
    /// Recency boundaries, (score, last purchase day, id).
    pub r: Vec<(u8, i64, String)>,
    /// Frequency boundaries, (score, orders, id).
    pub f: Vec<(u8, i64, String)>,
    /// Monetary boundaries, (score, total spend, id).
    pub m: Vec<(u8, i64, String)>,
}

/// The positions (0-based, in the worst-first order of `n` customers) at which scores 2 to 5
/// begin, as (score, position); positions past the end are left out.
pub fn cut_positions(n: usize) -> Vec<(u8, usize)> {
    (2u8..=5)
        .map(|k| (k, (usize::from(k - 1) * n).div_ceil(5)))
        .filter(|(_, position)| *position < n)
        .collect()
}

impl Cuts {
    /// The scores of customer `id` with its last purchase on day `last_day`, `orders` orders and
    /// `total_minor` spent.
    pub fn score(&self, id: &str, last_day: i64, orders: i64, total_minor: i64) -> Scored {
        let at = |cuts: &[(u8, i64, String)], value: i64| {
            cuts.iter()
                .filter(|(_, v, cut_id)| (value, id) >= (*v, cut_id.as_str()))
                .map(|(k, _, _)| *k)
                .max()
                .unwrap_or(1)
        };
        Scored {
            id: id.to_string(),
            r: at(&self.r, last_day),
            f: at(&self.f, orders),
            m: at(&self.m, total_minor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, recency: i64, frequency: i64, monetary: i64) -> Purchaser {
        Purchaser {
            id: id.into(),
            recency_days: recency,
            frequency,
            monetary_minor: monetary,
        }
    }

    #[test]
    fn ten_customers_two_per_bin() {
        let customers: Vec<Purchaser> = (0..10)
            .map(|i| p(&format!("c{i}"), 100 - i * 10, i + 1, (i + 1) * 100))
            .collect();
        let scored = score(&customers);
        // c0 is the least recent, least frequent, smallest; c9 the best.
        assert_eq!(scored[0].cell(), "1-1-1");
        assert_eq!(scored[1].cell(), "1-1-1");
        assert_eq!(scored[2].cell(), "2-2-2");
        assert_eq!(scored[9].cell(), "5-5-5");
    }

    #[test]
    fn ties_are_split_by_id() {
        // Five customers with the same frequency: one per bin, by id.
        let customers: Vec<Purchaser> = ["e", "a", "c", "b", "d"]
            .iter()
            .map(|id| p(id, 10, 3, 100))
            .collect();
        let scored = score(&customers);
        assert_eq!(
            scored.iter().map(|s| (s.id.as_str(), s.f)).collect::<Vec<_>>(),
            vec![("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]
        );
        assert!(score(&[]).is_empty());
    }

    /// Cuts taken from the worst-first orders give every customer the score ranking gives.
    #[test]
    fn cuts_score_like_ranking() {
        for n in [1usize, 2, 3, 5, 7, 10, 23, 100] {
            let customers: Vec<Purchaser> = (0..n as i64)
                .map(|i| {
                    p(
                        &format!("c{:03}", (i * 37) % n as i64),
                        (i * 7) % 13,
                        (i * 5) % 4 + 1,
                        (i * 11) % 9 * 100,
                    )
                })
                .collect();
            let by = |key: &dyn Fn(&Purchaser) -> i64| {
                let mut order: Vec<&Purchaser> = customers.iter().collect();
                order.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id)));
                cut_positions(n)
                    .into_iter()
                    .map(|(k, at)| (k, key(order[at]), order[at].id.clone()))
                    .collect::<Vec<_>>()
            };
            // The day of the last purchase orders like minus the days since it.
            let cuts = Cuts {
                r: by(&|c| -c.recency_days),
                f: by(&|c| c.frequency),
                m: by(&|c| c.monetary_minor),
            };
            for expected in score(&customers) {
                let c = customers.iter().find(|c| c.id == expected.id).unwrap();
                assert_eq!(
                    cuts.score(&c.id, -c.recency_days, c.frequency, c.monetary_minor),
                    expected,
                    "n = {n}"
                );
            }
        }
    }
}
