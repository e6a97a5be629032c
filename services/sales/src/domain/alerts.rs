//! Sales alerts: stalled and overdue deals, early-stage pile-ups and falling new-deal rates.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

/// Length of the "recent" window for new opportunities, in days.
const RECENT_DAYS: i64 = 30;
/// End of the baseline window (counted back from now), in days.
const BASELINE_END_DAYS: i64 = 120;
/// A day in µs.
const DAY_MICROS: i64 = 86_400_000_000;
/// Number of months in the baseline window.
const BASELINE_MONTHS: i128 = 3;
/// Smallest baseline count for which the falling-rate alert is meaningful.
const MIN_BASELINE_COUNT: i64 = 3;
/// 100% in basis points.
const FULL_BPS: i128 = 10_000;

/// Thresholds of the alert rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSettings {
    /// A deal with no planned date for its stage is stalled after this many days in it.
    pub default_stage_days: i64,
    /// A rep with more than this many open deals in early stages has a pile-up.
    pub pile_up_threshold: i64,
    /// Stages at or below this position count as early.
    pub early_stage_max_position: i32,
    /// New-opportunity rate alert when last 30 days < this share (bps) of the trailing 90-day
    /// monthly average (days 30..120 ago, divided by 3).
    pub falling_rate_bps: i32,
}

impl Default for AlertSettings {
    /// 30 days, 10 deals, position 2, 50%.
    fn default() -> Self {
        AlertSettings {
            default_stage_days: 30,
            pile_up_threshold: 10,
            early_stage_max_position: 2,
            falling_rate_bps: 5000,
        }
    }
}

/// The kinds of alert, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// A deal stayed too long in its stage.
    StalledDeal,
    /// A rep has too many deals in early stages.
    EarlyStagePileUp,
    /// A rep creates markedly fewer opportunities than before.
    FallingNewOpportunities,
    /// A deal's expected close date has passed.
    OverdueClose,
}

/// One raised alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What was detected.
    pub kind: AlertKind,
    /// The opportunity id, or the rep's user id for per-rep alerts.
    pub subject_id: String,
    /// The rep to notify.
    pub owner_id: String,
    /// A short human-readable English sentence.
    pub message: String,
    /// Stable key so that the same condition is raised once: "stalled:<opp>:<stage>",
    /// "pileup:<rep>", "falling:<rep>:<YYYY-MM-DD of now>", "overdue:<opp>:<expected_close>".
    pub dedupe_key: String,
}

/// The two windows of creation times (µs) the falling-rate rule compares: the baseline is
/// `(from, recent_from]`, the recent window `(recent_from, to]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewDealWindows {
    /// The baseline's start (excluded): 120 days before `to`.
    pub from: i64,
    /// The baseline's end (included), the recent window's start (excluded): 30 days before `to`.
    pub recent_from: i64,
    /// Now (included).
    pub to: i64,
}

impl NewDealWindows {
    /// The windows that end at `now` (µs).
    pub fn ending(now: i64) -> Self {
        NewDealWindows {
            from: now.saturating_sub(BASELINE_END_DAYS * DAY_MICROS),
            recent_from: now.saturating_sub(RECENT_DAYS * DAY_MICROS),
            to: now,
        }
    }
}

/// How many opportunities a rep created in each of the [`NewDealWindows`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewDeals {
    /// In the last 30 days.
    pub recent: i64,
    /// In the 90 days before those.
    pub baseline: i64,
}

/// An open deal as seen by the alert rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDeal {
    /// Opportunity id.
    pub id: String,
    /// Its name, as its rep knows it ("" when it has none).
    pub name: String,
    /// Owning rep's user id.
    pub owner_id: String,
    /// Current stage code.
    pub stage_code: String,
    /// Position of the current stage.
    pub stage_position: i32,
    /// When the deal entered its current stage.
    pub entered_stage_at: NaiveDateTime,
    /// The date by which the deal was planned to leave its stage, if any.
    pub planned_leave_date: Option<NaiveDate>,
    /// Expected close date.
    pub expected_close: NaiveDate,
}

