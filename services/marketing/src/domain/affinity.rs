//! Cross-sell recommendations from co-purchase association rules (support, confidence, lift).
//! The service keeps the counts as purchases arrive ([`basket_delta`]); the rules over whole
//! baskets ([`rules`], built in tests only) are the reference those counts are checked against.

use std::collections::{BTreeMap, BTreeSet};

/// The distinct products one customer bought.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    /// Customer identifier; baskets sharing an id are merged.
    pub customer_id: String,
    /// Products bought (duplicates are ignored).
    pub products: Vec<String>,
}

/// Association rule "customers who bought `from` also bought `to`".
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Antecedent product.
    pub from: String,
    /// Consequent product.
    pub to: String,
    /// Share of all customers who bought both: n(A and B) / N.
    pub support: f64,
    /// Share of `from` buyers who also bought `to`: n(A and B) / n(A).
    pub confidence: f64,
    /// Confidence relative to the base rate of `to`: confidence / (n(B) / N).
    pub lift: f64,
}

/// Co-purchase counts over distinct customers.
#[cfg(test)]
struct Counts {
    /// Number of distinct customers N (including those with empty baskets).
    customers: usize,
    /// n(A): customers who bought each product.
    single: BTreeMap<String, usize>,
    /// n(A and B) for ordered pairs A != B.
    pair: BTreeMap<(String, String), usize>,
}

