//! Pipeline analytics: funnel, forecast and win statistics. The storage adds up the
//! opportunities in SQL (`storage::reporting`); the rules of what reaching a stage means, how
//! stages convert and how figures round are here.

use std::collections::HashMap;

use crm_platform::money::div_round;

/// 100% in basis points.
const FULL_BPS: i128 = 10_000;
/// Seconds in one day.
const SECONDS_PER_DAY: i128 = 86_400;

/// A pipeline stage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stage {
    /// Unique stage code.
    pub code: String,
    /// Order of the stage in the pipeline (ascending).
    pub position: i32,
    /// Win probability of deals in this stage, in basis points.
    pub probability_bps: i32,
    /// Deals in this stage are won.
    pub is_won: bool,
    /// Deals in this stage are lost.
    pub is_lost: bool,
}

/// One funnel row per stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelRow {
    /// The stage.
    pub stage_code: String,
    /// Opportunities currently in the stage.
    pub count: i64,
    /// Sum of the amounts of opportunities currently in the stage.
    pub amount_minor: i64,
    /// Opportunities that ever reached this stage.
    pub reached: i64,
    /// reached(next open stage in position order)/reached(this), bps; 0 when reached is 0; for the
    /// last open stage: won/reached; 0 for won and lost stages.
    pub conversion_to_next_bps: i32,
    /// Mean of (left_at or now) - entered_at over visits of this stage, whole seconds.
    pub avg_seconds_in_stage: i64,
}

/// Open pipeline of one expected-close month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastRow {
    /// "YYYY-MM".
    pub month: String,
    /// Sum of amounts.
    pub pipeline_minor: i64,
    /// Sum of round(amount*probability_bps/10000), each opportunity rounded on its own (half
    /// away from zero).
    pub weighted_minor: i64,
    /// Number of opportunities.
    pub count: i64,
}

/// Win/loss statistics over a time window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WinStats {
    /// Opportunities won in the window.
    pub won: i64,
    /// Opportunities lost in the window.
    pub lost: i64,
    /// won / (won + lost) in bps, rounded; 0 when none closed.
    pub win_rate_bps: i32,
    /// Mean days from created_at to closed_at over won opportunities, rounded; 0 when none.
    pub avg_cycle_days: i64,
    /// Sum of the amounts of won opportunities.
    pub won_amount_minor: i64,
}

/// What the funnel adds up per stage code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageTotals {
    /// Opportunities now in the stage, and the sum of their amounts.
    pub current: (i64, i64),
    /// Opportunities that reached it (see [`implied_by`]).
    pub reached: i64,
    /// Visits of the stage, and the sum of their durations in whole seconds (each clamped at 0).
    pub visits: (i64, i64),
}

/// The current stages from which an opportunity counts as having reached `stage` besides a
/// visit of it in its history: `stage` itself and, for an open stage, every won stage and
/// every later open stage (stages are sequential, so being further along implies having
/// passed through it).
pub fn implied_by(stage: &Stage, stages: &[Stage]) -> Vec<String> {
    let mut codes = vec![stage.code.clone()];
    if is_open(stage) {
        codes.extend(
            stages
                .iter()
                .filter(|s| s.is_won || (is_open(s) && s.position > stage.position))
                .map(|s| s.code.clone()),
        );
    }
    codes.sort();
    codes.dedup();
    codes
}

/// One row per stage in position order (stages with equal positions by code), won and lost
/// stages included with a conversion of 0. Conversion of an open stage is the reach of the
/// next open stage (or, for the last open one, the opportunities now won) over its own reach.
pub fn funnel(stages: &[Stage], totals: &HashMap<String, StageTotals>) -> Vec<FunnelRow> {
    let none = StageTotals::default();
    let of = |code: &str| totals.get(code).unwrap_or(&none);
    let ordered = sorted_by_position(stages);
    let won: i64 = stages
        .iter()
        .filter(|s| s.is_won)
        .map(|s| of(&s.code).current.0)
        .sum();
    ordered
        .iter()
        .enumerate()
        .map(|(index, stage)| {
            let t = of(&stage.code);
            let conversion = if is_open(stage) {
                let next = ordered[index + 1..]
                    .iter()
                    .find(|next| is_open(next))
                    .map_or(won, |next| of(&next.code).reached);
                ratio_bps(next, t.reached)
            } else {
                0
            };
            FunnelRow {
                stage_code: stage.code.clone(),
                count: t.current.0,
                amount_minor: t.current.1,
                reached: t.reached,
                conversion_to_next_bps: conversion,
                avg_seconds_in_stage: saturate(div_round(i128::from(t.visits.1), i128::from(t.visits.0))),
            }
        })
        .collect()
}

/// Win statistics from the closed opportunities' totals: `cycle_seconds` is the sum, over the
/// won ones, of the whole seconds from creation to close.
pub fn win_stats(won: i64, lost: i64, won_amount_minor: i64, cycle_seconds: i64) -> WinStats {
    WinStats {
        won,
        lost,
        win_rate_bps: ratio_bps(won, won + lost),
        avg_cycle_days: saturate(div_round(
            i128::from(cycle_seconds),
            SECONDS_PER_DAY * i128::from(won),
        )),
        won_amount_minor,
    }
}

