//! The escalation chain: by default supervisor -> director -> VP -> general manager, and who
//! hears of each level. The clock of a case counts business time and leaves out the time it
//! waited on the customer.

use chrono::{DateTime, NaiveDateTime};

use super::calendar::BusinessCalendar;

/// When a level is raised for an unresolved case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// No first response by its due time.
    ResponseOverdue,
    /// Not resolved by its due time.
    ResolutionOverdue,
    /// Still unresolved after this much business time open, not counting the time it waited
    /// on the customer.
    OpenFor(Span),
}

/// A length of business time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Business hours.
    Hours(i64),
    /// Business days, each as long as the desk's working day.
    Days(i64),
}

impl Span {
    /// Its business minutes under `calendar`.
    pub fn minutes(self, calendar: &BusinessCalendar) -> i64 {
        match self {
            Span::Hours(h) => h.saturating_mul(60),
            Span::Days(d) => d.saturating_mul(calendar.day_minutes()),
        }
    }

    /// How a reason says it: "3 business days", "2 business hours".
    pub fn describe(self) -> String {
        let (n, unit) = match self {
            Span::Hours(h) => (h, "hour"),
            Span::Days(d) => (d, "day"),
        };
        format!("{n} business {unit}{}", if n == 1 { "" } else { "s" })
    }
}

/// One level of the chain and when it is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Who hears of it, e.g. supervisor, director, vp, general_manager.
    pub name: String,
    /// When.
    pub trigger: Trigger,
}

/// A parsed chain such as `supervisor=resolution,director=3d,vp=5d,general_manager=10d`
/// (triggers: `response`, `resolution`, or business time open: `3d` days, `20h` hours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain(pub Vec<Level>);

impl Default for Chain {
    /// The supervisor when the resolution SLA is breached, then the director after 3 business
    /// days, the VP after 5 and the general manager after 10, unresolved.
    fn default() -> Self {
        Self::parse(DEFAULT_CHAIN).expect("valid default chain")
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
                Trigger::OpenFor(Span::Hours(h)) => format!("{}={h}h", l.name),
                Trigger::OpenFor(Span::Days(d)) => format!("{}={d}d", l.name),
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
            let bad =
                || format!("{part:?}: trigger is response, resolution or business time such as 3d or 20h");
            let count = |n: &str| n.parse::<i64>().ok().filter(|n| (1..=10_000).contains(n));
            let trigger = match trigger.trim() {
                "response" => Trigger::ResponseOverdue,
                "resolution" => Trigger::ResolutionOverdue,
                open => match (open.strip_suffix('h'), open.strip_suffix('d')) {
                    (Some(h), _) => Trigger::OpenFor(Span::Hours(count(h).ok_or_else(bad)?)),
                    (_, Some(d)) => Trigger::OpenFor(Span::Days(count(d).ok_or_else(bad)?)),
                    _ => return Err(bad()),
                },
            };
            levels.push(Level { name, trigger });
        }
        if levels.is_empty() {
            return Err("an escalation chain needs at least one level".into());
        }
        Ok(Self(levels))
    }
}

/// The default chain (see [`Chain::default`]).
pub const DEFAULT_CHAIN: &str = "supervisor=resolution,director=3d,vp=5d,general_manager=10d";

/// Where an unresolved case stands; times in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseClock {
    /// Opened (or when its escalation clock started).
    pub opened_at: i64,
    /// First response due.
    pub response_due_at: i64,
    /// First response, if any.
    pub first_response_at: Option<i64>,
    /// Resolution due.
    pub resolution_due_at: i64,
    /// Business minutes it waited on the customer, which its clock does not count.
    pub waited_minutes: i64,
}

fn naive(micros: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .naive_utc()
}

/// When `level` comes due for `case` (µs), if it ever does: one function for both "is it due"
/// and "when to look again", so the two cannot disagree.
fn due_at(level: &Level, calendar: &BusinessCalendar, case: &CaseClock) -> Option<i64> {
    match level.trigger {
        Trigger::ResponseOverdue => case
            .first_response_at
            .is_none()
            .then(|| case.response_due_at.saturating_add(1)),
        Trigger::ResolutionOverdue => Some(case.resolution_due_at.saturating_add(1)),
        Trigger::OpenFor(span) => {
            let minutes = span.minutes(calendar).saturating_add(case.waited_minutes);
            Some(
                calendar
                    .add_minutes(naive(case.opened_at), minutes)
                    .and_utc()
                    .timestamp_micros(),
            )
        }
    }
}

/// The levels due for an unresolved case at `now`, in chain order.
pub fn due_levels<'a>(
    chain: &'a Chain,
    calendar: &BusinessCalendar,
    case: &CaseClock,
    now: i64,
) -> Vec<&'a Level> {
    chain
        .0
        .iter()
        .filter(|l| due_at(l, calendar, case).is_some_and(|t| now >= t))
        .collect()
}

