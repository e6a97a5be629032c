//! Case priority and SLA targets.

use crm_proto::servicedesk::v1::CaseType;

/// Tiers whose customers skip ahead of the common queue.
pub const TOP_TIERS: &[&str] = &["top", "high"];

/// Priority 1 (most urgent) to 4: severity sets the base; a complaint or an incident is one
/// step more urgent, and so is a customer of a top tier.
pub fn priority(case_type: i32, severity: i32, tier: &str) -> i32 {
    let mut p = severity.clamp(1, 4);
    if matches!(
        CaseType::try_from(case_type),
        Ok(CaseType::Complaint | CaseType::Incident)
    ) {
        p -= 1;
    }
    if TOP_TIERS.contains(&tier) {
        p -= 1;
    }
    p.clamp(1, 4)
}

/// (first response, resolution) targets in business minutes for a priority; top-tier customers
/// get half of them.
pub fn sla_minutes(priority: i32, tier: &str) -> (i64, i64) {
    let (response, resolution) = match priority {
        1 => (30, 240),
        2 => (60, 960),
        3 => (240, 1920),
        _ => (480, 4800),
    };
    if TOP_TIERS.contains(&tier) {
        (response / 2, resolution / 2)
    } else {
        (response, resolution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_customers_and_complaints_go_first() {
        assert_eq!(priority(CaseType::Inquiry as i32, 3, ""), 3);
        assert_eq!(priority(CaseType::Complaint as i32, 3, ""), 2);
        assert_eq!(priority(CaseType::Complaint as i32, 3, "top"), 1);
        assert_eq!(priority(CaseType::Inquiry as i32, 1, "top"), 1);
        assert_eq!(priority(CaseType::Request as i32, 9, "low"), 4);
        assert_eq!(sla_minutes(2, "top"), (30, 480));
    }
}
