//! The escalation chain: supervisor -> director -> VP -> general manager.

/// One level of the chain and when it is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// supervisor, director, vp, general_manager.
    pub name: &'static str,
    /// Raised when the case is unresolved this many hours after it was opened; None: when the
    /// resolution due time has passed.
    pub after_hours: Option<i64>,
}

/// The default chain: the supervisor when the resolution SLA is breached, then the director
/// after 3 days, the VP after 5 and the general manager after 10, unresolved.
pub fn default_chain() -> Vec<Level> {
    vec![
        Level {
            name: "supervisor",
            after_hours: None,
        },
        Level {
            name: "director",
            after_hours: Some(72),
        },
        Level {
            name: "vp",
            after_hours: Some(120),
        },
        Level {
            name: "general_manager",
            after_hours: Some(240),
        },
    ]
}

/// The levels due for an unresolved case at `now` (µs): opened at `opened_at`, resolution due
/// at `resolution_due_at`.
pub fn due_levels(chain: &[Level], opened_at: i64, resolution_due_at: i64, now: i64) -> Vec<&Level> {
    chain
        .iter()
        .filter(|l| match l.after_hours {
            None => now > resolution_due_at,
            Some(h) => now >= opened_at + h * 3_600_000_000,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_come_due_in_order() {
        let chain = default_chain();
        let hour = 3_600_000_000;
        let names = |now: i64| {
            due_levels(&chain, 0, 8 * hour, now)
                .iter()
                .map(|l| l.name)
                .collect::<Vec<_>>()
        };
        assert!(names(hour).is_empty());
        assert_eq!(names(9 * hour), vec!["supervisor"]);
        assert_eq!(names(73 * hour), vec!["supervisor", "director"]);
        assert_eq!(
            names(241 * hour),
            vec!["supervisor", "director", "vp", "general_manager"]
        );
    }
}
