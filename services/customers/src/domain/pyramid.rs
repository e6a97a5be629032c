//! Customer value pyramid: ranking parties by revenue, placing them in tiers by customer share, and the
//! Pareto figures of the ranking.

use std::collections::HashSet;

/// 100% in basis points.
const FULL_BPS: i64 = 10_000;
/// Most tiers a configuration may have.
const MAX_TIERS: usize = 10;
/// Longest tier name, in characters.
const MAX_NAME_LEN: usize = 32;

/// One tier: name and its share of ranked customers in basis points (100 bps = 1%).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierSpec {
    /// Tier name, lower_snake_case.
    pub name: String,
    /// Share of ranked customers in this tier, in basis points.
    pub customer_share_bps: i32,
}

/// The default pyramid: top 1% / next 4% / next 15% / rest 80%, named "top", "high", "medium", "low".
pub fn default_tiers() -> Vec<TierSpec> {
    [("top", 100), ("high", 400), ("medium", 1_500), ("low", 8_000)]
        .into_iter()
        .map(|(name, bps)| TierSpec {
            name: name.to_string(),
            customer_share_bps: bps,
        })
        .collect()
}

/// Problems with a tier configuration, as (field path, message) pairs, e.g. ("tiers[1].name", "must not
/// be empty"). Rules: 1..=10 tiers; names non-empty, lower_snake_case ([a-z][a-z0-9_]*), max 32 chars,
/// unique; each share 1..=10000; shares sum to exactly 10000 (reported on field "tiers"). Empty when valid.
pub fn validate_tiers(tiers: &[TierSpec]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    check_tier_count(tiers, &mut problems);
    check_names(tiers, &mut problems);
    check_shares(tiers, &mut problems);
    problems
}

/// Adds a (field, message) problem.
fn problem(problems: &mut Vec<(String, String)>, field: String, message: impl Into<String>) {
    problems.push((field, message.into()));
}

/// 1..=10 tiers.
fn check_tier_count(tiers: &[TierSpec], problems: &mut Vec<(String, String)>) {
    if tiers.is_empty() || tiers.len() > MAX_TIERS {
        let message = format!("must have between 1 and {MAX_TIERS} tiers, got {}", tiers.len());
        problem(problems, "tiers".to_string(), message);
    }
}

/// Names: non-empty, at most 32 characters, lower_snake_case, unique.
fn check_names(tiers: &[TierSpec], problems: &mut Vec<(String, String)>) {
    let mut seen = HashSet::new();
    for (i, tier) in tiers.iter().enumerate() {
        let field = format!("tiers[{i}].name");
        if tier.name.is_empty() {
            problem(problems, field, "must not be empty");
            continue;
        }
        if tier.name.chars().count() > MAX_NAME_LEN {
            problem(
                problems,
                field.clone(),
                format!("must be at most {MAX_NAME_LEN} characters"),
            );
        }
        if !is_lower_snake_case(&tier.name) {
            problem(
                problems,
                field.clone(),
                "must be lower_snake_case ([a-z][a-z0-9_]*)",
            );
        }
        if !seen.insert(tier.name.as_str()) {
            problem(problems, field, format!("duplicate tier name \"{}\"", tier.name));
        }
    }
}

/// Matches [a-z][a-z0-9_]*.
fn is_lower_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Each share 1..=10000 and, for a non-empty list, a total of exactly 10000.
fn check_shares(tiers: &[TierSpec], problems: &mut Vec<(String, String)>) {
    for (i, tier) in tiers.iter().enumerate() {
        if !(1..=FULL_BPS).contains(&i64::from(tier.customer_share_bps)) {
            let field = format!("tiers[{i}].customer_share_bps");
            problem(problems, field, format!("must be between 1 and {FULL_BPS}"));
        }
    }
    // i64 so that many large (invalid) shares cannot overflow the sum.
    let total: i64 = tiers.iter().map(|t| i64::from(t.customer_share_bps)).sum();
    if !tiers.is_empty() && total != FULL_BPS {
        let message = format!("customer shares must sum to {FULL_BPS} bps, got {total}");
        problem(problems, "tiers".to_string(), message);
    }
}