/// Stalled: now.date() > planned_leave_date, or (no plan) whole days in stage > default_stage_days.
/// Overdue: expected_close < now.date(). Pile-up: per owner, count of deals with stage_position <=
/// early_stage_max_position > threshold. Falling rate: per owner, given `new_deals` = the counts
/// of that owner's opportunities (all, open or closed) created in the [`NewDealWindows`] ending
/// now: recent = count in (now-30d, now]; baseline = count in (now-120d, now-30d] / 3 (as a
/// rational, compare recent*3*10000 < baseline_count*falling_rate_bps); only when there are at
/// least 3 in the baseline. Output sorted by (kind order as declared, subject_id, dedupe_key).
/// `deals` need only be the deals that may be stalled or overdue (the storage layer reads those
/// alone); `early_counts` gives each rep's open deals in early stages (see [`early_counts`]).
pub fn evaluate(
    deals: &[OpenDeal],
    early_counts: &BTreeMap<String, i64>,
    new_deals: &BTreeMap<String, NewDeals>,
    settings: &AlertSettings,
    now: NaiveDateTime,
) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = Vec::new();
    alerts.extend(deals.iter().filter_map(|deal| stalled(deal, settings, now)));
    alerts.extend(deals.iter().filter_map(|deal| overdue(deal, now.date())));
    alerts.extend(pile_ups(early_counts, settings));
    alerts.extend(
        new_deals
            .iter()
            .filter_map(|(rep, counts)| falling(rep, *counts, settings, now)),
    );
    // dedupe_key as the last criterion makes the order total.
    alerts
        .sort_by(|a, b| (a.kind, &a.subject_id, &a.dedupe_key).cmp(&(b.kind, &b.subject_id, &b.dedupe_key)));
    alerts
}

impl OpenDeal {
    /// The deal as a message names it: by its name, or its id when it has none.
    fn label(&self) -> String {
        if self.name.trim().is_empty() {
            self.id.clone()
        } else {
            format!("\"{}\"", self.name.trim())
        }
    }
}

/// The stalled-deal alert for one deal, if it applies.
fn stalled(deal: &OpenDeal, settings: &AlertSettings, now: NaiveDateTime) -> Option<Alert> {
    let message = match deal.planned_leave_date {
        Some(planned) if now.date() > planned => format!(
            "Deal {} was planned to leave stage {} by {} and is still there.",
            deal.label(),
            deal.stage_code,
            planned.format("%Y-%m-%d")
        ),
        Some(_) => return None,
        None => {
            let days = (now - deal.entered_stage_at).num_days();
            if days <= settings.default_stage_days {
                return None;
            }
            format!(
                "Deal {} has been in stage {} for {days} days.",
                deal.label(),
                deal.stage_code
            )
        }
    };
    Some(Alert {
        kind: AlertKind::StalledDeal,
        subject_id: deal.id.clone(),
        owner_id: deal.owner_id.clone(),
        message,
        dedupe_key: format!("stalled:{}:{}", deal.id, deal.stage_code),
    })
}

/// The overdue-close alert for one deal, if its expected close date has passed.
fn overdue(deal: &OpenDeal, today: NaiveDate) -> Option<Alert> {
    if deal.expected_close >= today {
        return None;
    }
    let close = deal.expected_close.format("%Y-%m-%d");
    Some(Alert {
        kind: AlertKind::OverdueClose,
        subject_id: deal.id.clone(),
        owner_id: deal.owner_id.clone(),
        message: format!(
            "Deal {} was expected to close on {close} and is still open.",
            deal.label()
        ),
        dedupe_key: format!("overdue:{}:{close}", deal.id),
    })
}

/// Each rep's open deals in early stages (at or below the settings' position): what the
/// storage layer counts in SQL.
pub fn early_counts(deals: &[OpenDeal], settings: &AlertSettings) -> BTreeMap<String, i64> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for deal in deals
        .iter()
        .filter(|d| d.stage_position <= settings.early_stage_max_position)
    {
        *counts.entry(deal.owner_id.clone()).or_insert(0) += 1;
    }
    counts
}

