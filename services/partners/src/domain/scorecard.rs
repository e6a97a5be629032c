//! Partner scorecards: KPIs scored 0-100, weighted into one score, and a tier recommendation.

use crm_platform::Violations;

/// KPI weights (basis points, adding up to 10000) and recommendation thresholds (scores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Weight of attainment against target.
    pub attainment_weight_bps: i32,
    /// Weight of growth against the same period last year.
    pub growth_weight_bps: i32,
    /// Weight of service complaints about the partner's customers.
    pub complaints_weight_bps: i32,
    /// Weight of returns.
    pub returns_weight_bps: i32,
    /// Scores at or above promote.
    pub promote_at: i32,
    /// Scores below demote.
    pub demote_below: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            attainment_weight_bps: 4000,
            growth_weight_bps: 3000,
            complaints_weight_bps: 1500,
            returns_weight_bps: 1500,
            promote_at: 80,
            demote_below: 50,
        }
    }
}

/// Problems with settings (paths prefixed with `settings.`).
pub fn validate(s: &Settings) -> Violations {
    let mut v = Violations::new();
    let weights = [
        ("attainment_weight_bps", s.attainment_weight_bps),
        ("growth_weight_bps", s.growth_weight_bps),
        ("complaints_weight_bps", s.complaints_weight_bps),
        ("returns_weight_bps", s.returns_weight_bps),
    ];
    for (name, w) in weights {
        v.check(
            !(0..=10_000).contains(&w),
            format!("settings.{name}"),
            "0 to 10000",
        );
    }
    v.check(
        weights.iter().map(|(_, w)| i64::from(*w)).sum::<i64>() != 10_000,
        "settings",
        "weights add up to 10000",
    );
    v.check(
        !(0..=100).contains(&s.promote_at),
        "settings.promote_at",
        "0 to 100",
    );
    v.check(
        !(0..=100).contains(&s.demote_below),
        "settings.demote_below",
        "0 to 100",
    );
    v.check(
        s.demote_below > s.promote_at,
        "settings.demote_below",
        "not above promote_at",
    );
    v
}

/// What the KPIs are computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Target of the period.
    pub target_minor: i64,
    /// Sold in the period.
    pub actual_minor: i64,
    /// Sold in the same period a year before.
    pub last_year_minor: i64,
    /// Complaints in the period.
    pub complaints: i64,
    /// Returned in the period.
    pub returned_minor: i64,
}

/// A scored KPI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kpi {
    /// attainment, growth, complaints or returns.
    pub name: &'static str,
    /// Measured value (bps, or a count for complaints).
    pub value: i64,
    /// 0-100.
    pub score: i32,
    /// Weight, bps.
    pub weight_bps: i32,
}

/// The recommendation for the partner's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommendation {
    /// Move up.
    Promote,
    /// Stay.
    Keep,
    /// Move down.
    Demote,
}

fn bps(a: i64, b: i64) -> i64 {
    if b <= 0 {
        0
    } else {
        (i128::from(a) * 10_000 / i128::from(b)) as i64
    }
}

/// Scores the KPIs: attainment reaches 100 at 120% of target; growth scores 50 when flat, 100 at
/// +100% and 0 at -100%; each complaint costs 10 points; each point of return rate costs 5.
pub fn evaluate(i: &Inputs, s: &Settings) -> (Vec<Kpi>, i32, Recommendation) {
    let attainment = bps(i.actual_minor, i.target_minor);
    let growth = if i.last_year_minor > 0 {
        bps(i.actual_minor - i.last_year_minor, i.last_year_minor)
    } else if i.actual_minor > 0 {
        10_000
    } else {
        0
    };
    let return_rate = bps(i.returned_minor, i.actual_minor + i.returned_minor);
    let kpis = vec![
        Kpi {
            name: "attainment",
            value: attainment,
            score: (attainment.min(12_000) / 120) as i32,
            weight_bps: s.attainment_weight_bps,
        },
        Kpi {
            name: "growth",
            value: growth,
            score: (50 + growth / 200).clamp(0, 100) as i32,
            weight_bps: s.growth_weight_bps,
        },
        Kpi {
            name: "complaints",
            value: i.complaints,
            score: (100 - 10 * i.complaints).max(0) as i32,
            weight_bps: s.complaints_weight_bps,
        },
        Kpi {
            name: "returns",
            value: return_rate,
            score: (100 - return_rate * 5 / 100).max(0) as i32,
            weight_bps: s.returns_weight_bps,
        },
    ];
    let score = (kpis
        .iter()
        .map(|k| i64::from(k.score) * i64::from(k.weight_bps))
        .sum::<i64>()
        / 10_000) as i32;
    let recommendation = if score >= s.promote_at {
        Recommendation::Promote
    } else if score < s.demote_below {
        Recommendation::Demote
    } else {
        Recommendation::Keep
    };
    (kpis, score, recommendation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_partners_are_promoted_weak_ones_demoted() {
        let strong = Inputs {
            target_minor: 100,
            actual_minor: 130,
            last_year_minor: 65,
            complaints: 0,
            returned_minor: 0,
        };
        let (kpis, score, rec) = evaluate(&strong, &Settings::default());
        assert_eq!(
            kpis.iter().map(|k| k.score).collect::<Vec<_>>(),
            vec![100, 100, 100, 100]
        );
        assert_eq!((score, rec), (100, Recommendation::Promote));
        // 45% attainment (37), shrinking by half (25), 3 complaints (70), 10% returns (50).
        let weak = Inputs {
            target_minor: 100,
            actual_minor: 45,
            last_year_minor: 90,
            complaints: 3,
            returned_minor: 5,
        };
        let (kpis, score, rec) = evaluate(&weak, &Settings::default());
        assert_eq!(
            kpis.iter().map(|k| k.score).collect::<Vec<_>>(),
            vec![37, 25, 70, 50]
        );
        assert_eq!(score, (37 * 4000 + 25 * 3000 + 70 * 1500 + 50 * 1500) / 10_000);
        assert_eq!(rec, Recommendation::Demote);
    }

    #[test]
    fn settings_are_checked() {
        assert!(validate(&Settings::default()).is_empty());
        let bad = Settings {
            attainment_weight_bps: 5000,
            demote_below: 90,
            ..Settings::default()
        };
        let fields: Vec<String> = validate(&bad).iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(fields, vec!["settings", "settings.demote_below"]);
    }
}
