//! Pipeline analytics: funnel, forecast and win statistics.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
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

/// One stay of an opportunity in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageVisit {
    /// The stage visited.
    pub stage_code: String,
    /// When the opportunity entered the stage.
    pub entered_at: NaiveDateTime,
    /// When it left the stage; `None` while it is still there.
    pub left_at: Option<NaiveDateTime>,
}

/// An opportunity as seen by the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opp {
    /// Opportunity id.
    pub id: String,
    /// Owning rep's user id.
    pub owner_id: String,
    /// Deal amount in minor units.
    pub amount_minor: i64,
    /// Current stage code.
    pub stage_code: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Expected close date.
    pub expected_close: NaiveDate,
    /// When the opportunity was won or lost.
    pub closed_at: Option<NaiveDateTime>,
    /// Stage visits, in any order.
    pub history: Vec<StageVisit>,
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
    /// Sum of round(amount*probability_bps/10000).
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

/// `count`/`amount_minor` = opportunities currently in the stage. Rows in stage position order, one
/// per stage (won/lost stages included, their conversion 0). An opportunity "reached" a stage if its
/// history has a visit to it, or it is currently in it, or (for open stages) it is now in a later
/// open stage or won (stages are sequential).
///
/// Stages with equal positions are ordered by code. Visit durations are clamped at zero so that a
/// visit entered after `now` cannot pull the mean negative.
pub fn funnel(stages: &[Stage], opps: &[Opp], now: NaiveDateTime) -> Vec<FunnelRow> {
    let by_code = index_by_code(stages);
    // Pair each stage (in position order) with its reach, so conversions can look ahead.
    let reach: Vec<(&Stage, i64)> = sorted_by_position(stages)
        .into_iter()
        .map(|stage| (stage, count_reached(stage, opps, &by_code)))
        .collect();
    let won = count_won(opps, &by_code);
    reach
        .iter()
        .enumerate()
        .map(|(index, &(stage, reached))| {
            let conversion = conversion_bps(stage, reached, reach.iter().skip(index + 1), won);
            funnel_row(stage, opps, reached, conversion, now)
        })
        .collect()
}

/// Open opportunities (stage neither won nor lost) grouped by expected_close month, sorted by month;
/// weighted = sum(round(amount*probability_bps/10000)).
///
/// Opportunities whose stage code is unknown are left out: their probability is undefined.
pub fn forecast(stages: &[Stage], opps: &[Opp]) -> Vec<ForecastRow> {
    let by_code = index_by_code(stages);
    // (year, month) -> (pipeline, weighted, count); BTreeMap keeps months sorted.
    let mut months: BTreeMap<(i32, u32), (i128, i128, i64)> = BTreeMap::new();
    for opp in opps {
        let Some(stage) = by_code.get(opp.stage_code.as_str()).filter(|s| is_open(s)) else {
            continue;
        };
        let key = (opp.expected_close.year(), opp.expected_close.month());
        let entry = months.entry(key).or_insert((0, 0, 0));
        let amount = i128::from(opp.amount_minor);
        entry.0 += amount;
        entry.1 += div_round(amount * i128::from(stage.probability_bps), FULL_BPS);
        entry.2 += 1;
    }
    months
        .into_iter()
        .map(|((year, month), (pipeline, weighted, count))| ForecastRow {
            month: format!("{year:04}-{month:02}"),
            pipeline_minor: saturate(pipeline),
            weighted_minor: saturate(weighted),
            count,
        })
        .collect()
}

/// Over opportunities closed (closed_at set, stage is won or lost) within [from, to).
///
/// The cycle mean is computed from exact durations: round(sum of seconds / (86400 * won)).
pub fn win_stats(stages: &[Stage], opps: &[Opp], from: NaiveDateTime, to: NaiveDateTime) -> WinStats {
    let by_code = index_by_code(stages);
    let (mut won, mut lost) = (0i64, 0i64);
    let (mut won_amount, mut cycle_seconds) = (0i128, 0i128);
    for opp in opps {
        let Some(closed_at) = opp.closed_at.filter(|t| from <= *t && *t < to) else {
            continue;
        };
        match by_code.get(opp.stage_code.as_str()) {
            Some(stage) if stage.is_won => {
                won += 1;
                won_amount += i128::from(opp.amount_minor);
                cycle_seconds += i128::from((closed_at - opp.created_at).num_seconds());
            }
            Some(stage) if stage.is_lost => lost += 1,
            _ => {}
        }
    }
    WinStats {
        won,
        lost,
        win_rate_bps: ratio_bps(won, won + lost),
        avg_cycle_days: saturate(div_round(cycle_seconds, SECONDS_PER_DAY * i128::from(won))),
        won_amount_minor: saturate(won_amount),
    }
}