/// A party's revenue for ranking.
#[derive(Debug, Clone)]
pub struct Contribution {
    /// The party's id; one contribution per party is expected.
    pub party_id: String,
    /// Revenue in minor currency units (e.g. cents).
    pub revenue_minor: i64,
}

/// A party's rank (1 = largest) and tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// The party's id.
    pub party_id: String,
    /// 1-based rank, 1 = largest revenue.
    pub rank: i64,
    /// Name of the tier the rank falls in.
    pub tier: String,
}

/// Ranks by revenue descending (ties broken by party_id ascending, so ranking is deterministic). Parties
/// with revenue <= 0 are not ranked (excluded). With n ranked customers, tier i covers ranks up to
/// ceil(n * cumulative_bps_through_i / 10000), never below the previous boundary; the last tier takes
/// everyone left. E.g. n=200 with default tiers: ranks 1-2 top, 3-10 high, 11-40 medium, 41-200 low.
/// With no tiers nobody can be placed, so the result is empty (check configs with `validate_tiers`).
pub fn rank(contributions: &[Contribution], tiers: &[TierSpec]) -> Vec<Ranked> {
    let ordered = ranked_order(contributions);
    let bounds = tier_bounds(ordered.len(), tiers);
    let mut ranked = Vec::with_capacity(ordered.len());
    let mut start = 0;
    for (tier, &end) in tiers.iter().zip(&bounds) {
        for (offset, contribution) in ordered[start..end].iter().enumerate() {
            ranked.push(Ranked {
                party_id: contribution.party_id.clone(),
                rank: to_i64(start + offset + 1),
                tier: tier.name.clone(),
            });
        }
        start = end;
    }
    ranked
}

/// Contributions with positive revenue, largest first, ties by party_id ascending.
fn ranked_order(contributions: &[Contribution]) -> Vec<&Contribution> {
    let mut ordered: Vec<&Contribution> = contributions.iter().filter(|c| c.revenue_minor > 0).collect();
    ordered.sort_by(|a, b| {
        b.revenue_minor
            .cmp(&a.revenue_minor)
            .then_with(|| a.party_id.cmp(&b.party_id))
    });
    ordered
}

/// Last rank (1-based, inclusive) of each tier for `n` ranked customers; non-decreasing, at most `n`, and
/// the last one is always `n` so everyone is placed even when shares do not sum to 10000.
fn tier_bounds(n: usize, tiers: &[TierSpec]) -> Vec<usize> {
    let mut bounds = Vec::with_capacity(tiers.len());
    let mut cumulative_bps = 0_i64;
    let mut previous = 0;
    for (i, tier) in tiers.iter().enumerate() {
        cumulative_bps += i64::from(tier.customer_share_bps);
        let bound = if i + 1 == tiers.len() {
            n
        } else {
            ceil_share(n, cumulative_bps).max(previous).min(n)
        };
        bounds.push(bound);
        previous = bound;
    }
    bounds
}

/// Each tier's name with the customer share, in bps, of it and the tiers above it (clamped to
/// 0..=10000): what SQL ranks by, with the boundaries of [`rank`].
pub fn cumulative_shares(tiers: &[TierSpec]) -> Vec<(i64, &str)> {
    let mut cumulative = 0_i64;
    tiers
        .iter()
        .map(|tier| {
            cumulative += i64::from(tier.customer_share_bps);
            (cumulative.clamp(0, FULL_BPS), tier.name.as_str())
        })
        .collect()
}

/// ceil(n * bps / 10000), with bps clamped to 0..=10000 so invalid configs cannot go out of range.
fn ceil_share(n: usize, bps: i64) -> usize {
    let scaled = to_i128(n) * i128::from(bps.clamp(0, FULL_BPS));
    let full = i128::from(FULL_BPS);
    usize::try_from((scaled + full - 1) / full).unwrap_or(n)
}

