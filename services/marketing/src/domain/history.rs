//! A customer's purchase history in the terms of the lifetime-value models: weeks, repeat
//! purchases counted by distinct days after the first (as in the CDNOW data the models were
//! published on), and the mean spend of those repeat days.

use super::bgnbd;

/// One customer's history at a date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Repeat purchases, recency and age.
    pub customer: bgnbd::Customer,
    /// Mean spend of a repeat purchase day (0 without repeats).
    pub repeat_mean_minor: f64,
}

impl History {
    /// The history of a customer who bought on `days` distinct days (the first `first_day`,
    /// the last `last_day`, days since the epoch), spending `repeat_total_minor` on the days
    /// after the first, seen at day `as_of_day`.
    pub fn from_days(
        days: i64,
        first_day: i64,
        last_day: i64,
        repeat_total_minor: i64,
        as_of_day: i64,
    ) -> Self {
        let repeats = (days - 1).max(0);
        let weeks = |from: i64, to: i64| (to - from).max(0) as f64 / 7.0;
        Self {
            customer: bgnbd::Customer {
                x: repeats as f64,
                t_x: weeks(first_day, last_day),
                t: weeks(first_day, as_of_day),
            },
            repeat_mean_minor: if repeats == 0 {
                0.0
            } else {
                repeat_total_minor as f64 / repeats as f64
            },
        }
    }

    /// Weeks since the last purchase.
    pub fn silent_weeks(&self) -> f64 {
        self.customer.t - self.customer.t_x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_days_after_the_first() {
        let h = History::from_days(3, 0, 14, 300, 28);
        assert_eq!(h.customer.x, 2.0);
        assert_eq!(h.customer.t_x, 2.0);
        assert_eq!(h.customer.t, 4.0);
        assert_eq!(h.repeat_mean_minor, 150.0);
        assert_eq!(h.silent_weeks(), 2.0);
        let once = History::from_days(1, 7, 7, 0, 14);
        assert_eq!(
            (once.customer.x, once.customer.t_x, once.customer.t),
            (0.0, 0.0, 1.0)
        );
        assert_eq!(once.repeat_mean_minor, 0.0);
    }
}
