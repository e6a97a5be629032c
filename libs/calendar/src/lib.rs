//! Calendar periods: months, quarters and years, as quotas, targets and reports use them.
//!
//! A [`Period`] is identified by its kind and its first day. Its fields are public, so a
//! `start` that is not the first day of its period is tolerated: every method treats it as the
//! period of that kind containing `start`.

use chrono::{Datelike, Months, NaiveDate};

/// 100% in basis points.
const FULL_BPS: i32 = 10_000;
/// Smallest year accepted by [`Period::parse`].
const MIN_YEAR: i32 = 1900;
/// Largest year accepted by [`Period::parse`].
const MAX_YEAR: i32 = 9999;

/// The granularity of a quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeriodKind {
    /// A calendar month, e.g. "2026-07".
    Month,
    /// A calendar quarter, e.g. "2026-Q3".
    Quarter,
    /// A calendar year, e.g. "2026".
    Year,
}

impl PeriodKind {
    /// Number of calendar months in a period of this kind.
    fn months(self) -> u32 {
        match self {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Year => 12,
        }
    }
}

/// A calendar month, quarter or year, identified by its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    /// The granularity.
    pub kind: PeriodKind,
    /// The first day of the period.
    pub start: NaiveDate,
}

impl Period {
    /// Parses "2026" (year), "2026-Q3" (quarter), "2026-07" (month). None for anything else
    /// (including months 13, quarters 5, years outside 1900..=9999).
    pub fn parse(s: &str) -> Option<Period> {
        let (year_text, rest) = match s.split_once('-') {
            Some((year, rest)) => (year, Some(rest)),
            None => (s, None),
        };
        let year = parse_digits(year_text, 4)?;
        let year = i32::try_from(year)
            .ok()
            .filter(|y| (MIN_YEAR..=MAX_YEAR).contains(y))?;
        let Some(rest) = rest else {
            return Period::from_ym(PeriodKind::Year, year, 1);
        };
        if let Some(quarter_text) = rest.strip_prefix('Q') {
            let quarter = parse_digits(quarter_text, 1).filter(|q| (1..=4).contains(q))?;
            return Period::from_ym(PeriodKind::Quarter, year, (quarter - 1) * 3 + 1);
        }
        let month = parse_digits(rest, 2).filter(|m| (1..=12).contains(m))?;
        Period::from_ym(PeriodKind::Month, year, month)
    }

    /// The canonical text form, inverse of parse.
    pub fn code(&self) -> String {
        let start = self.aligned_start();
        let year = start.year();
        match self.kind {
            PeriodKind::Year => format!("{year:04}"),
            PeriodKind::Quarter => format!("{year:04}-Q{}", (start.month() - 1) / 3 + 1),
            PeriodKind::Month => format!("{year:04}-{:02}", start.month()),
        }
    }

    /// First day after the period.
    pub fn end_exclusive(&self) -> NaiveDate {
        // Only reachable at the end of chrono's date range; saturate rather than panic.
        self.aligned_start()
            .checked_add_months(Months::new(self.kind.months()))
            .unwrap_or(NaiveDate::MAX)
    }

    /// True when `date` falls within the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.aligned_start() <= date && date < self.end_exclusive()
    }

    /// The period of `kind` containing `date`.
    pub fn containing(kind: PeriodKind, date: NaiveDate) -> Period {
        let first_month = match kind {
            PeriodKind::Month => date.month(),
            PeriodKind::Quarter => (date.month() - 1) / 3 * 3 + 1,
            PeriodKind::Year => 1,
        };
        // The first day of a month of a valid date always exists; the fallback is unreachable.
        let start = NaiveDate::from_ymd_opt(date.year(), first_month, 1).unwrap_or(date);
        Period { kind, start }
    }

    /// Share of the period elapsed at `today`, in bps: 0 before the start, 10000 on/after the end;
    /// otherwise days elapsed (counting today as elapsed) * 10000 / days in period, rounded.
    pub fn elapsed_bps(&self, today: NaiveDate) -> i32 {
        let start = self.aligned_start();
        let end = self.end_exclusive();
        if today < start {
            return 0;
        }
        if today >= end {
            return FULL_BPS;
        }
        let elapsed = (today - start).num_days() + 1;
        let total = (end - start).num_days();
        // elapsed <= total here, so the result is within 0..=10000 and the fallback is unreachable.
        i32::try_from(div_round(elapsed * i64::from(FULL_BPS), total)).unwrap_or(FULL_BPS)
    }

    /// The months of this period, in order (a month gives itself).
    pub fn months(&self) -> Vec<Period> {
        let start = self.aligned_start();
        (0..self.kind.months())
            .filter_map(|offset| start.checked_add_months(Months::new(offset)))
            .map(|month_start| Period {
                kind: PeriodKind::Month,
                start: month_start,
            })
            .collect()
    }

    /// The quarter / year containing this period's start (month->quarter, quarter->year,
    /// year->None).
    pub fn parent(&self) -> Option<Period> {
        match self.kind {
            PeriodKind::Month => Some(Period::containing(PeriodKind::Quarter, self.start)),
            PeriodKind::Quarter => Some(Period::containing(PeriodKind::Year, self.start)),
            PeriodKind::Year => None,
        }
    }

    /// Builds the period of `kind` starting on the first of `month` in `year`.
    fn from_ym(kind: PeriodKind, year: i32, month: u32) -> Option<Period> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|start| Period { kind, start })
    }

    /// The real first day, tolerating a hand-built `start` in the middle of the period.
    fn aligned_start(&self) -> NaiveDate {
        Period::containing(self.kind, self.start).start
    }
}

