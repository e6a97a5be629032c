//! Ranked full-text search: terms in the title weigh three times terms in the body; articles
//! matching more distinct query terms rank first. Each article's weight per term is computed
//! when it is stored ([`term_weights`]); a search sums the weights of the query's terms.

/// Lower-case word tokens (letters and digits; other characters separate words; each CJK
/// character is a token so that Chinese text is searchable without a dictionary).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for ch in text.chars() {
        if is_cjk(ch) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(ch.to_string());
        } else if ch.is_alphanumeric() {
            word.extend(ch.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn is_cjk(ch: char) -> bool {
    matches!(ch as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// The most distinct terms a query is searched by: each is a parameter of the search statement,
/// and a case's description (suggestions search by it) may hold thousands.
pub const MAX_QUERY_TERMS: usize = 1000;

/// The distinct terms of a query, the first [`MAX_QUERY_TERMS`] of them in the order they appear.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    tokens(query)
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .take(MAX_QUERY_TERMS)
        .collect()
}

/// What each of an article's distinct terms adds to its score for a query holding the term:
/// 10 for the match, so that an article matching more of the query's terms ranks first, and
/// `ln(1 + 3 × in title + in body)` (diminishing returns for repetition). An article's score for
/// a query is the sum over the query's terms it holds, so it can be summed from stored
/// (term, article, weight) postings.
pub fn term_weights(title: &str, body: &str) -> Vec<(String, f64)> {
    let mut counts: std::collections::BTreeMap<String, (f64, f64)> = std::collections::BTreeMap::new();
    for t in tokens(title) {
        counts.entry(t).or_default().0 += 1.0;
    }
    for t in tokens(body) {
        counts.entry(t).or_default().1 += 1.0;
    }
    counts
        .into_iter()
        .map(|(term, (in_title, in_body))| (term, 10.0 + (1.0 + 3.0 * in_title + in_body).ln()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An article's score for a query, as a search sums it.
    fn score(query: &str, title: &str, body: &str) -> f64 {
        let terms = query_terms(query);
        term_weights(title, body)
            .into_iter()
            .filter(|(t, _)| terms.contains(t))
            .map(|(_, w)| w)
            .sum()
    }

    #[test]
    fn title_matches_and_more_terms_rank_higher() {
        let a = score("reset password", "How to reset your password", "Open settings.");
        let b = score("reset password", "Billing", "You can reset the router.");
        let c = score("reset password", "Shipping", "Parcels arrive in two days.");
        assert!(a > b && b > c);
        assert_eq!(c, 0.0);
        assert_eq!(tokens("重設密碼 now"), vec!["重", "設", "密", "碼", "now"]);
        assert!(score("密碼", "如何重設密碼", "") > 0.0);
    }

    #[test]
    fn a_long_query_is_searched_by_its_first_distinct_terms() {
        assert_eq!(query_terms("b a b c a"), ["b", "a", "c"]);
        let long: String = (0..5000).map(|i| format!("w{i} ")).collect();
        let terms = query_terms(&long);
        assert_eq!(terms.len(), MAX_QUERY_TERMS);
        assert_eq!((terms[0].as_str(), terms[999].as_str()), ("w0", "w999"));
    }
}
