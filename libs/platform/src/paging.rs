//! List pagination (AIP-158): `page_size` with a default and a maximum, and opaque
//! `page_token`s that carry the position after the last item returned.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::errors::Violations;

/// The page size to use: `requested` if in 1..=max, `default` for 0; negative is invalid.
pub fn page_size(requested: i32, default: i64, max: i64, v: &mut Violations) -> i64 {
    if requested < 0 {
        v.add("page_size", "must not be negative");
        return default;
    }
    if requested == 0 {
        default
    } else {
        i64::from(requested).min(max)
    }
}

/// An opaque token for `position`.
pub fn encode_token(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{position}"))
}

/// The position in a token ("" for an empty token); an unreadable token is a violation.
pub fn decode_token(token: &str, v: &mut Violations) -> String {
    if token.is_empty() {
        return String::new();
    }
    let decoded = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix("v1:").map(str::to_string));
    match decoded {
        Some(position) => position,
        None => {
            v.add("page_token", "not a token returned by this list");
            String::new()
        }
    }
}

/// The next-page token: set when the page is full (there may be more).
pub fn next_token(returned: usize, page_size: i64, last_position: Option<String>) -> String {
    match last_position {
        Some(position) if returned as i64 == page_size => encode_token(&position),
        _ => String::new(),
    }
}

/// The position of a token whose position is a compound key, read by `parse` (None for an
/// empty token); a token that is unreadable or does not parse is a violation of `page_token`.
pub fn decode_key<T>(token: &str, v: &mut Violations, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let position = decode_token(token, v);
    if position.is_empty() {
        return None;
    }
    let key = parse(&position);
    if key.is_none() {
        v.add("page_token", "not a token returned by this list");
    }
    key
}

/// Reads a key "time|id" (µs, text), as lists newest first page by.
pub fn time_and_id(position: &str) -> Option<(i64, String)> {
    let (at, id) = position.split_once('|')?;
    Some((at.parse().ok()?, id.to_string()))
}

/// Reads a key of two texts "a|b".
pub fn text_pair(position: &str) -> Option<(String, String)> {
    let (a, b) = position.split_once('|')?;
    Some((a.to_string(), b.to_string()))
}

/// The position of a row whose key has several parts (any text: `|` and `\\` are escaped).
pub fn key_of<S: AsRef<str>>(parts: &[S]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for c in part.as_ref().chars() {
            if c == '|' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Reads a key of `n` parts written by [`key_of`].
pub fn parts(position: &str, n: usize) -> Option<Vec<String>> {
    let mut parts = vec![String::new()];
    let mut chars = position.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => parts.last_mut()?.push(chars.next()?),
            '|' => parts.push(String::new()),
            _ => parts.last_mut()?.push(c),
        }
    }
    (parts.len() == n).then_some(parts)
}

/// The key of `n` parts in a page token (None for an empty token); a token that does not
/// hold such a key is a violation of `page_token`.
pub fn decode_parts(token: &str, n: usize, v: &mut Violations) -> Option<Vec<String>> {
    decode_key(token, v, |p| parts(p, n))
}

/// Trims `rows`, read with a limit of `page_size + 1`, to the page, and gives the next-page
/// token: the position of the page's last row when there is more, empty on the last page.
pub fn finish_page<T>(mut rows: Vec<T>, page_size: i64, position: impl Fn(&T) -> String) -> (Vec<T>, String) {
    let more = rows.len() as i64 > page_size;
    rows.truncate(usize::try_from(page_size).unwrap_or(0));
    let token = match rows.last() {
        Some(last) if more => encode_token(&position(last)),
        _ => String::new(),
    };
    (rows, token)
}

/// As [`finish_page`], for a read that may stop after looking at a bounded number of rows
/// (`walked_to`: the position of the last row it looked at, when it stopped there). Such a page
/// can be short, and the next one goes on from where the read stopped.
pub fn finish_walked_page<T>(
    rows: Vec<T>,
    page_size: i64,
    position: impl Fn(&T) -> String,
    walked_to: Option<String>,
) -> (Vec<T>, String) {
    let (rows, token) = finish_page(rows, page_size, position);
    match walked_to {
        Some(walked_to) => (rows, encode_token(&walked_to)),
        None => (rows, token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_named() {
        let mut v = Violations::new();
        assert_eq!(decode_token(&encode_token("0192-abc"), &mut v), "0192-abc");
        assert!(v.is_empty());
        decode_token("%%%", &mut v);
        assert_eq!(v.iter().next().unwrap().0, "page_token");
        assert_eq!(page_size(0, 50, 500, &mut v), 50);
        assert_eq!(page_size(9999, 50, 500, &mut v), 500);
        assert_eq!(next_token(2, 2, Some("x".into())), encode_token("x"));
        assert_eq!(next_token(1, 2, Some("x".into())), "");
        let position = |n: &i32| n.to_string();
        assert_eq!(
            finish_page(vec![1, 2, 3], 2, position),
            (vec![1, 2], encode_token("2"))
        );
        assert_eq!(finish_page(vec![1, 2], 2, position), (vec![1, 2], String::new()));
        // A read that stopped where it may gives that position, even on a short page.
        assert_eq!(
            finish_walked_page(vec![1], 2, position, Some("9".into())),
            (vec![1], encode_token("9"))
        );
        assert_eq!(
            finish_walked_page(vec![1], 2, position, None),
            (vec![1], String::new())
        );
        let mut v = Violations::new();
        assert_eq!(
            decode_key(&encode_token("7|x"), &mut v, time_and_id),
            Some((7, "x".into()))
        );
        assert_eq!(decode_key("", &mut v, time_and_id), None);
        assert!(v.is_empty());
        assert_eq!(decode_key(&encode_token("x|y"), &mut v, time_and_id), None);
        assert_eq!(v.iter().next().unwrap().0, "page_token");
    }

    #[test]
    fn keys_of_any_text_round_trip() {
        let key = key_of(&["a|b", "c\\", ""]);
        assert_eq!(
            parts(&key, 3),
            Some(vec!["a|b".to_string(), "c\\".to_string(), String::new()])
        );
        assert_eq!(parts(&key, 2), None);
        let mut v = Violations::new();
        assert_eq!(
            decode_parts(&encode_token(&key_of(&["x", "1"])), 2, &mut v),
            Some(vec!["x".into(), "1".into()])
        );
        assert_eq!(decode_parts(&encode_token("x"), 2, &mut v), None);
        assert_eq!(v.iter().next().unwrap().0, "page_token");
    }
}
