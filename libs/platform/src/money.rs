//! Currencies (ISO 4217) and amounts written in major units.

/// Active ISO 4217 currency codes with their minor-unit digits (2 unless listed otherwise).
const CURRENCIES: &str = "AED ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN \
    BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS \
    GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD \
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR \
    PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT TOP TRY \
    TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG";
const ZERO_DIGITS: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF";
const THREE_DIGITS: &str = "BHD IQD JOD KWD LYD OMR TND";

/// The number of minor-unit digits of an ISO 4217 currency, or None for an unknown code.
pub fn minor_digits(code: &str) -> Option<u32> {
    // Asked for every amount of a bulk import: a table, not a scan of the lists.
    static DIGITS: std::sync::LazyLock<std::collections::HashMap<&'static str, u32>> =
        std::sync::LazyLock::new(|| {
            let codes = |list: &'static str, digits| list.split_whitespace().map(move |c| (c, digits));
            // Later lists override the two-digit default of the full list.
            codes(CURRENCIES, 2)
                .chain(codes(ZERO_DIGITS, 0))
                .chain(codes(THREE_DIGITS, 3))
                .collect()
        });
    DIGITS.get(code).copied()
}

/// True for an active ISO 4217 currency code (upper case).
pub fn is_currency(code: &str) -> bool {
    minor_digits(code).is_some()
}

/// An amount written in major units with a decimal point ("12.99", "0", "1200") as minor units
/// of `currency`. Refuses signs, more decimals than the currency has, and overflow.
pub fn parse_major_units(amount: &str, currency: &str) -> Result<i64, String> {
    let digits = minor_digits(currency).ok_or_else(|| format!("unknown currency {currency:?}"))?;
    let amount = amount.trim();
    if amount.starts_with('-') {
        return Err("must not be negative".into());
    }
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty()
        || !numeric(whole)
        || !numeric(fraction)
        || (amount.contains('.') && fraction.is_empty())
    {
        return Err(format!("not an amount like 12.99: {amount:?}"));
    }
    if fraction.len() as u32 > digits {
        return Err(format!("{currency} has {digits} decimal places"));
    }
    let scale = 10_i64.pow(digits);
    let padded = format!("{fraction:0<width$}", width = digits as usize);
    let whole: i64 = whole.parse().map_err(|_| "too large".to_string())?;
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| "too large".to_string())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| "too large".to_string())
}

/// Minor units of `currency` written in major units ("12.99"); unknown currencies get two
/// decimals.
pub fn format_major_units(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency).unwrap_or(2);
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10_i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale as u64,
        abs % scale as u64,
        width = digits as usize
    )
}

/// Integer division rounding half away from zero (money shares, percentages of amounts); a
/// non-positive `den` yields 0.
pub fn div_round(num: i128, den: i128) -> i128 {
    if den <= 0 {
        return 0;
    }
    let quotient = num / den;
    let remainder = num % den;
    // Compare 2|r| with den instead of r with den/2 to avoid losing the odd half.
    if 2 * remainder.abs() >= den {
        quotient + num.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text is an amount or a clear refusal; an amount written back reads the same.
        #[test]
        fn amounts_parse_or_are_refused(text in "\\PC{0,24}|[0-9]{0,22}(\\.[0-9]{0,4})?", currency in "(USD|JPY|BHD|XXX|usd|)") {
            if let Ok(minor) = parse_major_units(&text, &currency) {
                prop_assert!(minor >= 0);
                let digits = minor_digits(&currency).unwrap();
                let scale = 10_i64.pow(digits);
                let written = if digits == 0 {
                    format!("{minor}")
                } else {
                    format!("{}.{:0width$}", minor / scale, minor % scale, width = digits as usize)
                };
                prop_assert_eq!(parse_major_units(&written, &currency), Ok(minor));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_round_rounds_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(1, 3), 0);
        assert_eq!(div_round(7, 0), 0);
        assert_eq!(div_round(7, -2), 0);
    }

    #[test]
    fn currencies() {
        assert!(is_currency("USD") && is_currency("TWD") && is_currency("JPY"));
        assert!(!is_currency("XYZ") && !is_currency("usd") && !is_currency("US"));
        assert_eq!(minor_digits("KWD"), Some(3));
        assert_eq!((minor_digits("JPY"), minor_digits("EUR")), (Some(0), Some(2)));
    }

    #[test]
    fn amounts_in_major_units() {
        assert_eq!(parse_major_units("12.99", "USD"), Ok(1299));
        assert_eq!(parse_major_units("12.9", "USD"), Ok(1290));
        assert_eq!(parse_major_units("0", "USD"), Ok(0));
        assert_eq!(parse_major_units("1200", "JPY"), Ok(1200));
        assert_eq!(parse_major_units("1.5", "KWD"), Ok(1500));
        assert!(parse_major_units("-1.00", "USD").is_err());
        assert!(parse_major_units("1.999", "USD").is_err());
        assert!(parse_major_units("12,99", "USD").is_err());
        assert!(parse_major_units("1.", "USD").is_err());
        assert!(parse_major_units("1.00", "XYZ").is_err());
        assert!(parse_major_units("99999999999999999999", "USD").is_err());
        assert_eq!(format_major_units(1299, "USD"), "12.99");
        assert_eq!(format_major_units(5, "USD"), "0.05");
        assert_eq!(format_major_units(1200, "JPY"), "1200");
    }
}
