//! Business hours: SLA clocks run only on working days between opening and closing time (UTC).

use chrono::{Datelike as _, Duration, NaiveDateTime, Weekday};

/// Working days and hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// Minute of the day the desk opens.
    pub open_minute: u32,
    /// Minute of the day it closes.
    pub close_minute: u32,
    /// Working days.
    pub workdays: Vec<Weekday>,
}

impl Default for BusinessCalendar {
    /// Monday to Friday, 09:00 to 17:00.
    fn default() -> Self {
        Self {
            open_minute: 9 * 60,
            close_minute: 17 * 60,
            workdays: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

impl BusinessCalendar {
    /// Parses `<day>-<day> HH:MM-HH:MM` (e.g. `mon-fri 09:00-17:00`, `mon-sun 00:00-24:00`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected e.g. \"mon-fri 09:00-17:00\"");
        let (days, hours) = s.trim().split_once(' ').ok_or_else(bad)?;
        let (first, last) = days.split_once('-').ok_or_else(bad)?;
        let day = |d: &str| d.trim().parse::<Weekday>().map_err(|_| bad());
        let (first, last) = (day(first)?, day(last)?);
        let mut workdays = vec![first];
        let mut d = first;
        while d != last {
            d = d.succ();
            workdays.push(d);
        }
        let minute = |t: &str| -> Result<u32, String> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if h > 24 || m > 59 || h * 60 + m > 24 * 60 {
                Err(bad())
            } else {
                Ok(h * 60 + m)
            }
        };
        let (open, close) = hours.trim().split_once('-').ok_or_else(bad)?;
        let (open_minute, close_minute) = (minute(open)?, minute(close)?);
        if close_minute <= open_minute {
            return Err(format!("{s:?}: closing time must be after opening time"));
        }
        Ok(Self {
            open_minute,
            close_minute,
            workdays,
        })
    }

    /// Business minutes in a working day.
    pub fn day_minutes(&self) -> i64 {
        i64::from(self.close_minute.saturating_sub(self.open_minute))
    }

    fn is_workday(&self, t: NaiveDateTime) -> bool {
        self.workdays.contains(&t.weekday())
    }

    fn day_start(t: NaiveDateTime) -> NaiveDateTime {
        t.date().and_hms_opt(0, 0, 0).unwrap_or(t)
    }

    /// The moment `minutes` business minutes after `start`.
    pub fn add_minutes(&self, start: NaiveDateTime, minutes: i64) -> NaiveDateTime {
        if self.workdays.is_empty() || self.close_minute <= self.open_minute {
            return start + Duration::minutes(minutes);
        }
        let mut t = start;
        let mut left = minutes.max(0);
        // Bounded walk: at most one step per calendar day.
        for _ in 0..100_000 {
            let day = Self::day_start(t);
            let open = day + Duration::minutes(i64::from(self.open_minute));
            let close = day + Duration::minutes(i64::from(self.close_minute));
            if !self.is_workday(t) || t >= close {
                t = day + Duration::days(1) + Duration::minutes(i64::from(self.open_minute));
                continue;
            }
            if t < open {
                t = open;
            }
            let available = (close - t).num_minutes();
            if left <= available {
                return t + Duration::minutes(left);
            }
            left -= available;
            t = day + Duration::days(1) + Duration::minutes(i64::from(self.open_minute));
        }
        t
    }

    /// Business minutes between `from` and `to` (0 when `to` is not after `from`).
    pub fn minutes_between(&self, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        if to <= from {
            return 0;
        }
        if self.workdays.is_empty() || self.close_minute <= self.open_minute {
            return (to - from).num_minutes();
        }
        let mut total = 0;
        let mut day = Self::day_start(from);
        while day <= to {
            if self.is_workday(day) {
                let open = day + Duration::minutes(i64::from(self.open_minute));
                let close = day + Duration::minutes(i64::from(self.close_minute));
                let (a, b) = (from.max(open), to.min(close));
                if b > a {
                    total += (b - a).num_minutes();
                }
            }
            day += Duration::days(1);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any setting text is a calendar or a clear refusal, never a panic.
        #[test]
        fn calendars_parse_or_are_refused(text in "\\PC{0,30}|[a-z]{3}-[a-z]{3} [0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}") {
            let _ = BusinessCalendar::parse(&text);
        }
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn clocks_run_in_business_hours_only() {
        let c = BusinessCalendar::default();
        // Friday 16:00 + 120 minutes -> Monday 10:00 (2026-11-27 is a Friday).
        assert_eq!(c.add_minutes(at("2026-11-27 16:00"), 120), at("2026-11-30 10:00"));
        // Saturday night counts from Monday's opening.
        assert_eq!(c.add_minutes(at("2026-11-28 22:00"), 30), at("2026-11-30 09:30"));
        assert_eq!(
            c.minutes_between(at("2026-11-27 16:00"), at("2026-11-30 10:00")),
            120
        );
        assert_eq!(
            c.minutes_between(at("2026-11-30 10:00"), at("2026-11-27 16:00")),
            0
        );
    }
}