/// Builds one funnel row from the precomputed reach and conversion.
fn funnel_row(stage: &Stage, opps: &[Opp], reached: i64, conversion: i32, now: NaiveDateTime) -> FunnelRow {
    let current: Vec<&Opp> = opps.iter().filter(|o| o.stage_code == stage.code).collect();
    let amount: i128 = current.iter().map(|o| i128::from(o.amount_minor)).sum();
    FunnelRow {
        stage_code: stage.code.clone(),
        count: count_i64(current.iter()),
        amount_minor: saturate(amount),
        reached,
        conversion_to_next_bps: conversion,
        avg_seconds_in_stage: avg_seconds_in_stage(&stage.code, opps, now),
    }
}

/// Conversion of `stage` (which `reached` opportunities reached) to the next open stage among
/// `later` (the following stages with their reach), or to won for the last open stage; 0 for won/lost
/// stages.
fn conversion_bps<'a>(
    stage: &Stage,
    reached: i64,
    mut later: impl Iterator<Item = &'a (&'a Stage, i64)>,
    won: i64,
) -> i32 {
    if !is_open(stage) {
        return 0;
    }
    let numerator = later
        .find(|(next, _)| is_open(next))
        .map_or(won, |&(_, next_reached)| next_reached);
    ratio_bps(numerator, reached)
}

/// Number of opportunities currently in a won stage.
fn count_won(opps: &[Opp], by_code: &HashMap<&str, &Stage>) -> i64 {
    count_i64(
        opps.iter()
            .filter(|o| by_code.get(o.stage_code.as_str()).is_some_and(|s| s.is_won)),
    )
}

/// Number of opportunities that reached `stage`.
fn count_reached(stage: &Stage, opps: &[Opp], by_code: &HashMap<&str, &Stage>) -> i64 {
    count_i64(
        opps.iter()
            .filter(|opp| has_reached(opp, stage, by_code.get(opp.stage_code.as_str()).copied())),
    )
}

/// Whether `opp` (currently in `current`, if that stage is known) reached `stage`.
fn has_reached(opp: &Opp, stage: &Stage, current: Option<&Stage>) -> bool {
    if opp.stage_code == stage.code || opp.history.iter().any(|v| v.stage_code == stage.code) {
        return true;
    }
    if !is_open(stage) {
        return false;
    }
    // Stages are sequential, so being further along implies having passed through this one.
    match current {
        Some(c) if c.is_won => true,
        Some(c) if is_open(c) => c.position > stage.position,
        _ => false,
    }
}

/// Mean visit duration of a stage in whole seconds, rounded; 0 without visits.
fn avg_seconds_in_stage(code: &str, opps: &[Opp], now: NaiveDateTime) -> i64 {
    let durations: Vec<i128> = opps
        .iter()
        .flat_map(|o| o.history.iter())
        .filter(|v| v.stage_code == code)
        .map(|v| i128::from((v.left_at.unwrap_or(now) - v.entered_at).num_seconds().max(0)))
        .collect();
    let total: i128 = durations.iter().sum();
    saturate(div_round(
        total,
        i128::try_from(durations.len()).unwrap_or(i128::MAX),
    ))
}

/// Stages sorted by (position, code).
fn sorted_by_position(stages: &[Stage]) -> Vec<&Stage> {
    let mut ordered: Vec<&Stage> = stages.iter().collect();
    ordered.sort_by(|a, b| (a.position, &a.code).cmp(&(b.position, &b.code)));
    ordered
}

/// Stage lookup by code.
fn index_by_code(stages: &[Stage]) -> HashMap<&str, &Stage> {
    stages.iter().map(|s| (s.code.as_str(), s)).collect()
}

/// A stage that is neither won nor lost.
fn is_open(stage: &Stage) -> bool {
    !stage.is_won && !stage.is_lost
}