/// Parses exactly `len` ASCII digits (no sign, no spaces).
fn parse_digits(text: &str, len: usize) -> Option<u32> {
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Integer division rounding half away from zero; `den` must be positive (0 yields 0).
fn div_round(num: i64, den: i64) -> i64 {
    if den <= 0 {
        return 0;
    }
    let quotient = num / den;
    let remainder = num % den;
    if 2 * remainder.abs() >= den {
        quotient + num.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text is a period or nothing; a period's code reads back as the same period.
        #[test]
        fn periods_parse_or_are_refused(text in "\\PC{0,12}|[0-9]{4}(-Q[0-9]|-[0-9]{1,2})?") {
            if let Some(period) = Period::parse(&text) {
                prop_assert_eq!(Period::parse(&period.code()), Some(period));
            }
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    fn p(code: &str) -> Period {
        Period::parse(code).expect("valid test period")
    }

    #[test]
    fn parse_each_kind() {
        assert_eq!(
            Period::parse("2026"),
            Some(Period {
                kind: PeriodKind::Year,
                start: d(2026, 1, 1)
            })
        );
        assert_eq!(
            Period::parse("2026-Q3"),
            Some(Period {
                kind: PeriodKind::Quarter,
                start: d(2026, 7, 1)
            })
        );
        assert_eq!(
            Period::parse("2026-07"),
            Some(Period {
                kind: PeriodKind::Month,
                start: d(2026, 7, 1)
            })
        );
        assert_eq!(
            Period::parse("1900-Q1"),
            Some(Period {
                kind: PeriodKind::Quarter,
                start: d(1900, 1, 1)
            })
        );
        assert_eq!(
            Period::parse("9999-12"),
            Some(Period {
                kind: PeriodKind::Month,
                start: d(9999, 12, 1)
            })
        );
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in [
            "",
            "2026-13",
            "2026-00",
            "2026-Q5",
            "2026-Q0",
            "2026-q3",
            "1899",
            "0999",
            "10000",
            "26",
            "2026-7",
            "2026-007",
            "2026-Q03",
            " 2026",
            "2026 ",
            "+2026",
            "2026-",
            "2026-Q",
            "2026-07-01",
            "2026-W01",
            "abcd",
            "2026--07",
            "２０２６",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad:?} should not parse");
        }
    }

    #[test]
    fn code_round_trips() {
        for code in [
            "2026", "1900", "9999", "2026-Q1", "2026-Q4", "2026-01", "2026-07", "2026-12",
        ] {
            assert_eq!(p(code).code(), code);
        }
    }

    #[test]
    fn code_of_unaligned_start_uses_containing_period() {
        let period = Period {
            kind: PeriodKind::Quarter,
            start: d(2026, 8, 15),
        };
        assert_eq!(period.code(), "2026-Q3");
        assert_eq!(period.end_exclusive(), d(2026, 10, 1));
    }

    #[test]
    fn end_exclusive_per_kind() {
        assert_eq!(p("2026-12").end_exclusive(), d(2027, 1, 1));
        assert_eq!(p("2024-02").end_exclusive(), d(2024, 3, 1));
        assert_eq!(p("2026-Q4").end_exclusive(), d(2027, 1, 1));
        assert_eq!(p("2026-Q2").end_exclusive(), d(2026, 7, 1));
        assert_eq!(p("2026").end_exclusive(), d(2027, 1, 1));
        assert_eq!(p("9999").end_exclusive(), d(10_000, 1, 1));
    }

    #[test]
    fn contains_boundaries() {
        let q3 = p("2026-Q3");
        assert!(!q3.contains(d(2026, 6, 30)));
        assert!(q3.contains(d(2026, 7, 1)));
        assert!(q3.contains(d(2026, 9, 30)));
        assert!(!q3.contains(d(2026, 10, 1)));
    }

    #[test]
    fn containing_each_kind() {
        let date = d(2026, 8, 17);
        assert_eq!(Period::containing(PeriodKind::Month, date), p("2026-08"));
        assert_eq!(Period::containing(PeriodKind::Quarter, date), p("2026-Q3"));
        assert_eq!(Period::containing(PeriodKind::Year, date), p("2026"));
        assert_eq!(
            Period::containing(PeriodKind::Quarter, d(2026, 12, 31)),
            p("2026-Q4")
        );
        assert_eq!(
            Period::containing(PeriodKind::Quarter, d(2026, 1, 1)),
            p("2026-Q1")
        );
    }

    #[test]
    fn elapsed_bps_outside_the_period() {
        let june = p("2026-06");
        assert_eq!(june.elapsed_bps(d(2026, 5, 31)), 0);
        assert_eq!(june.elapsed_bps(d(2026, 7, 1)), 10_000);
        assert_eq!(june.elapsed_bps(d(2030, 1, 1)), 10_000);
    }

    #[test]
    fn elapsed_bps_start_middle_end() {
        let june = p("2026-06"); // 30 days
        assert_eq!(june.elapsed_bps(d(2026, 6, 1)), 333); // 1/30 = 333.3
        assert_eq!(june.elapsed_bps(d(2026, 6, 15)), 5000); // 15/30
        assert_eq!(june.elapsed_bps(d(2026, 6, 20)), 6667); // 20/30 = 6666.7
        assert_eq!(june.elapsed_bps(d(2026, 6, 30)), 10_000); // last day counts as elapsed
    }

    #[test]
    fn elapsed_bps_rounds_to_nearest() {
        // February 2026 (28 days): 1/28 = 357.14 -> 357, 7/28 = 2500, 27/28 = 9642.86 -> 9643.
        let feb = p("2026-02");
        assert_eq!(feb.elapsed_bps(d(2026, 2, 1)), 357);
        assert_eq!(feb.elapsed_bps(d(2026, 2, 7)), 2500);
        assert_eq!(feb.elapsed_bps(d(2026, 2, 27)), 9643);
        // Q1 2026 has 90 days: 9/90 = 1000.
        assert_eq!(p("2026-Q1").elapsed_bps(d(2026, 1, 9)), 1000);
        // Year 2026 (365 days), day 73 = 2000 exactly; 2024 (366 days): 183/366 = 5000.
        assert_eq!(p("2026").elapsed_bps(d(2026, 3, 14)), 2000);
        assert_eq!(p("2024").elapsed_bps(d(2024, 7, 1)), 5000);
    }

    #[test]
    fn elapsed_bps_leap_year_february() {
        let feb = p("2024-02"); // 29 days
        assert_eq!(feb.end_exclusive(), d(2024, 3, 1));
        assert!(feb.contains(d(2024, 2, 29)));
        assert_eq!(feb.elapsed_bps(d(2024, 2, 1)), 345); // 344.8
        assert_eq!(feb.elapsed_bps(d(2024, 2, 14)), 4828); // 4827.6
        assert_eq!(feb.elapsed_bps(d(2024, 2, 28)), 9655); // 9655.2
        assert_eq!(feb.elapsed_bps(d(2024, 2, 29)), 10_000);
        // 1900 is not a leap year: February has 28 days.
        assert_eq!(p("1900-02").end_exclusive(), d(1900, 3, 1));
        assert_eq!(p("1900-02").elapsed_bps(d(1900, 2, 14)), 5000);
    }

    #[test]
    fn months_of_each_kind() {
        assert_eq!(p("2026-05").months(), vec![p("2026-05")]);
        assert_eq!(
            p("2026-Q4").months(),
            vec![p("2026-10"), p("2026-11"), p("2026-12")]
        );
        let year = p("2026").months();
        assert_eq!(year.len(), 12);
        assert_eq!(year.first(), Some(&p("2026-01")));
        assert_eq!(year.last(), Some(&p("2026-12")));
        assert!(year.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parent_chain() {
        assert_eq!(p("2026-08").parent(), Some(p("2026-Q3")));
        assert_eq!(p("2026-03").parent(), Some(p("2026-Q1")));
        assert_eq!(p("2026-Q3").parent(), Some(p("2026")));
        assert_eq!(p("2026").parent(), None);
    }

    #[test]
    fn ordering_is_kind_then_start() {
        let mut periods = vec![p("2026"), p("2026-Q2"), p("2026-02"), p("2025-12")];
        periods.sort();
        assert_eq!(periods, vec![p("2025-12"), p("2026-02"), p("2026-Q2"), p("2026")]);
    }
}
