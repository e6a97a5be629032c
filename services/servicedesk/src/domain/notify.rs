//! Notification rules: retry back-off and special days.

use chrono::{Datelike as _, NaiveDate};

use crm_proto::marketing::v1::Channel;

/// The delivery channel of a campaign contacting on marketing's `channel`.
pub fn campaign_channel(channel: i32) -> &'static str {
    match Channel::try_from(channel) {
        Ok(Channel::Email) => "email",
        Ok(Channel::Sms) => "sms",
        Ok(Channel::Mail) => "mail",
        Ok(Channel::Phone) => "phone",
        _ => "portal",
    }
}

/// Marketing's channel of a delivery channel, for its consent.
pub fn consent_channel(delivery: &str) -> Channel {
    match delivery {
        "email" => Channel::Email,
        "sms" => Channel::Sms,
        "mail" => Channel::Mail,
        "phone" => Channel::Phone,
        _ => Channel::Web,
    }
}

/// Deliveries tried before a notification is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// Seconds to wait after the `attempts`-th failed delivery: 10 s doubling, at most an hour.
pub fn retry_delay_secs(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (10_i64 << exp).min(3600)
}

/// Whether `today` is the birthday of someone born on `birth_date` (YYYY-MM-DD); those born on
/// 29 February celebrate on the 28th in common years.
pub fn is_birthday(birth_date: &str, today: NaiveDate) -> bool {
    let Ok(born) = NaiveDate::parse_from_str(birth_date, "%Y-%m-%d") else {
        return false;
    };
    let leap = NaiveDate::from_ymd_opt(today.year(), 2, 29).is_some();
    let (month, day) = if born.month() == 2 && born.day() == 29 && !leap {
        (2, 28)
    } else {
        (born.month(), born.day())
    };
    today.month() == month && today.day() == day
}

/// The dedupe key of a birthday greeting on `today`, around the party id: (prefix, suffix). One
/// greeting per customer and year.
pub fn birthday_key(today: NaiveDate) -> (&'static str, String) {
    ("birthday:", format!(":{}", today.format("%Y")))
}

/// The birth dates (`MM-DD`) celebrated on `today`: its own, and 29 February on the 28th of a
/// common year.
pub fn birthday_dates(today: NaiveDate) -> Vec<String> {
    let mut dates = vec![today.format("%m-%d").to_string()];
    let leap = NaiveDate::from_ymd_opt(today.year(), 2, 29).is_some();
    if !leap && today.month() == 2 && today.day() == 28 {
        dates.push("02-29".to_string());
    }
    dates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_channels_map_to_their_consent() {
        for channel in [
            Channel::Email,
            Channel::Sms,
            Channel::Mail,
            Channel::Phone,
            Channel::Web,
        ] {
            assert_eq!(consent_channel(campaign_channel(channel as i32)), channel);
        }
    }

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(
            (1..=5).map(retry_delay_secs).collect::<Vec<_>>(),
            [10, 20, 40, 80, 160]
        );
        assert_eq!(retry_delay_secs(12), 3600);
    }

    #[test]
    fn birthdays_include_leap_day_people() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(is_birthday("1990-11-30", d("2026-11-30")));
        assert!(!is_birthday("1990-11-29", d("2026-11-30")));
        assert!(is_birthday("2000-02-29", d("2026-02-28")));
        assert!(is_birthday("2000-02-29", d("2028-02-29")));
        assert!(!is_birthday("2000-02-29", d("2028-02-28")));
        assert!(!is_birthday("", d("2026-11-30")));
    }

    #[test]
    fn the_dates_celebrated_on_a_day_agree_with_is_birthday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(birthday_dates(d("2026-11-30")), ["11-30"]);
        assert_eq!(birthday_dates(d("2026-02-28")), ["02-28", "02-29"]);
        assert_eq!(birthday_dates(d("2028-02-28")), ["02-28"]);
        assert_eq!(birthday_dates(d("2028-02-29")), ["02-29"]);
        // Every birth date of a leap year, on every day of a common and a leap year.
        let born: Vec<NaiveDate> = d("2000-01-01").iter_days().take(366).collect();
        for today in d("2026-01-01")
            .iter_days()
            .take(365)
            .chain(d("2028-01-01").iter_days().take(366))
        {
            let dates = birthday_dates(today);
            for b in &born {
                let text = b.format("%Y-%m-%d").to_string();
                assert_eq!(
                    dates.contains(&text[5..].to_string()),
                    is_birthday(&text, today),
                    "{text} on {today}"
                );
            }
        }
    }
}