/// `numerator / denominator` in bps, rounded; 0 when the denominator is not positive.
fn ratio_bps(numerator: i64, denominator: i64) -> i32 {
    let bps = div_round(i128::from(numerator) * FULL_BPS, i128::from(denominator));
    i32::try_from(bps).unwrap_or(if bps < 0 { i32::MIN } else { i32::MAX })
}

/// Counts items as `i64`.
fn count_i64<T>(items: impl Iterator<Item = T>) -> i64 {
    i64::try_from(items.count()).unwrap_or(i64::MAX)
}

/// Clamps an exact amount into `i64`.
fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("valid test datetime")
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid test date")
    }

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

    fn visit(code: &str, entered: &str, left: Option<&str>) -> StageVisit {
        StageVisit {
            stage_code: code.to_string(),
            entered_at: dt(entered),
            left_at: left.map(dt),
        }
    }

    fn opp(id: &str, stage_code: &str, amount_minor: i64) -> Opp {
        Opp {
            id: id.to_string(),
            owner_id: "rep-1".to_string(),
            amount_minor,
            stage_code: stage_code.to_string(),
            created_at: dt("2026-01-01 00:00"),
            expected_close: date("2026-06-30"),
            closed_at: None,
            history: Vec::new(),
        }
    }

    fn with_history(mut o: Opp, history: Vec<StageVisit>) -> Opp {
        o.history = history;
        o
    }

    fn row(code: &str, count: i64, amount: i64, reached: i64, conv: i32, avg: i64) -> FunnelRow {
        FunnelRow {
            stage_code: code.to_string(),
            count,
            amount_minor: amount,
            reached,
            conversion_to_next_bps: conv,
            avg_seconds_in_stage: avg,
        }
    }

    /// Four opportunities with full histories; now = 2026-03-01 00:00.
    fn funnel_opps() -> Vec<Opp> {
        vec![
            // A: still in Lead since 02-20 (9 days).
            with_history(
                opp("A", "Lead", 1000),
                vec![visit("Lead", "2026-02-20 00:00", None)],
            ),
            // B: Lead 4d, Qualify 10d, in Proposal since 02-15 (14 days).
            with_history(
                opp("B", "Proposal", 5000),
                vec![
                    visit("Lead", "2026-02-01 00:00", Some("2026-02-05 00:00")),
                    visit("Qualify", "2026-02-05 00:00", Some("2026-02-15 00:00")),
                    visit("Proposal", "2026-02-15 00:00", None),
                ],
            ),
            // C: Lead 2d, Qualify 7d, Proposal 10d, Won since 01-20 (40 days).
            with_history(
                opp("C", "Won", 8000),
                vec![
                    visit("Lead", "2026-01-01 00:00", Some("2026-01-03 00:00")),
                    visit("Qualify", "2026-01-03 00:00", Some("2026-01-10 00:00")),
                    visit("Proposal", "2026-01-10 00:00", Some("2026-01-20 00:00")),
                    visit("Won", "2026-01-20 00:00", None),
                ],
            ),
            // D: Lead 1d, Qualify 10d, Lost since 01-16 (44 days).
            with_history(
                opp("D", "Lost", 2000),
                vec![
                    visit("Lead", "2026-01-05 00:00", Some("2026-01-06 00:00")),
                    visit("Qualify", "2026-01-06 00:00", Some("2026-01-16 00:00")),
                    visit("Lost", "2026-01-16 00:00", None),
                ],
            ),
        ]
    }

    #[test]
    fn funnel_with_full_histories() {
        let rows = funnel(&stages(), &funnel_opps(), dt("2026-03-01 00:00"));
        let day = 86_400;
        assert_eq!(
            rows,
            vec![
                // reached A,B,C,D; 3/4 went on; visits 9+4+2+1 = 16 days / 4.
                row("Lead", 1, 1000, 4, 7500, 4 * day),
                // reached B,C,D; 2/3 = 6666.7 -> 6667; visits 10+7+10 = 27 days / 3.
                row("Qualify", 0, 0, 3, 6667, 9 * day),
                // reached B,C; last open stage: won 1 / 2; visits 14+10 = 24 days / 2.
                row("Proposal", 1, 5000, 2, 5000, 12 * day),
                row("Won", 1, 8000, 1, 0, 40 * day),
                row("Lost", 1, 2000, 1, 0, 44 * day),
            ]
        );
    }

    #[test]
    fn funnel_infers_reach_from_current_stage_without_history() {
        let opps = vec![
            opp("P", "Proposal", 100),
            opp("W", "Won", 200),
            opp("L", "Lost", 300),
            opp("Q", "Qualify", 0),
        ];
        let rows = funnel(&stages(), &opps, dt("2026-03-01 00:00"));
        let reached: Vec<i64> = rows.iter().map(|r| r.reached).collect();
        // Lead: P, W, Q (L lost without history: no evidence); Qualify: P, W, Q; Proposal: P, W.
        assert_eq!(reached, vec![3, 3, 2, 1, 1]);
        let conversions: Vec<i32> = rows.iter().map(|r| r.conversion_to_next_bps).collect();
        // Lead->Qualify 3/3; Qualify->Proposal 2/3; Proposal->won 1/2.
        assert_eq!(conversions, vec![10_000, 6667, 5000, 0, 0]);
        assert!(rows.iter().all(|r| r.avg_seconds_in_stage == 0));
    }

    #[test]
    fn funnel_with_no_opportunities() {
        let rows = funnel(&stages(), &[], dt("2026-03-01 00:00"));
        let codes: Vec<&str> = rows.iter().map(|r| r.stage_code.as_str()).collect();
        assert_eq!(codes, vec!["Lead", "Qualify", "Proposal", "Won", "Lost"]);
        assert!(
            rows.iter()
                .all(|r| r.count == 0 && r.reached == 0 && r.conversion_to_next_bps == 0)
        );
    }

    #[test]
    fn funnel_average_rounds_half_up_and_ignores_future_visits() {
        let opps = vec![
            with_history(
                opp("X", "Lost", 0),
                vec![visit("Lead", "2026-03-01 00:00", Some("2026-03-01 00:00"))],
            ),
            with_history(
                opp("Y", "Lost", 0),
                vec![
                    StageVisit {
                        stage_code: "Lead".to_string(),
                        entered_at: dt("2026-03-01 00:00"),
                        left_at: Some(dt("2026-03-01 00:00") + chrono::TimeDelta::seconds(3)),
                    },
                    // Entered after `now` and still open: clamped to 0 seconds.
                    visit("Qualify", "2026-03-02 00:00", None),
                ],
            ),
        ];
        let rows = funnel(&stages(), &opps, dt("2026-03-01 12:00"));
        assert_eq!(rows[0].avg_seconds_in_stage, 2); // (0 + 3) / 2 = 1.5 -> 2
        assert_eq!(rows[1].avg_seconds_in_stage, 0);
    }

    #[test]
    fn funnel_amount_sums_current_opportunities() {
        let opps = vec![
            opp("a", "Lead", 150),
            opp("b", "Lead", 250),
            opp("c", "Unknown", 999),
        ];
        let rows = funnel(&stages(), &opps, dt("2026-03-01 00:00"));
        assert_eq!(
            (rows[0].count, rows[0].amount_minor, rows[0].reached),
            (2, 400, 2)
        );
        assert_eq!(rows[1].conversion_to_next_bps, 0); // reached 0
    }

    fn closing(id: &str, stage_code: &str, amount: i64, close: &str) -> Opp {
        let mut o = opp(id, stage_code, amount);
        o.expected_close = date(close);
        o
    }

    #[test]
    fn forecast_groups_open_opportunities_by_month() {
        let opps = vec![
            closing("E", "Lead", 10_001, "2026-04-15"),   // 1000.1 -> 1000
            closing("F", "Proposal", 2505, "2026-04-30"), // 1503
            closing("G", "Qualify", 1005, "2026-03-02"),  // 301.5 -> 302
            closing("H", "Won", 7000, "2026-03-10"),      // closed: excluded
            closing("I", "Lost", 7000, "2026-03-10"),     // closed: excluded
            closing("J", "Mystery", 7000, "2026-03-10"),  // unknown stage: excluded
            closing("K", "Qualify", 100, "2027-01-01"),   // 30
        ];
        let rows = forecast(&stages(), &opps);
        assert_eq!(
            rows,
            vec![
                ForecastRow {
                    month: "2026-03".to_string(),
                    pipeline_minor: 1005,
                    weighted_minor: 302,
                    count: 1
                },
                ForecastRow {
                    month: "2026-04".to_string(),
                    pipeline_minor: 12_506,
                    weighted_minor: 2503,
                    count: 2
                },
                ForecastRow {
                    month: "2027-01".to_string(),
                    pipeline_minor: 100,
                    weighted_minor: 30,
                    count: 1
                },
            ]
        );
    }

    #[test]
    fn forecast_rounds_each_opportunity_separately() {
        // Two deals of 5 at 10%: 0.5 + 0.5 -> 1 + 1 = 2 (not round(1.0) = 1 from the sum).
        let opps = vec![
            closing("a", "Lead", 5, "2026-05-01"),
            closing("b", "Lead", 5, "2026-05-31"),
        ];
        let rows = forecast(&stages(), &opps);
        assert_eq!(
            rows,
            vec![ForecastRow {
                month: "2026-05".to_string(),
                pipeline_minor: 10,
                weighted_minor: 2,
                count: 2
            }]
        );
        assert!(forecast(&stages(), &[]).is_empty());
    }

    fn closed(id: &str, stage_code: &str, amount: i64, created: &str, closed_at: Option<&str>) -> Opp {
        let mut o = opp(id, stage_code, amount);
        o.created_at = dt(created);
        o.closed_at = closed_at.map(dt);
        o
    }

    #[test]
    fn win_stats_over_half_open_window() {
        let opps = vec![
            closed("W1", "Won", 1000, "2025-12-01 00:00", Some("2026-01-10 00:00")), // 40 days
            closed("W2", "Won", 2000, "2026-01-01 00:00", Some("2026-01-15 12:00")), // 14.5 days
            closed("L1", "Lost", 500, "2025-11-01 00:00", Some("2026-01-20 00:00")),
            closed("L2", "Lost", 500, "2025-11-01 00:00", Some("2026-01-01 00:00")), // at `from`: in
            closed("W3", "Won", 9000, "2026-01-01 00:00", Some("2026-02-01 00:00")), // at `to`: out
            closed("W4", "Won", 9000, "2025-12-01 00:00", Some("2025-12-31 23:59")), // before: out
            closed(
                "O1",
                "Proposal",
                9000,
                "2025-12-01 00:00",
                Some("2026-01-05 00:00"),
            ), // open: out
            closed("W5", "Won", 9000, "2025-12-01 00:00", None),                     // not closed: out
        ];
        let stats = win_stats(&stages(), &opps, dt("2026-01-01 00:00"), dt("2026-02-01 00:00"));
        // Win rate 2/4; cycle (40 + 14.5) / 2 = 27.25 -> 27.
        assert_eq!(
            stats,
            WinStats {
                won: 2,
                lost: 2,
                win_rate_bps: 5000,
                avg_cycle_days: 27,
                won_amount_minor: 3000
            }
        );
    }

    #[test]
    fn win_stats_rounding_and_empty() {
        let opps = vec![
            closed("W1", "Won", 10, "2026-01-01 00:00", Some("2026-01-02 00:00")), // 1 day
            closed("W2", "Won", 20, "2026-01-01 00:00", Some("2026-01-03 00:00")), // 2 days
            closed("L1", "Lost", 30, "2026-01-01 00:00", Some("2026-01-03 00:00")),
        ];
        let stats = win_stats(&stages(), &opps, dt("2026-01-01 00:00"), dt("2026-02-01 00:00"));
        // 2/3 = 6666.7 -> 6667; (1 + 2) / 2 = 1.5 -> 2.
        assert_eq!(
            stats,
            WinStats {
                won: 2,
                lost: 1,
                win_rate_bps: 6667,
                avg_cycle_days: 2,
                won_amount_minor: 30
            }
        );
        let empty = win_stats(&stages(), &[], dt("2026-01-01 00:00"), dt("2026-02-01 00:00"));
        assert_eq!(empty, WinStats::default());
        let only_lost = win_stats(
            &stages(),
            &opps[2..],
            dt("2026-01-01 00:00"),
            dt("2026-02-01 00:00"),
        );
        assert_eq!(
            only_lost,
            WinStats {
                won: 0,
                lost: 1,
                win_rate_bps: 0,
                avg_cycle_days: 0,
                won_amount_minor: 0
            }
        );
    }
}
