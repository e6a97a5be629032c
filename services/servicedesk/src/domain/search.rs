//! Ranked full-text search: terms in the title weigh three times terms in the body; articles
//! matching more distinct query terms rank first.

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

/// The score of a document for a query (0 when no term matches).
pub fn score(query: &str, title: &str, body: &str) -> f64 {
    let terms: std::collections::BTreeSet<String> = tokens(query).into_iter().collect();
    if terms.is_empty() {
        return 0.0;
    }
    let (title, body) = (tokens(title), tokens(body));
    let mut matched = 0.0;
    let mut weight = 0.0;
    for term in &terms {
        let in_title = title.iter().filter(|t| *t == term).count() as f64;
        let in_body = body.iter().filter(|t| *t == term).count() as f64;
        if in_title + in_body > 0.0 {
            matched += 1.0;
            // Diminishing returns for repetition.
            weight += (1.0 + 3.0 * in_title + in_body).ln();
        }
    }
    if matched == 0.0 {
        0.0
    } else {
        matched * 10.0 + weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