/// Figures of one tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Tier name.
    pub name: String,
    /// Ranked customers in the tier.
    pub customers: i64,
    /// Their revenue, in minor units (saturating at i64::MAX).
    pub revenue_minor: i64,
    /// Their share of total revenue, rounded to the nearest bps; 0 when total revenue is 0.
    pub revenue_share_bps: i32,
    /// Their contribution, in minor units.
    pub contribution_minor: i64,
    /// Their share of the total contribution, bps (above 10000 or negative when others lose
    /// money); 0 when the total is not positive.
    pub contribution_share_bps: i32,
}

/// The whole pyramid.
#[derive(Debug, Clone, PartialEq)]
pub struct Pyramid {
    /// One level per configured tier, in configuration order, including empty tiers.
    pub levels: Vec<Level>,
    /// Customers with positive revenue.
    pub ranked_customers: i64,
    /// Revenue of the ranked customers, in minor units (saturating at i64::MAX).
    pub total_revenue_minor: i64,
    /// Share of revenue from the top 20% of ranked customers (ceil(n*0.2) customers), bps.
    pub top_20_percent_revenue_share_bps: i32,
    /// Smallest share of customers, from the top, whose value reaches 80% of the total, bps
    /// (customers_needed * 10000 / n, rounded to nearest).
    pub customers_for_80_percent_revenue_bps: i32,
    /// Contribution of the ranked customers.
    pub total_contribution_minor: i64,
    /// Share of the contribution from the top 20%, bps: may exceed 10000 when the rest lose money.
    pub top_20_percent_contribution_share_bps: i32,
}

/// Builds the pyramid from ranked contributions, using the same ordering and tier boundaries as `rank`.
/// Every configured tier appears in levels, in config order, even when empty. Revenue shares are rounded
/// to the nearest bps, all zeros when the total is 0. Sums and products are done in i128 so they cannot
/// overflow.
pub fn pyramid(contributions: &[Contribution], tiers: &[TierSpec]) -> Pyramid {
    let ordered = ranked_order(contributions);
    let revenues: Vec<i128> = ordered.iter().map(|c| i128::from(c.revenue_minor)).collect();
    let total: i128 = revenues.iter().sum();
    let bounds = tier_bounds(revenues.len(), tiers);
    let mut start = 0;
    let mut tier_revenue = Vec::with_capacity(tiers.len());
    for &end in &bounds {
        tier_revenue.push(revenues[start..end].iter().sum());
        start = end;
    }
    let mut cumulative = 0_i128;
    // cumulative >= 0.8 * total, kept in integers so no rounding decides the cut.
    let reaching = revenues.iter().position(|&r| {
        cumulative += r;
        cumulative * 10 >= total * 8
    });
    let top: i128 = revenues[..top_20_percent(revenues.len())].iter().sum();
    let totals = Totals {
        ranked: revenues.len(),
        tier_contribution: tier_revenue.clone(),
        tier_revenue,
        top_20_percent_revenue: top,
        top_20_percent_contribution: top,
        rank_reaching_80_percent: if total > 0 {
            reaching.map_or(0, |i| i + 1)
        } else {
            0
        },
    };
    from_totals(&totals, tiers)
}

/// The figures of a ranking the pyramid is built from, as the database aggregates them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    /// Customers with positive revenue.
    pub ranked: usize,
    /// Revenue of each configured tier, in configuration order (tier boundaries of [`rank`]).
    pub tier_revenue: Vec<i128>,
    /// Revenue of the best [`top_20_percent`] ranks.
    pub top_20_percent_revenue: i128,
    /// Contribution of each configured tier, in configuration order.
    pub tier_contribution: Vec<i128>,
    /// Contribution of the best [`top_20_percent`] ranks.
    pub top_20_percent_contribution: i128,
    /// The smallest rank by which cumulative revenue reaches 80% of the total (0 when none).
    pub rank_reaching_80_percent: usize,
}

/// How many of `n` ranked customers make the top 20%: ceil(n * 20%).
pub fn top_20_percent(n: usize) -> usize {
    n.div_ceil(5)
}