/// One pile-up alert per rep with more early-stage deals than the threshold.
fn pile_ups(early_counts: &BTreeMap<String, i64>, settings: &AlertSettings) -> Vec<Alert> {
    early_counts
        .iter()
        .map(|(rep, count)| (rep.as_str(), *count))
        .filter(|&(_, count)| count > settings.pile_up_threshold)
        .map(|(rep, count)| Alert {
            kind: AlertKind::EarlyStagePileUp,
            subject_id: rep.to_string(),
            owner_id: rep.to_string(),
            message: format!(
                "{rep} has {count} open deals in early stages (more than {}).",
                settings.pile_up_threshold
            ),
            dedupe_key: format!("pileup:{rep}"),
        })
        .collect()
}

/// The falling-rate alert for one rep, if recent creations dropped below the baseline share.
fn falling(
    rep: &str,
    NewDeals { recent, baseline }: NewDeals,
    settings: &AlertSettings,
    now: NaiveDateTime,
) -> Option<Alert> {
    if baseline < MIN_BASELINE_COUNT {
        return None;
    }
    // recent < baseline/3 * bps/10000, cross-multiplied to stay in integers.
    let lhs = i128::from(recent) * BASELINE_MONTHS * FULL_BPS;
    let rhs = i128::from(baseline) * i128::from(settings.falling_rate_bps);
    if lhs >= rhs {
        return None;
    }
    Some(Alert {
        kind: AlertKind::FallingNewOpportunities,
        subject_id: rep.to_string(),
        owner_id: rep.to_string(),
        message: format!(
            "{rep} created {recent} new opportunities in the last 30 days, against a monthly average of {} \
             over the previous 90 days.",
            monthly_average(baseline)
        ),
        dedupe_key: format!("falling:{rep}:{}", now.date().format("%Y-%m-%d")),
    })
}

