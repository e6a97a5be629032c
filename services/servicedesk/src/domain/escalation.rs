//! The escalation chain: by default supervisor -> director -> VP -> general manager.

/// When a level is raised for an unresolved case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// No first response by its due time.
    ResponseOverdue,
    /// Not resolved by its due time.
    ResolutionOverdue,
    /// Still unresolved this many hours after opening.
    OpenFor(i64),
}

/// One level of the chain and when it is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Who hears of it, e.g. supervisor, director, vp, general_manager.
    pub name: String,
    /// When.
    pub trigger: Trigger,
}

/// A parsed chain such as `supervisor=resolution,director=72h,vp=120h,general_manager=240h`
/// (triggers: `response`, `resolution` or hours open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain(pub Vec<Level>);

impl Default for Chain {
    /// The supervisor when the resolution SLA is breached, then the director after 3 days, the
    /// VP after 5 and the general manager after 10, unresolved.
    fn default() -> Self {
        Self::parse("supervisor=resolution,director=72h,vp=120h,general_manager=240h")
            .expect("valid default chain")
    }
}

impl Chain {
    /// The chain written as [`Chain::parse`] reads it, the same for equal chains.
    pub fn spec(&self) -> String {
        self.0
            .iter()
            .map(|l| match l.trigger {
                Trigger::ResponseOverdue => format!("{}=response", l.name),
                Trigger::ResolutionOverdue => format!("{}=resolution", l.name),
                Trigger::OpenFor(h) => format!("{}={h}h", l.name),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses `name=trigger,...`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut levels: Vec<Level> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, trigger) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected name=trigger"))?;
            let name = name.trim().to_lowercase();
            if name.is_empty() || levels.iter().any(|l| l.name == name) {
                return Err(format!("{part:?}: level names must be present and distinct"));
            }
            let trigger = match trigger.trim() {
                "response" => Trigger::ResponseOverdue,
                "resolution" => Trigger::ResolutionOverdue,
                hours => Trigger::OpenFor(
                    hours
                        .strip_suffix('h')
                        .and_then(|h| h.parse().ok())
                        .filter(|h| *h > 0)
                        .ok_or_else(|| {
                            format!("{part:?}: trigger is response, resolution or hours such as 72h")
                        })?,
                ),
            };
            levels.push(Level { name, trigger });
        }
        if levels.is_empty() {
            return Err("an escalation chain needs at least one level".into());
        }
        Ok(Self(levels))
    }
}

/// Where an unresolved case stands; times in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseClock {
    /// Opened.
    pub opened_at: i64,
    /// First response due.
    pub response_due_at: i64,
    /// First response, if any.
    pub first_response_at: Option<i64>,
    /// Resolution due.
    pub resolution_due_at: i64,
}

/// The levels due for an unresolved case at `now`, in chain order.
pub fn due_levels<'a>(chain: &'a Chain, case: &CaseClock, now: i64) -> Vec<&'a Level> {
    chain
        .0
        .iter()
        .filter(|l| match l.trigger {
            Trigger::ResponseOverdue => case.first_response_at.is_none() && now > case.response_due_at,
            Trigger::ResolutionOverdue => now > case.resolution_due_at,
            Trigger::OpenFor(h) => now >= case.opened_at + h * 3_600_000_000,
        })
        .collect()
}

/// When a case must be looked at next: the earliest time a level not in `raised` comes due
/// (strictly after the times of [`due_levels`], so a level due at that time is due then), or
/// `i64::MAX` when none ever will.
pub fn next_check_at(chain: &Chain, case: &CaseClock, raised: &[String]) -> i64 {
    chain
        .0
        .iter()
        .filter(|l| !raised.contains(&l.name))
        .filter_map(|l| match l.trigger {
            Trigger::ResponseOverdue => case
                .first_response_at
                .is_none()
                .then(|| case.response_due_at.saturating_add(1)),
            Trigger::ResolutionOverdue => Some(case.resolution_due_at.saturating_add(1)),
            Trigger::OpenFor(h) => Some(case.opened_at.saturating_add(h.saturating_mul(3_600_000_000))),
        })
        .min()
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any setting text is a chain or a clear refusal; a chain's spec reads back the same.
        #[test]
        fn chains_parse_or_are_refused(text in "\\PC{0,40}|([a-z]{0,6}=[a-z0-9_]{0,6},?){0,4}") {
            if let Ok(chain) = Chain::parse(&text) {
                prop_assert_eq!(Chain::parse(&chain.spec()), Ok(chain));
            }
        }
    }

    #[test]
    fn the_next_check_is_when_the_next_level_comes_due() {
        let chain = Chain::default();
        let case = CaseClock {
            opened_at: 0,
            response_due_at: HOUR,
            first_response_at: None,
            resolution_due_at: 8 * HOUR,
        };
        let raised = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Nothing raised: the supervisor, just after the resolution is due.
        let next = next_check_at(&chain, &case, &[]);
        assert_eq!(next, 8 * HOUR + 1);
        assert!(due_levels(&chain, &case, next - 1).is_empty());
        assert_eq!(due_levels(&chain, &case, next).len(), 1);
        // Then the director at 72 hours open.
        let next = next_check_at(&chain, &case, &raised(&["supervisor"]));
        assert_eq!(next, 72 * HOUR);
        assert_eq!(due_levels(&chain, &case, next).len(), 2);
        assert_eq!(
            next_check_at(
                &chain,
                &case,
                &raised(&["supervisor", "director", "vp", "general_manager"])
            ),
            i64::MAX,
            "every level raised: never again"
        );
        assert_eq!(Chain::parse(&chain.spec()).unwrap(), chain);
        // A response level is not due once the case was answered.
        let chain = Chain::parse("agent=response").unwrap();
        assert_eq!(next_check_at(&chain, &case, &[]), HOUR + 1);
        let answered = CaseClock {
            first_response_at: Some(HOUR / 2),
            ..case
        };
        assert_eq!(next_check_at(&chain, &answered, &[]), i64::MAX);
    }

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn levels_come_due_in_order() {
        let chain = Chain::default();
        let case = CaseClock {
            opened_at: 0,
            response_due_at: HOUR,
            first_response_at: None,
            resolution_due_at: 8 * HOUR,
        };
        let names = |now: i64| {
            due_levels(&chain, &case, now)
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
        };
        assert!(names(HOUR).is_empty());
        assert_eq!(names(9 * HOUR), vec!["supervisor"]);
        assert_eq!(names(73 * HOUR), vec!["supervisor", "director"]);
        assert_eq!(
            names(241 * HOUR),
            vec!["supervisor", "director", "vp", "general_manager"]
        );
    }

    #[test]
    fn a_response_level_waits_for_the_first_reply() {
        let chain = Chain::parse("team_lead=response, manager=resolution").unwrap();
        let mut case = CaseClock {
            opened_at: 0,
            response_due_at: HOUR,
            first_response_at: None,
            resolution_due_at: 8 * HOUR,
        };
        assert_eq!(due_levels(&chain, &case, 2 * HOUR)[0].name, "team_lead");
        case.first_response_at = Some(HOUR / 2);
        assert!(due_levels(&chain, &case, 2 * HOUR).is_empty());
        for bad in ["", "a=1d", "a=resolution,a=72h", "=72h", "a=0h"] {
            assert!(Chain::parse(bad).is_err(), "{bad}");
        }
    }
}