/// The pyramid from aggregated [`Totals`].
pub fn from_totals(totals: &Totals, tiers: &[TierSpec]) -> Pyramid {
    let total: i128 = totals.tier_revenue.iter().sum();
    let total_contribution: i128 = totals.tier_contribution.iter().sum();
    let bounds = tier_bounds(totals.ranked, tiers);
    let mut start = 0;
    let levels = tiers
        .iter()
        .zip(&bounds)
        .enumerate()
        .map(|(i, (tier, &end))| {
            let revenue = totals.tier_revenue.get(i).copied().unwrap_or(0);
            let contribution = totals.tier_contribution.get(i).copied().unwrap_or(0);
            let level = Level {
                name: tier.name.clone(),
                customers: to_i64(end - start),
                revenue_minor: saturate_i64(revenue),
                revenue_share_bps: share_bps(revenue, total),
                contribution_minor: saturate_i64(contribution),
                contribution_share_bps: signed_share_bps(contribution, total_contribution),
            };
            start = end;
            level
        })
        .collect();
    Pyramid {
        levels,
        ranked_customers: to_i64(totals.ranked),
        total_revenue_minor: saturate_i64(total),
        top_20_percent_revenue_share_bps: share_bps(totals.top_20_percent_revenue, total),
        customers_for_80_percent_revenue_bps: if totals.rank_reaching_80_percent > 0 {
            share_bps(to_i128(totals.rank_reaching_80_percent), to_i128(totals.ranked))
        } else {
            0
        },
        total_contribution_minor: saturate_i64(total_contribution),
        top_20_percent_contribution_share_bps: signed_share_bps(
            totals.top_20_percent_contribution,
            total_contribution,
        ),
    }
}

/// The practice's name for the share of the contribution the top 20% make: "20/80", "20/100"
/// or "20/120" for the nearest of those (within 10 points), otherwise "20/<percent>".
pub fn pareto_label(top_20_percent_share_bps: i32) -> String {
    let percent = (f64::from(top_20_percent_share_bps) / 100.0).round() as i64;
    let named = [80, 100, 120]
        .into_iter()
        .min_by_key(|p| (p - percent).abs())
        .filter(|p| (p - percent).abs() <= 10);
    format!("20/{}", named.unwrap_or(percent))
}

/// part / whole in bps, rounded half away from zero, unclamped (a share of a total the others
/// reduce may pass 10000, a loss is negative); 0 when whole is not positive.
fn signed_share_bps(part: i128, whole: i128) -> i32 {
    if whole <= 0 {
        return 0;
    }
    let full = i128::from(FULL_BPS);
    let doubled = 2 * part * full;
    let rounded = if doubled >= 0 {
        (doubled + whole) / (2 * whole)
    } else {
        (doubled - whole) / (2 * whole)
    };
    i32::try_from(rounded.clamp(i128::from(i32::MIN), i128::from(i32::MAX))).unwrap_or(0)
}

/// part / whole in bps, rounded half up; 0 when whole is not positive.
fn share_bps(part: i128, whole: i128) -> i32 {
    if whole <= 0 {
        return 0;
    }
    let full = i128::from(FULL_BPS);
    let rounded = (2 * part * full + whole) / (2 * whole);
    i32::try_from(rounded.clamp(0, full)).unwrap_or(0)
}

/// usize to i64, saturating (counts never get near the limit in practice).
fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// usize to i128, saturating.
fn to_i128(n: usize) -> i128 {
    i128::try_from(n).unwrap_or(i128::MAX)
}