/// Stages sorted by (position, code).
fn sorted_by_position(stages: &[Stage]) -> Vec<&Stage> {
    let mut ordered: Vec<&Stage> = stages.iter().collect();
    ordered.sort_by(|a, b| (a.position, &a.code).cmp(&(b.position, &b.code)));
    ordered
}

/// A stage that is neither won nor lost.
pub fn is_open(stage: &Stage) -> bool {
    !stage.is_won && !stage.is_lost
}

/// `numerator / denominator` in bps, rounded; 0 when the denominator is not positive.
fn ratio_bps(numerator: i64, denominator: i64) -> i32 {
    let bps = div_round(i128::from(numerator) * FULL_BPS, i128::from(denominator));
    i32::try_from(bps).unwrap_or(if bps < 0 { i32::MIN } else { i32::MAX })
}

/// Clamps an exact amount into `i64`.
fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(code: &str, position: i32, probability_bps: i32, is_won: bool, is_lost: bool) -> Stage {
        Stage {
            code: code.to_string(),
            position,
            probability_bps,
            is_won,
            is_lost,
        }
    }

    /// Lead(1, 10%), Qualify(2, 30%), Proposal(3, 60%), Won(4), Lost(5) — deliberately shuffled.
    fn stages() -> Vec<Stage> {
        vec![
            stage("Won", 4, 10_000, true, false),
            stage("Qualify", 2, 3000, false, false),
            stage("Lost", 5, 0, false, true),
            stage("Lead", 1, 1000, false, false),
            stage("Proposal", 3, 6000, false, false),
        ]
    }

    /// (stage, its totals).
    type Row<'a> = (&'a str, StageTotals);

    fn totals(rows: &[Row<'_>]) -> HashMap<String, StageTotals> {
        rows.iter()
            .map(|(code, t)| (code.to_string(), t.clone()))
            .collect()
    }

    fn t(current: (i64, i64), reached: i64, visits: (i64, i64)) -> StageTotals {
        StageTotals {
            current,
            reached,
            visits,
        }
    }

    #[test]
    fn reaching_an_open_stage_is_implied_by_later_open_and_won_stages() {
        let all = stages();
        let by = |code: &str| implied_by(all.iter().find(|s| s.code == code).unwrap(), &all);
        assert_eq!(by("Lead"), ["Lead", "Proposal", "Qualify", "Won"]);
        assert_eq!(by("Proposal"), ["Proposal", "Won"]);
        assert_eq!(by("Won"), ["Won"], "won and lost stages only by being there");
        assert_eq!(by("Lost"), ["Lost"]);
    }

    #[test]
    fn funnel_converts_to_the_next_open_stage_and_the_last_to_won() {
        let day = 86_400;
        let rows = funnel(
            &stages(),
            &totals(&[
                ("Lead", t((1, 1000), 4, (4, 16 * day))),
                ("Qualify", t((0, 0), 3, (3, 27 * day))),
                ("Proposal", t((1, 5000), 2, (2, 24 * day))),
                ("Won", t((1, 8000), 1, (1, 40 * day))),
                ("Lost", t((1, 2000), 1, (1, 44 * day))),
            ]),
        );
        let codes: Vec<&str> = rows.iter().map(|r| r.stage_code.as_str()).collect();
        assert_eq!(codes, ["Lead", "Qualify", "Proposal", "Won", "Lost"]);
        let conversions: Vec<i32> = rows.iter().map(|r| r.conversion_to_next_bps).collect();
        assert_eq!(conversions, [7500, 6667, 5000, 0, 0]);
        assert_eq!(rows[0].avg_seconds_in_stage, 4 * day);
        assert_eq!(rows[1].avg_seconds_in_stage, 9 * day);
        assert_eq!(
            (rows[2].count, rows[2].amount_minor, rows[2].reached),
            (1, 5000, 2)
        );
    }

    #[test]
    fn funnel_rounds_half_up_and_has_a_row_per_stage_without_opportunities() {
        let rows = funnel(&stages(), &totals(&[("Lead", t((0, 0), 2, (2, 3)))]));
        assert_eq!(rows[0].avg_seconds_in_stage, 2, "(0 + 3) / 2 = 1.5 -> 2");
        assert_eq!(rows[0].conversion_to_next_bps, 0, "nobody reached the next stage");
        assert_eq!(rows.len(), 5);
        assert!(
            funnel(&stages(), &HashMap::new())
                .iter()
                .all(|r| r.reached == 0 && r.count == 0)
        );
    }

    #[test]
    fn win_stats_rate_and_cycle_round() {
        // Two won in 1.5 and 2 days, one lost: 6667 bps, (1.5 + 2) / 2 = 1.75 -> 2 days.
        let w = win_stats(2, 1, 900, 3 * 86_400 + 43_200);
        assert_eq!(
            (w.win_rate_bps, w.avg_cycle_days, w.won_amount_minor),
            (6667, 2, 900)
        );
        assert_eq!(win_stats(0, 0, 0, 0), WinStats::default());
    }
}