/// When a case must be looked at next: the earliest time a level not in `raised` comes due
/// (the time [`due_levels`] first includes it), or `i64::MAX` when none ever will.
pub fn next_check_at(chain: &Chain, calendar: &BusinessCalendar, case: &CaseClock, raised: &[String]) -> i64 {
    chain
        .0
        .iter()
        .filter(|l| !raised.contains(&l.name))
        .filter_map(|l| due_at(l, calendar, case))
        .min()
        .unwrap_or(i64::MAX)
}

/// Business minutes a case is past its resolution due time at `now` (0 before it).
pub fn overdue_minutes(calendar: &BusinessCalendar, case: &CaseClock, now: i64) -> i64 {
    calendar.minutes_between(naive(case.resolution_due_at), naive(now))
}

/// Who hears of an escalation level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The supervisor of the case's queue.
    QueueSupervisor,
    /// A named user (a director, a vice president).
    User(String),
}

/// Who hears of each level, parsed from `level=who,...` where `who` is `queue_supervisor` or a
/// user id; a level may be named more than once to reach several people. Empty (the default):
/// a `supervisor` level goes to the queue's supervisor, other levels to nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients(pub Vec<(String, Recipient)>);

impl Recipients {
    /// Parses `level=who,...`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (level, who) = part
                .split_once('=')
                .map(|(l, w)| (l.trim().to_lowercase(), w.trim()))
                .filter(|(l, w)| !l.is_empty() && !w.is_empty() && w.len() <= 200)
                .ok_or_else(|| format!("{part:?}: expected level=queue_supervisor or level=<user id>"))?;
            let who = match who {
                "queue_supervisor" => Recipient::QueueSupervisor,
                user => Recipient::User(user.to_string()),
            };
            if !out.contains(&(level.clone(), who.clone())) {
                out.push((level, who));
            }
        }
        Ok(Self(out))
    }

    /// Who hears of `level`.
    pub fn of(&self, level: &str) -> Vec<Recipient> {
        if self.0.is_empty() {
            return if level == "supervisor" {
                vec![Recipient::QueueSupervisor]
            } else {
                Vec::new()
            };
        }
        self.0
            .iter()
            .filter(|(l, _)| l == level)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Refuses recipients of a level the chain does not have (a typo would silence it).
    pub fn check(&self, chain: &Chain) -> Result<(), String> {
        match self.0.iter().find(|(l, _)| !chain.0.iter().any(|c| &c.name == l)) {
            Some((level, _)) => Err(format!(
                "escalation recipients name {level:?}, which is not a level of the chain {}",
                chain.spec()
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOUR: i64 = 3_600_000_000;

    /// Around the clock: business time is wall time.
    fn always() -> BusinessCalendar {
        BusinessCalendar::parse("mon-sun 00:00-24:00").unwrap()
    }

    fn case(opened_at: i64) -> CaseClock {
        CaseClock {
            opened_at,
            response_due_at: opened_at + HOUR,
            first_response_at: None,
            resolution_due_at: opened_at + 8 * HOUR,
            waited_minutes: 0,
        }
    }

    proptest! {
        /// Any setting text is a chain or a clear refusal; a chain's spec reads back the same.
        #[test]
        fn chains_parse_or_are_refused(text in "\\PC{0,40}|([a-z]{0,6}=[a-z0-9_]{0,6},?){0,4}") {
            if let Ok(chain) = Chain::parse(&text) {
                prop_assert_eq!(Chain::parse(&chain.spec()), Ok(chain));
            }
        }

        /// At the time a case is next looked at, a level is due, and none just before.
        #[test]
        fn the_next_check_is_when_a_level_comes_due(
            opened in 0i64..(400 * 24 * HOUR),
            waited in 0i64..5_000,
            raised in 0usize..4,
        ) {
            let (chain, calendar) = (Chain::default(), BusinessCalendar::default());
            let clock = CaseClock { waited_minutes: waited, ..case(opened) };
            let raised: Vec<String> = chain.0.iter().take(raised).map(|l| l.name.clone()).collect();
            let next = next_check_at(&chain, &calendar, &clock, &raised);
            let fresh = |now| due_levels(&chain, &calendar, &clock, now)
                .into_iter()
                .filter(|l| !raised.contains(&l.name))
                .count();
            prop_assert_eq!(fresh(next - 1), 0);
            prop_assert!(fresh(next) > 0);
        }
    }

    #[test]
    fn the_next_check_is_when_the_next_level_comes_due() {
        let chain = Chain::parse("supervisor=resolution,director=72h,vp=120h,general_manager=240h").unwrap();
        let calendar = always();
        let case = case(0);
        let raised = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Nothing raised: the supervisor, just after the resolution is due.
        let next = next_check_at(&chain, &calendar, &case, &[]);
        assert_eq!(next, 8 * HOUR + 1);
        assert!(due_levels(&chain, &calendar, &case, next - 1).is_empty());
        assert_eq!(due_levels(&chain, &calendar, &case, next).len(), 1);
        // Then the director at 72 hours open.
        let next = next_check_at(&chain, &calendar, &case, &raised(&["supervisor"]));
        assert_eq!(next, 72 * HOUR);
        assert_eq!(due_levels(&chain, &calendar, &case, next).len(), 2);
        assert_eq!(
            next_check_at(
                &chain,
                &calendar,
                &case,
                &raised(&["supervisor", "director", "vp", "general_manager"])
            ),
            i64::MAX,
            "every level raised: never again"
        );
        assert_eq!(Chain::parse(&chain.spec()).unwrap(), chain);
        // A response level is not due once the case was answered.
        let chain = Chain::parse("agent=response").unwrap();
        assert_eq!(next_check_at(&chain, &calendar, &case, &[]), HOUR + 1);
        let answered = CaseClock {
            first_response_at: Some(HOUR / 2),
            ..case
        };
        assert_eq!(next_check_at(&chain, &calendar, &answered, &[]), i64::MAX);
    }

    #[test]
    fn levels_come_due_in_order() {
        let chain = Chain::parse("supervisor=resolution,director=3d,vp=5d,general_manager=10d").unwrap();
        let calendar = always();
        let case = case(0);
        let names = |now: i64| {
            due_levels(&chain, &calendar, &case, now)
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

    /// The practice's chain counts working days: a case opened on Monday at 10:00 reaches the
    /// director three working days later (Thursday 10:00), not 72 wall-clock hours later; four
    /// days waiting on the customer move that out by the business time waited.
    #[test]
    fn the_clock_counts_business_days_and_leaves_out_waiting() {
        let (chain, calendar) = (Chain::default(), BusinessCalendar::default());
        // Monday 2026-11-30 10:00 UTC.
        let monday_10 = 1_796_032_800_000_000;
        let case = CaseClock {
            resolution_due_at: i64::MAX - 1,
            ..case(monday_10)
        };
        let director = |c: &CaseClock, now: i64| {
            due_levels(&chain, &calendar, c, now)
                .iter()
                .any(|l| l.name == "director")
        };
        // Thursday 09:59 is 23h59 of business time in; 10:00 is three working days.
        assert!(!director(&case, monday_10 + 3 * 24 * HOUR - HOUR / 60));
        assert!(director(&case, monday_10 + 3 * 24 * HOUR));
        // Saturday and Sunday do not count: opened Friday 10:00, the director hears on Wednesday.
        let friday = CaseClock {
            opened_at: monday_10 + 4 * 24 * HOUR,
            ..case
        };
        assert!(!director(&friday, friday.opened_at + 4 * 24 * HOUR));
        assert!(director(&friday, friday.opened_at + 5 * 24 * HOUR));
        // Waiting four working days (32 business hours) on the customer: Thursday is too early.
        let waited = CaseClock {
            waited_minutes: 4 * 8 * 60,
            ..case
        };
        assert!(!director(&waited, monday_10 + 3 * 24 * HOUR));
        // Three working days of its own plus four waited: seven working days, Wednesday next week.
        assert!(!director(&waited, monday_10 + 9 * 24 * HOUR - HOUR / 60));
        assert!(director(&waited, monday_10 + 9 * 24 * HOUR));
        assert_eq!(Span::Days(3).describe(), "3 business days");
        assert_eq!(Span::Hours(1).describe(), "1 business hour");
    }

    #[test]
    fn a_response_level_waits_for_the_first_reply() {
        let chain = Chain::parse("team_lead=response, manager=resolution").unwrap();
        let calendar = always();
        let mut case = case(0);
        assert_eq!(
            due_levels(&chain, &calendar, &case, 2 * HOUR)[0].name,
            "team_lead"
        );
        case.first_response_at = Some(HOUR / 2);
        assert!(due_levels(&chain, &calendar, &case, 2 * HOUR).is_empty());
        for bad in ["", "a=1w", "a=resolution,a=72h", "=72h", "a=0h", "a=0d", "a=d"] {
            assert!(Chain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recipients_name_levels_of_the_chain() {
        let chain = Chain::default();
        let r =
            Recipients::parse("supervisor=queue_supervisor, director=dir-1,director=dir-2,vp=vp-1").unwrap();
        assert_eq!(r.of("director").len(), 2);
        assert_eq!(r.of("supervisor"), [Recipient::QueueSupervisor]);
        assert!(r.of("general_manager").is_empty());
        assert!(r.check(&chain).is_ok());
        assert!(Recipients::parse("directr=dir-1").unwrap().check(&chain).is_err());
        assert!(Recipients::parse("director").is_err());
        assert!(Recipients::parse("director=").is_err());
        // Unset: the supervisor level goes to the queue's supervisor, whatever the chain.
        let unset = Recipients::parse("").unwrap();
        assert_eq!(unset, Recipients::default());
        assert_eq!(unset.of("supervisor"), [Recipient::QueueSupervisor]);
        assert!(unset.of("director").is_empty());
        assert!(unset.check(&Chain::parse("lead=2h").unwrap()).is_ok());
    }
}