/// i128 to i64, saturating at the bounds.
fn saturate_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod pareto_tests {
    use super::*;

    #[test]
    fn the_practice_names_the_pattern() {
        assert_eq!(pareto_label(8_000), "20/80");
        assert_eq!(pareto_label(8_600), "20/80");
        assert_eq!(pareto_label(10_300), "20/100");
        assert_eq!(pareto_label(12_000), "20/120");
        assert_eq!(pareto_label(6_000), "20/60");
        assert_eq!(pareto_label(15_000), "20/150");
        assert_eq!(signed_share_bps(12, 10), 12_000);
        assert_eq!(signed_share_bps(-2, 10), -2_000);
        assert_eq!(signed_share_bps(5, 0), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contrib(party_id: &str, revenue_minor: i64) -> Contribution {
        Contribution {
            party_id: party_id.to_string(),
            revenue_minor,
        }
    }

    fn tier(name: &str, customer_share_bps: i32) -> TierSpec {
        TierSpec {
            name: name.to_string(),
            customer_share_bps,
        }
    }

    /// Revenues 100, 50, 20, 10, 5, 5, 4, 3, 2, 1 (total 200) for parties p00..p09.
    fn small_example() -> Vec<Contribution> {
        [100, 50, 20, 10, 5, 5, 4, 3, 2, 1]
            .iter()
            .enumerate()
            .map(|(i, &r)| contrib(&format!("p{i:02}"), r))
            .collect()
    }

    fn fields(problems: &[(String, String)]) -> Vec<&str> {
        problems.iter().map(|(field, _)| field.as_str()).collect()
    }

    #[test]
    fn default_tiers_are_valid() {
        let tiers = default_tiers();
        let names: Vec<&str> = tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["top", "high", "medium", "low"]);
        assert!(validate_tiers(&tiers).is_empty());
    }

    #[test]
    fn rank_200_customers_with_default_tiers() {
        let contributions: Vec<Contribution> = (1..=200)
            .map(|i| contrib(&format!("p{i:03}"), 1_000 - i))
            .collect();
        let ranked = rank(&contributions, &default_tiers());
        assert_eq!(ranked.len(), 200);
        let tier_of = |rank: usize| ranked[rank - 1].tier.as_str();
        for (ranks, expected) in [
            (1..=2, "top"),
            (3..=10, "high"),
            (11..=40, "medium"),
            (41..=200, "low"),
        ] {
            for r in ranks {
                assert_eq!(tier_of(r), expected, "rank {r}");
            }
        }
        assert_eq!(
            ranked[0],
            Ranked {
                party_id: "p001".into(),
                rank: 1,
                tier: "top".into()
            }
        );
        assert_eq!(ranked[199].rank, 200);
    }

    #[test]
    fn ties_are_broken_by_party_id() {
        let forward = [
            contrib("b", 10),
            contrib("c", 10),
            contrib("a", 10),
            contrib("d", 20),
        ];
        let mut backward = forward.clone();
        backward.reverse();
        let order = |cs: &[Contribution]| -> Vec<String> {
            rank(cs, &default_tiers())
                .into_iter()
                .map(|r| r.party_id)
                .collect()
        };
        assert_eq!(order(&forward), ["d", "a", "b", "c"]);
        assert_eq!(order(&forward), order(&backward));
    }

    #[test]
    fn non_positive_revenue_is_excluded() {
        let ranked = rank(
            &[contrib("a", 0), contrib("b", 5), contrib("c", -3)],
            &default_tiers(),
        );
        assert_eq!(
            ranked,
            [Ranked {
                party_id: "b".into(),
                rank: 1,
                tier: "top".into()
            }]
        );
        assert_eq!(pyramid(&[contrib("a", 0)], &default_tiers()).ranked_customers, 0);
    }

    #[test]
    fn small_n_fills_top_tier_first() {
        let ranked = rank(&small_example(), &default_tiers());
        let tiers: Vec<&str> = ranked.iter().map(|r| r.tier.as_str()).collect();
        // Boundaries for n=10: ceil(0.1)=1, ceil(0.5)=1, ceil(2)=2, then 10.
        assert_eq!(
            tiers,
            [
                "top", "medium", "low", "low", "low", "low", "low", "low", "low", "low"
            ]
        );
    }

    #[test]
    fn rank_without_tiers_is_empty() {
        assert!(rank(&small_example(), &[]).is_empty());
    }

    #[test]
    fn shares_not_summing_to_full_still_place_everyone() {
        let ranked = rank(&small_example(), &[tier("a", 5_000), tier("b", 1)]);
        assert_eq!(ranked.iter().filter(|r| r.tier == "a").count(), 5);
        assert_eq!(ranked.iter().filter(|r| r.tier == "b").count(), 5);
    }

    #[test]
    fn validate_reports_wrong_sum() {
        let problems = validate_tiers(&[tier("top", 100), tier("rest", 9_000)]);
        assert_eq!(fields(&problems), ["tiers"]);
        assert!(problems[0].1.contains("9100"), "{problems:?}");
    }

    #[test]
    fn validate_reports_duplicate_names() {
        let problems = validate_tiers(&[tier("top", 5_000), tier("top", 5_000)]);
        assert_eq!(fields(&problems), ["tiers[1].name"]);
    }

    #[test]
    fn validate_reports_bad_names() {
        let long = "a".repeat(33);
        let tiers = [
            tier("", 2_000),
            tier("Top", 2_000),
            tier("1st", 2_000),
            tier(&long, 2_000),
            tier("ok_2", 2_000),
        ];
        let problems = validate_tiers(&tiers);
        assert_eq!(
            fields(&problems),
            ["tiers[0].name", "tiers[1].name", "tiers[2].name", "tiers[3].name"]
        );
        assert_eq!(problems[0].1, "must not be empty");
    }

    #[test]
    fn validate_reports_count_and_share_range() {
        assert_eq!(fields(&validate_tiers(&[])), ["tiers"]);
        let eleven: Vec<TierSpec> = (0..11).map(|i| tier(&format!("t{i}"), 1)).collect();
        assert_eq!(fields(&validate_tiers(&eleven)), ["tiers", "tiers"]);
        let problems = validate_tiers(&[tier("a", 0), tier("b", 10_001), tier("c", -1)]);
        let expected = [
            "tiers[0].customer_share_bps",
            "tiers[1].customer_share_bps",
            "tiers[2].customer_share_bps",
        ];
        assert_eq!(fields(&problems)[..3], expected);
    }

    #[test]
    fn pyramid_small_example() {
        let p = pyramid(&small_example(), &default_tiers());
        assert_eq!(p.ranked_customers, 10);
        assert_eq!(p.total_revenue_minor, 200);
        assert_eq!(p.top_20_percent_revenue_share_bps, 7_500);
        assert_eq!(p.customers_for_80_percent_revenue_bps, 3_000);
        // The reference ranks one value: contribution and revenue are the same here.
        let level = |name: &str, customers, revenue_minor, revenue_share_bps| Level {
            name: name.to_string(),
            customers,
            revenue_minor,
            revenue_share_bps,
            contribution_minor: revenue_minor,
            contribution_share_bps: revenue_share_bps,
        };
        assert_eq!(
            p.levels,
            [
                level("top", 1, 100, 5_000),
                level("high", 0, 0, 0),
                level("medium", 1, 50, 2_500),
                level("low", 8, 50, 2_500)
            ]
        );
    }

    #[test]
    fn pyramid_of_nothing_has_empty_levels_and_zero_figures() {
        let p = pyramid(&[], &default_tiers());
        assert_eq!(p.levels.len(), 4);
        assert!(
            p.levels
                .iter()
                .all(|l| l.customers == 0 && l.revenue_minor == 0 && l.revenue_share_bps == 0)
        );
        assert_eq!((p.ranked_customers, p.total_revenue_minor), (0, 0));
        assert_eq!(
            (
                p.top_20_percent_revenue_share_bps,
                p.customers_for_80_percent_revenue_bps
            ),
            (0, 0)
        );
    }

    #[test]
    fn pyramid_rounds_shares_and_survives_huge_revenue() {
        let p = pyramid(
            &[contrib("a", 2), contrib("b", 1)],
            &[tier("x", 5_000), tier("y", 5_000)],
        );
        // 2/3 = 6666.67 -> 6667, 1/3 -> 3333; 80% of 3 needs both customers.
        assert_eq!(p.levels[0].revenue_share_bps, 6_667);
        assert_eq!(p.levels[1].revenue_share_bps, 3_333);
        assert_eq!(p.customers_for_80_percent_revenue_bps, 10_000);

        let huge = pyramid(
            &[contrib("a", i64::MAX), contrib("b", i64::MAX)],
            &default_tiers(),
        );
        assert_eq!(huge.total_revenue_minor, i64::MAX);
        assert_eq!(huge.levels[0].revenue_share_bps, 5_000);
        assert_eq!(huge.customers_for_80_percent_revenue_bps, 10_000);
    }
}