/// `baseline / 3` formatted with one decimal, rounded half away from zero.
fn monthly_average(baseline: i64) -> String {
    let tenths = (i128::from(baseline) * 10 * 2 + BASELINE_MONTHS) / (2 * BASELINE_MONTHS);
    format!("{}.{}", tenths / 10, tenths % 10)
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

    fn now() -> NaiveDateTime {
        dt("2026-03-10 12:00")
    }

    /// A deal that raises nothing at `now()`.
    fn deal(id: &str, owner: &str) -> OpenDeal {
        OpenDeal {
            id: id.to_string(),
            name: String::new(),
            owner_id: owner.to_string(),
            stage_code: "Proposal".to_string(),
            stage_position: 3,
            entered_stage_at: dt("2026-03-01 00:00"),
            planned_leave_date: None,
            expected_close: date("2026-04-30"),
        }
    }

    fn run(deals: &[OpenDeal]) -> Vec<Alert> {
        let settings = AlertSettings::default();
        evaluate(
            deals,
            &early_counts(deals, &settings),
            &BTreeMap::new(),
            &settings,
            now(),
        )
    }

    fn keys(alerts: &[Alert]) -> Vec<&str> {
        alerts.iter().map(|a| a.dedupe_key.as_str()).collect()
    }

    fn created(rep: &str, recent: i64, baseline: i64) -> BTreeMap<String, NewDeals> {
        BTreeMap::from([(rep.to_string(), NewDeals { recent, baseline })])
    }

    fn run_created(map: &BTreeMap<String, NewDeals>) -> Vec<Alert> {
        evaluate(&[], &BTreeMap::new(), map, &AlertSettings::default(), now())
    }

    #[test]
    fn new_deal_windows_end_now() {
        let day = 86_400_000_000;
        let now = 200 * day + 17;
        assert_eq!(
            NewDealWindows::ending(now),
            NewDealWindows {
                from: 80 * day + 17,
                recent_from: 170 * day + 17,
                to: now
            }
        );
    }

    #[test]
    fn default_settings() {
        let s = AlertSettings::default();
        assert_eq!(
            (
                s.default_stage_days,
                s.pile_up_threshold,
                s.early_stage_max_position,
                s.falling_rate_bps
            ),
            (30, 10, 2, 5000)
        );
    }

    #[test]
    fn healthy_deal_raises_nothing() {
        assert!(run(&[deal("o1", "rep-a")]).is_empty());
        assert!(run(&[]).is_empty());
    }

    #[test]
    fn stalled_after_planned_date() {
        let mut late = deal("o1", "rep-a");
        late.planned_leave_date = Some(date("2026-03-09"));
        let alerts = run(&[late]);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, AlertKind::StalledDeal);
        assert_eq!(alerts[0].subject_id, "o1");
        assert_eq!(alerts[0].owner_id, "rep-a");
        assert_eq!(alerts[0].dedupe_key, "stalled:o1:Proposal");
        assert_eq!(
            alerts[0].message,
            "Deal o1 was planned to leave stage Proposal by 2026-03-09 and is still there."
        );
    }

    #[test]
    fn not_stalled_on_planned_date_even_if_long_in_stage() {
        let mut on_time = deal("o1", "rep-a");
        on_time.planned_leave_date = Some(date("2026-03-10"));
        on_time.entered_stage_at = dt("2025-01-01 00:00"); // the plan overrides the default
        assert!(run(&[on_time]).is_empty());
    }

    #[test]
    fn stalled_by_default_days() {
        let mut d31 = deal("o31", "rep-a");
        d31.entered_stage_at = dt("2026-02-07 12:00"); // exactly 31 days
        let mut d30 = deal("o30", "rep-a");
        d30.entered_stage_at = dt("2026-02-08 12:00"); // exactly 30 days: not more than 30
        let mut d30h = deal("o30h", "rep-a");
        d30h.entered_stage_at = dt("2026-02-08 11:00"); // 30 days 1 hour: still 30 whole days
        let alerts = run(&[d31, d30, d30h]);
        assert_eq!(keys(&alerts), vec!["stalled:o31:Proposal"]);
        assert_eq!(
            alerts[0].message,
            "Deal o31 has been in stage Proposal for 31 days."
        );
    }

    #[test]
    fn stalled_respects_custom_days() {
        let mut d = deal("o1", "rep-a");
        d.entered_stage_at = dt("2026-03-01 00:00"); // 9 days
        let settings = AlertSettings {
            default_stage_days: 8,
            ..AlertSettings::default()
        };
        let deals = [d];
        let alerts = evaluate(
            &deals,
            &early_counts(&deals, &settings),
            &BTreeMap::new(),
            &settings,
            now(),
        );
        assert_eq!(keys(&alerts), vec!["stalled:o1:Proposal"]);
    }

    #[test]
    fn overdue_only_after_expected_close() {
        let mut late = deal("o1", "rep-a");
        late.expected_close = date("2026-03-09");
        let mut today = deal("o2", "rep-a");
        today.expected_close = date("2026-03-10");
        let alerts = run(&[late, today]);
        assert_eq!(keys(&alerts), vec!["overdue:o1:2026-03-09"]);
        assert_eq!(alerts[0].kind, AlertKind::OverdueClose);
        assert_eq!(alerts[0].subject_id, "o1");
        assert_eq!(
            alerts[0].message,
            "Deal o1 was expected to close on 2026-03-09 and is still open."
        );
        // A deal with a name is called by it: the rep knows their deals by name.
        let mut named = deal("o3", "rep-a");
        named.name = "Lin renewal".into();
        named.expected_close = date("2026-03-09");
        assert_eq!(
            run(&[named])[0].message,
            "Deal \"Lin renewal\" was expected to close on 2026-03-09 and is still open."
        );
    }

    fn early_deals(owner: &str, count: usize, position: i32) -> Vec<OpenDeal> {
        (0..count)
            .map(|i| {
                let mut d = deal(&format!("{owner}-{i}"), owner);
                d.stage_position = position;
                d
            })
            .collect()
    }

    #[test]
    fn pile_up_above_threshold() {
        let mut deals = early_deals("rep-a", 11, 2); // 11 > 10
        deals.extend(early_deals("rep-b", 10, 1)); // exactly 10: no alert
        deals.extend(early_deals("rep-c", 20, 3)); // not early
        let alerts = run(&deals);
        assert_eq!(keys(&alerts), vec!["pileup:rep-a"]);
        assert_eq!(alerts[0].kind, AlertKind::EarlyStagePileUp);
        assert_eq!(alerts[0].subject_id, "rep-a");
        assert_eq!(alerts[0].owner_id, "rep-a");
        assert_eq!(
            alerts[0].message,
            "rep-a has 11 open deals in early stages (more than 10)."
        );
    }

    #[test]
    fn falling_rate_triggered() {
        let alerts = run_created(&created("rep-a", 0, 4));
        assert_eq!(keys(&alerts), vec!["falling:rep-a:2026-03-10"]);
        assert_eq!(alerts[0].kind, AlertKind::FallingNewOpportunities);
        assert_eq!(alerts[0].subject_id, "rep-a");
        assert_eq!(alerts[0].owner_id, "rep-a");
        assert_eq!(
            alerts[0].message,
            "rep-a created 0 new opportunities in the last 30 days, against a monthly average of 1.3 \
             over the previous 90 days."
        );
    }

    #[test]
    fn falling_rate_not_triggered_at_or_above_share() {
        // Baseline 6 -> 2 a month; 50% of that is 1; recent 1 is not below it.
        assert!(run_created(&created("rep-a", 1, 6)).is_empty());
        // Recent 0 is below it.
        assert_eq!(run_created(&created("rep-a", 0, 6)).len(), 1);
    }

    #[test]
    fn falling_rate_needs_three_baseline_creations() {
        assert!(run_created(&created("rep-a", 0, 2)).is_empty());
        // Exactly three in the baseline and none recent triggers.
        assert_eq!(run_created(&created("rep-a", 0, 3)).len(), 1);
        // One recent: 1*30000 >= 3*5000.
        assert!(run_created(&created("rep-a", 1, 3)).is_empty());
    }

    #[test]
    fn falling_rate_uses_configured_share() {
        // Baseline 3 -> 1 a month; recent 1. With 150% it is below (1*30000 < 3*15000).
        let settings = AlertSettings {
            falling_rate_bps: 15_000,
            ..AlertSettings::default()
        };
        let alerts = evaluate(&[], &BTreeMap::new(), &created("rep-a", 1, 3), &settings, now());
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].message.contains("average of 1.0 "));
    }

    #[test]
    fn output_sorted_by_kind_then_subject() {
        let mut stalled_b = deal("b", "rep-z");
        stalled_b.planned_leave_date = Some(date("2026-03-01"));
        stalled_b.expected_close = date("2026-03-01");
        let mut stalled_a = deal("a", "rep-z");
        stalled_a.entered_stage_at = dt("2026-01-01 00:00");
        let mut deals = vec![stalled_b, stalled_a];
        deals.extend(early_deals("rep-y", 11, 1));
        deals.extend(early_deals("rep-x", 11, 1));
        let mut map = created("rep-w", 0, 3);
        map.insert(
            "rep-v".to_string(),
            NewDeals {
                recent: 0,
                baseline: 3,
            },
        );
        let settings = AlertSettings::default();
        let alerts = evaluate(&deals, &early_counts(&deals, &settings), &map, &settings, now());
        assert_eq!(
            keys(&alerts),
            vec![
                "stalled:a:Proposal",
                "stalled:b:Proposal",
                "pileup:rep-x",
                "pileup:rep-y",
                "falling:rep-v:2026-03-10",
                "falling:rep-w:2026-03-10",
                "overdue:b:2026-03-01",
            ]
        );
    }

    #[test]
    fn monthly_average_formatting() {
        assert_eq!(monthly_average(3), "1.0");
        assert_eq!(monthly_average(4), "1.3");
        assert_eq!(monthly_average(5), "1.7");
        assert_eq!(monthly_average(100), "33.3");
    }
}
