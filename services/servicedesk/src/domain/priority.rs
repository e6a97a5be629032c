//! Case priority and SLA targets, and which customers get preferential service.

use std::collections::HashSet;

use crm_proto::servicedesk::v1::CaseType;

/// The value pyramid the desk assumes until the customers service announces one: its default
/// (top 1%, high 4%, medium 15%, low 80%), shares in basis points.
pub const DEFAULT_PYRAMID: &[(&str, i64)] = &[("top", 100), ("high", 400), ("medium", 1_500), ("low", 8_000)];

/// The share of customers that gets preferential service unless tiers are named: the top 20%,
/// who make most of the profit.
pub const PREFERENTIAL_SHARE_BPS: i64 = 2_000;

/// The tiers whose customers skip ahead of the common queue and get shorter SLAs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferential(HashSet<String>);

impl Preferential {
    /// Exactly the tiers named.
    pub fn named(tiers: &[String]) -> Self {
        Self(
            tiers
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        )
    }

    /// The tiers that make up the top 20% of `pyramid` (tiers top first, with their shares in
    /// basis points): each tier from the top while the share so far stays within 20%, and the
    /// top tier always.
    pub fn top_share_of(pyramid: &[(String, i64)]) -> Self {
        let mut tiers = HashSet::new();
        let mut share = 0;
        for (index, (name, bps)) in pyramid.iter().enumerate() {
            share += bps;
            if share > PREFERENTIAL_SHARE_BPS && index > 0 {
                break;
            }
            tiers.insert(name.clone());
        }
        Self(tiers)
    }

    /// The preferred tiers of the default pyramid.
    pub fn of_default_pyramid() -> Self {
        let pyramid: Vec<(String, i64)> = DEFAULT_PYRAMID.iter().map(|(n, b)| (n.to_string(), *b)).collect();
        Self::top_share_of(&pyramid)
    }

    /// Whether customers of `tier` get preferential service.
    pub fn includes(&self, tier: &str) -> bool {
        !tier.is_empty() && self.0.contains(tier)
    }
}

/// Priority 1 (most urgent) to 4: severity sets the base; a complaint or an incident is one
/// step more urgent, and so is a customer of a preferred tier.
pub fn priority(case_type: i32, severity: i32, preferred: bool) -> i32 {
    let mut p = severity.clamp(1, 4);
    if matches!(
        CaseType::try_from(case_type),
        Ok(CaseType::Complaint | CaseType::Incident)
    ) {
        p -= 1;
    }
    if preferred {
        p -= 1;
    }
    p.clamp(1, 4)
}

/// (first response, resolution) targets in business minutes for a priority; customers of a
/// preferred tier get half of them.
pub fn sla_minutes(priority: i32, preferred: bool) -> (i64, i64) {
    let (response, resolution) = match priority {
        1 => (30, 240),
        2 => (60, 960),
        3 => (240, 1920),
        _ => (480, 4800),
    };
    if preferred {
        (response / 2, resolution / 2)
    } else {
        (response, resolution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pyramid(tiers: &[(&str, i64)]) -> Vec<(String, i64)> {
        tiers.iter().map(|(n, b)| (n.to_string(), *b)).collect()
    }

    #[test]
    fn preferred_customers_and_complaints_go_first() {
        assert_eq!(priority(CaseType::Inquiry as i32, 3, false), 3);
        assert_eq!(priority(CaseType::Complaint as i32, 3, false), 2);
        assert_eq!(priority(CaseType::Complaint as i32, 3, true), 1);
        assert_eq!(priority(CaseType::Inquiry as i32, 1, true), 1);
        assert_eq!(priority(CaseType::Request as i32, 9, false), 4);
        assert_eq!(sla_minutes(2, true), (30, 480));
    }

    #[test]
    fn the_top_20_percent_are_preferred_whatever_the_tiers_are_called() {
        let default = Preferential::of_default_pyramid();
        for tier in ["top", "high", "medium"] {
            assert!(default.includes(tier), "{tier}: within the top 20% (1 + 4 + 15)");
        }
        assert!(!default.includes("low") && !default.includes(""));
        let renamed =
            Preferential::top_share_of(&pyramid(&[("platinum", 500), ("gold", 1_500), ("rest", 8_000)]));
        assert!(renamed.includes("platinum") && renamed.includes("gold") && !renamed.includes("rest"));
        // A tier reaching past 20% is left out, unless it is the top one.
        let coarse = Preferential::top_share_of(&pyramid(&[("a", 1_000), ("b", 3_000), ("c", 6_000)]));
        assert!(coarse.includes("a") && !coarse.includes("b"));
        let wide = Preferential::top_share_of(&pyramid(&[("a", 5_000), ("b", 5_000)]));
        assert!(wide.includes("a") && !wide.includes("b"));
        let named = Preferential::named(&["gold".into(), " ".into()]);
        assert!(named.includes("gold") && !named.includes("top"));
    }
}