/// For every ordered pair (A, B), A != B, bought together by at least `min_count` customers:
/// support = n(A and B)/N, confidence = n(A and B)/n(A), lift = confidence / (n(B)/N).
/// Sorted by lift desc, then confidence desc, then (from, to).
///
/// N is the number of distinct customer ids (baskets with the same id are merged, duplicate
/// products ignored). Only pairs bought together at least once are considered, so
/// `min_count = 0` behaves like 1.
#[cfg(test)]
pub fn rules(baskets: &[Basket], min_count: usize) -> Vec<Rule> {
    let counts = count(baskets);
    let mut out: Vec<Rule> = counts
        .pair
        .iter()
        .filter(|&(_, &n_ab)| n_ab >= min_count.max(1))
        .filter_map(|((a, b), &n_ab)| make_rule(&counts, a, b, n_ab))
        .collect();
    out.sort_by(|x, y| {
        y.lift
            .total_cmp(&x.lift)
            .then(y.confidence.total_cmp(&x.confidence))
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    out
}

/// Merges baskets per customer and counts single and pair occurrences.
#[cfg(test)]
fn count(baskets: &[Basket]) -> Counts {
    let mut per_customer: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for basket in baskets {
        let products = per_customer.entry(basket.customer_id.as_str()).or_default();
        products.extend(basket.products.iter().map(String::as_str));
    }
    let mut single: BTreeMap<String, usize> = BTreeMap::new();
    let mut pair: BTreeMap<(String, String), usize> = BTreeMap::new();
    for products in per_customer.values() {
        for &a in products {
            *single.entry(a.to_string()).or_default() += 1;
            for &b in products.iter().filter(|&&b| b != a) {
                *pair.entry((a.to_string(), b.to_string())).or_default() += 1;
            }
        }
    }
    Counts {
        customers: per_customer.len(),
        single,
        pair,
    }
}

/// Builds the rule A -> B from counts; `None` if a count is unexpectedly missing.
#[cfg(test)]
fn make_rule(counts: &Counts, a: &str, b: &str, n_ab: usize) -> Option<Rule> {
    let n_a = *counts.single.get(a)?;
    let n_b = *counts.single.get(b)?;
    rule(a, b, n_ab as u64, n_a as u64, n_b as u64, counts.customers as u64)
}

/// The rule A -> B of `n_ab` customers buying both, `n_a` buying A and `n_b` buying B, among
/// `customers`; `None` when a count is zero.
pub fn rule(a: &str, b: &str, n_ab: u64, n_a: u64, n_b: u64, customers: u64) -> Option<Rule> {
    if customers == 0 || n_a == 0 || n_b == 0 {
        return None;
    }
    // Lift from exact integer products, so A -> B and B -> A get bit-identical lifts.
    let lift = (n_ab as f64 * customers as f64) / (n_a as f64 * n_b as f64);
    Some(Rule {
        from: a.to_string(),
        to: b.to_string(),
        support: n_ab as f64 / customers as f64,
        confidence: n_ab as f64 / n_a as f64,
        lift,
    })
}

/// Changes to co-purchase counts: (product, +1 or -1) for buyers, ((from, to), +1 or -1) for
/// ordered pairs.
pub type BasketDelta = (Vec<(String, i64)>, Vec<((String, String), i64)>);

/// How one customer's products moving from `before` to `after` change the co-purchase counts:
/// +1 or -1 per product whose buyers changed, and per ordered pair bought together. Only the
/// pairs touching a product that came or went change, so the work follows the change, not
/// the basket's square.
pub fn basket_delta(before: &BTreeSet<String>, after: &BTreeSet<String>) -> BasketDelta {
    let added: Vec<&String> = after.difference(before).collect();
    let removed: Vec<&String> = before.difference(after).collect();
    let mut buyers: Vec<(String, i64)> = added.iter().map(|p| ((*p).clone(), 1)).collect();
    buyers.extend(removed.iter().map(|p| ((*p).clone(), -1)));
    let mut pairs = Vec::new();
    for (changed, set, sign) in [(&added, after, 1), (&removed, before, -1)] {
        for &p in changed.iter() {
            for q in set.iter().filter(|q| *q != p) {
                pairs.push(((p.clone(), q.clone()), sign));
                pairs.push(((q.clone(), p.clone()), sign));
            }
        }
    }
    // A pair of two changed products was pushed from both: it counts once.
    pairs.sort();
    pairs.dedup();
    (buyers, pairs)
}

/// Top `k` products for a customer who owns `owned`: for each candidate not owned, the best lift
/// over rules from any owned product (ties: higher confidence, then product id).
///
/// Returns `(product, lift)` pairs sorted by lift desc, then confidence desc, then product id.
pub fn recommend(rules: &[Rule], owned: &[String], k: usize) -> Vec<(String, f64)> {
    let owned: BTreeSet<&str> = owned.iter().map(String::as_str).collect();
    // Best (lift, confidence) per candidate product.
    let mut best: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for rule in rules {
        if !owned.contains(rule.from.as_str()) || owned.contains(rule.to.as_str()) {
            continue;
        }
        let entry = best
            .entry(rule.to.as_str())
            .or_insert((rule.lift, rule.confidence));
        if better(rule.lift, rule.confidence, *entry) {
            *entry = (rule.lift, rule.confidence);
        }
    }
    let mut ranked: Vec<(&str, (f64, f64))> = best.into_iter().collect();
    ranked.sort_by(|(pa, (la, ca)), (pb, (lb, cb))| {
        lb.total_cmp(la).then(cb.total_cmp(ca)).then_with(|| pa.cmp(pb))
    });
    ranked
        .into_iter()
        .take(k)
        .map(|(p, (lift, _))| (p.to_string(), lift))
        .collect()
}

/// Whether (lift, confidence) beats the current best, lift first.
fn better(lift: f64, confidence: f64, current: (f64, f64)) -> bool {
    lift.total_cmp(&current.0)
        .then(confidence.total_cmp(&current.1))
        .is_gt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basket(customer: &str, products: &[&str]) -> Basket {
        Basket {
            customer_id: customer.to_string(),
            products: products.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn owned(products: &[&str]) -> Vec<String> {
        products.iter().map(|p| p.to_string()).collect()
    }

    /// N = 5; n(A) = 3, n(B) = 3, n(C) = 2, n(D) = 2; n(AB) = 2, n(AC) = 2, n(BC) = 1, n(BD) = 1.
    fn example() -> Vec<Basket> {
        vec![
            basket("u1", &["A", "B", "C"]),
            basket("u2", &["A", "B"]),
            basket("u3", &["A", "C"]),
            basket("u4", &["B", "D"]),
            basket("u5", &["D"]),
        ]
    }

    fn summary(rules: &[Rule]) -> Vec<(String, String)> {
        rules.iter().map(|r| (r.from.clone(), r.to.clone())).collect()
    }

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn rules_by_hand() {
        let r = rules(&example(), 1);
        // Lifts: A<->C 5/3 (C->A conf 1, A->C conf 2/3); A<->B 10/9; B<->C and B<->D 5/6
        // (C->B and D->B conf 1/2, B->C and B->D conf 1/3).
        let order = [
            ("C", "A"),
            ("A", "C"),
            ("A", "B"),
            ("B", "A"),
            ("C", "B"),
            ("D", "B"),
            ("B", "C"),
            ("B", "D"),
        ];
        assert_eq!(summary(&r), pairs(&order));
        let c_to_a = &r[0];
        assert!(close(c_to_a.support, 0.4) && close(c_to_a.confidence, 1.0) && close(c_to_a.lift, 5.0 / 3.0));
        let a_to_b = &r[2];
        assert!(
            close(a_to_b.support, 0.4)
                && close(a_to_b.confidence, 2.0 / 3.0)
                && close(a_to_b.lift, 10.0 / 9.0)
        );
        let b_to_d = &r[7];
        assert!(
            close(b_to_d.support, 0.2)
                && close(b_to_d.confidence, 1.0 / 3.0)
                && close(b_to_d.lift, 5.0 / 6.0)
        );
    }

    #[test]
    fn min_count_filters_rare_pairs() {
        let r = rules(&example(), 2);
        assert_eq!(
            summary(&r),
            pairs(&[("C", "A"), ("A", "C"), ("A", "B"), ("B", "A")])
        );
        assert!(rules(&example(), 3).is_empty());
        assert_eq!(rules(&example(), 0).len(), 8);
        assert!(rules(&[], 1).is_empty());
    }

    #[test]
    fn baskets_are_merged_per_customer_and_deduplicated() {
        let mut split = example();
        split[1] = basket("u2", &["A", "A"]);
        split.push(basket("u2", &["B"]));
        assert_eq!(rules(&split, 1), rules(&example(), 1));
    }

    #[test]
    fn recommend_by_hand() {
        let r = rules(&example(), 1);
        let rec = recommend(&r, &owned(&["A"]), 5);
        assert_eq!(rec.len(), 2);
        assert_eq!((rec[0].0.as_str(), rec[1].0.as_str()), ("C", "B"));
        assert!(close(rec[0].1, 5.0 / 3.0) && close(rec[1].1, 10.0 / 9.0));
        assert_eq!(recommend(&r, &owned(&["A"]), 1).len(), 1);
        // From B: A (10/9), then C and D tie on lift 5/6 and confidence 1/3 -> product id order.
        let names: Vec<String> = recommend(&r, &owned(&["B"]), 5)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(names, owned(&["A", "C", "D"]));
        // Owning B and C: A's best lift comes from C -> A (5/3); C -> B is skipped as owned.
        let rec = recommend(&r, &owned(&["B", "C"]), 5);
        assert_eq!(
            rec.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            vec!["A", "D"]
        );
        assert!(close(rec[0].1, 5.0 / 3.0) && close(rec[1].1, 5.0 / 6.0));
    }

    #[test]
    fn recommend_degenerate_inputs() {
        let r = rules(&example(), 1);
        assert!(recommend(&r, &[], 3).is_empty());
        assert!(recommend(&r, &owned(&["A"]), 0).is_empty());
        assert!(recommend(&r, &owned(&["A", "B", "C", "D"]), 3).is_empty());
        assert!(recommend(&[], &owned(&["A"]), 3).is_empty());
    }

    #[test]
    fn basket_deltas_add_up_to_the_counts() {
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
        let steps = [
            set(&[]),
            set(&["a"]),
            set(&["a", "b", "c"]),
            set(&["a", "c", "d"]),
            set(&["d"]),
            set(&[]),
        ];
        let mut buyers: BTreeMap<String, i64> = BTreeMap::new();
        let mut pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
        for window in steps.windows(2) {
            let (b, p) = basket_delta(&window[0], &window[1]);
            for (k, v) in b {
                *buyers.entry(k).or_default() += v;
            }
            for (k, v) in p {
                *pairs.entry(k).or_default() += v;
            }
            // After each step the counts are those of the basket now.
            let now = &window[1];
            for (product, n) in &buyers {
                assert_eq!(*n, i64::from(now.contains(product)), "{product} after {now:?}");
            }
            for ((a, b), n) in &pairs {
                assert_eq!(
                    *n,
                    i64::from(now.contains(a) && now.contains(b)),
                    "{a}-{b} after {now:?}"
                );
            }
            for a in now {
                for b in now.iter().filter(|b| *b != a) {
                    assert_eq!(pairs.get(&(a.clone(), b.clone())), Some(&1));
                }
            }
        }
    }
}
