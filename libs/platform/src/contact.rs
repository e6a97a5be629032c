//! Contact-point normalisation shared by every service that matches phone numbers (customers
//! for duplicates and search, the service desk for caller identification).

/// Digits only, a leading '+' or '00' international prefix dropped (so "+886 2 1234-5678", "00886212345678"
/// and "886-2-12345678" are equal). Full-width digits count as digits. Returns None when fewer than 7 digits
/// remain or more than 15.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter_map(ascii_digit).collect();
    let has_plus = raw.trim_start().starts_with(['+', '＋']);
    let number = if has_plus {
        digits.as_str()
    } else {
        digits.strip_prefix("00").unwrap_or(&digits)
    };
    (7..=15).contains(&number.len()).then(|| number.to_string())
}

/// The ASCII digit for an ASCII or full-width digit (the latter is common in CJK input methods).
fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever is typed, a normalized number is 7 to 15 ASCII digits, and normalizing it
        /// again changes nothing.
        #[test]
        fn normalized_numbers_are_digits_and_stable(raw in "[+＋0-9０-９ ()\\-.x]{0,30}|\\PC{0,30}") {
            if let Some(number) = normalize_phone(&raw) {
                prop_assert!((7..=15).contains(&number.len()));
                prop_assert!(number.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(normalize_phone(&format!("+{number}")), Some(number.clone()));
            }
        }
    }

    #[test]
    fn phones_compare_by_digits() {
        let expected = Some("886212345678".to_string());
        assert_eq!(normalize_phone("+886 2 1234-5678"), expected);
        assert_eq!(normalize_phone("00886212345678"), expected);
        assert_eq!(normalize_phone("＋８８６ ２ １２３４ ５６７８"), expected);
        assert_eq!(normalize_phone("12"), None);
    }
}
