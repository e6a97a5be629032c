//! Duplicate detection for parties: normalization of emails, phones and names, and grouping of
//! candidates that probably describe the same party.

use std::collections::{HashMap, HashSet};

/// Organization suffixes dropped from the end of a name, so "Acme Ltd" and "Acme" share a key.
const ORG_SUFFIXES: [&str; 12] = [
    "inc",
    "ltd",
    "llc",
    "corp",
    "corporation",
    "co",
    "gmbh",
    "ag",
    "sa",
    "plc",
    "limited",
    "company",
];

/// Lower-cases and trims an email; for gmail.com/googlemail.com also removes dots and a +tag in the local
/// part (and writes the domain as gmail.com, since both domains reach the same mailbox). Returns None when
/// it is not a plausible email (exactly one '@', non-empty local part, domain with a dot, no spaces).
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = split_email(&email)?;
    if domain != "gmail.com" && domain != "googlemail.com" {
        return Some(email);
    }
    let local = gmail_local_part(local);
    // "+tag@gmail.com" or "..@gmail.com" leave nothing that names a mailbox.
    (!local.is_empty()).then(|| format!("{local}@gmail.com"))
}

/// Splits a lower-cased, trimmed email into local part and domain when it looks plausible.
fn split_email(email: &str) -> Option<(&str, &str)> {
    if email.chars().any(char::is_whitespace) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let domain_ok =
        !domain.contains('@') && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    (!local.is_empty() && domain_ok).then_some((local, domain))
}

/// Gmail ignores dots and everything from '+' on, so all those spellings are one mailbox.
fn gmail_local_part(local: &str) -> String {
    let base = local.split_once('+').map_or(local, |(base, _tag)| base);
    base.replace('.', "")
}

pub use crm_platform::contact::normalize_phone;

/// Name key for fuzzy matching: lower-case, accents folded for common Latin letters (é->e, ü->u, ñ->n,
/// ç->c, ...), punctuation removed, whitespace collapsed, and common organization suffixes removed as whole
/// trailing words (inc, ltd, llc, corp, corporation, co, gmbh, ag, sa, plc, limited, company). Tokens are
/// sorted alphabetically so "Smith John" == "John Smith". Apostrophes and dots join their neighbours
/// ("O'Brien" -> "obrien", "A.C.M.E." -> "acme"); other punctuation separates words ("Smith,John").
pub fn normalize_name(raw: &str) -> String {
    let cleaned = clean_name(raw);
    let mut tokens: Vec<&str> = cleaned.split_whitespace().collect();
    strip_org_suffixes(&mut tokens);
    tokens.sort_unstable();
    tokens.join(" ")
}

/// Lower-cases, folds accents and turns punctuation into nothing or a word break.
fn clean_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars().flat_map(char::to_lowercase) {
        if let Some(folded) = fold_accent(c) {
            out.push_str(folded);
        } else if c.is_alphanumeric() {
            out.push(c);
        } else if !joins_words(c) {
            out.push(' ');
        }
    }
    out
}

/// Characters dropped without a word break: apostrophes, dots, and combining accents (decomposed input).
fn joins_words(c: char) -> bool {
    matches!(c, '\'' | '’' | '`' | '.' | '\u{0300}'..='\u{036f}')
}

/// ASCII spelling of a common accented lower-case Latin letter.
fn fold_accent(c: char) -> Option<&'static str> {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    };
    Some(folded)
}

/// Drops trailing organization suffixes ("Acme Co. Ltd" -> "acme"), but keeps the last token so a name
/// made only of a suffix ("Company") still has a key.
fn strip_org_suffixes(tokens: &mut Vec<&str>) {
    while tokens.len() > 1 && tokens.last().is_some_and(|t| ORG_SUFFIXES.contains(t)) {
        tokens.pop();
    }
}

/// Name links less similar than this are not kept, so no search may ask for less: below it,
/// short common names (Chen Wei, Chen Wen) would link each party to hundreds of others.
pub const MIN_STORED_SIMILARITY: f64 = 0.92;

/// The most name links kept per party checked, the most similar first: a common name still
/// links a party to a bounded number of others.
pub const MAX_NAME_LINKS: usize = 20;

/// A blocking key, email or phone shared by more parties than this identifies nobody (a common
/// name, a switchboard number): nothing is compared through it, so a base where a tenth of the
/// customers are called 陳 still compares each new party with a bounded number of others.
pub const MAX_BLOCK: usize = 200;

/// Tokens of a name that make blocking keys (their pairs do, so the count grows quadratically).
const MAX_KEY_TOKENS: usize = 4;

/// Characters of a single-token name in its key: typos after them still meet.
const SINGLE_TOKEN_KEY_CHARS: usize = 4;

/// One party as seen by duplicate detection.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The party's id.
    pub id: String,
    /// The party's display name, as entered (normalized here with `normalize_name`).
    pub name: String,
    /// Emails, already normalized with `normalize_email`.
    pub emails: Vec<String>,
    /// Phones, already normalized with `normalize_phone`.
    pub phones: Vec<String>,
}

/// Why two candidates were linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// They share a normalized email.
    SameEmail,
    /// They share a normalized phone.
    SamePhone,
    /// Their name keys are similar enough.
    SimilarName,
}

impl Reason {
    /// The stored code (the API's `DuplicateReason` number).
    pub fn code(self) -> i64 {
        match self {
            Self::SameEmail => 1,
            Self::SamePhone => 2,
            Self::SimilarName => 3,
        }
    }

    /// The reason stored as `code`.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::SameEmail),
            2 => Some(Self::SamePhone),
            3 => Some(Self::SimilarName),
            _ => None,
        }
    }
}

/// A group of candidates that look like one party.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Ids of the members, sorted.
    pub ids: Vec<String>,
    /// Sorted, de-duplicated reasons of the links inside the group.
    pub reasons: Vec<Reason>,
    /// The highest link score inside the group (1.0 for a shared email or phone).
    pub score: f64,
}

/// Why two parties look alike: `a` < `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The smaller id.
    pub a: String,
    /// The larger id.
    pub b: String,
    /// What they share.
    pub reason: Reason,
    /// 1.0 for a shared email or phone, the name similarity otherwise.
    pub score: f64,
}

impl Link {
    fn new(x: &str, y: &str, reason: Reason, score: f64) -> Self {
        let (a, b) = if x < y { (x, y) } else { (y, x) };
        Self {
            a: a.to_string(),
            b: b.to_string(),
            reason,
            score,
        }
    }
}

/// The blocking keys of a display name: only parties sharing one have their names compared.
///
/// Of a name of several tokens (sorted, at most four), each token joined with the first two
/// characters of each other token: "John Smith" gives `john|sm` and `smith|jo`, so "Jon Smith"
/// (`smith|jo`) and "John Smyth" (`john|sm`) meet it, while the block of every Smith does not
/// exist. A single-token name ("Acme", "陳大文") gives its first four characters. A typo in the
/// first two characters of every token is the accepted price.
pub fn blocking_keys(name: &str) -> Vec<String> {
    let key = normalize_name(name);
    let tokens: Vec<&str> = key.split_whitespace().take(MAX_KEY_TOKENS).collect();
    let mut keys: Vec<String> = match tokens.as_slice() {
        [] => Vec::new(),
        [only] => vec![prefix(only, SINGLE_TOKEN_KEY_CHARS).to_string()],
        _ => tokens
            .iter()
            .enumerate()
            .flat_map(|(i, token)| {
                tokens
                    .iter()
                    .enumerate()
                    .filter(move |(j, _)| *j != i)
                    .map(move |(_, other)| format!("{token}|{}", prefix(other, 2)))
            })
            .collect(),
    };
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The first `chars` characters of `s`.
fn prefix(s: &str, chars: usize) -> &str {
    s.char_indices().nth(chars).map_or(s, |(at, _)| &s[..at])
}

/// The links of `party` to each of `others` (parties found through its keys, emails and
/// phones): a shared email or phone (score 1.0), and a name similarity (Jaro-Winkler of the
/// `normalize_name` keys) of at least `min_similarity` for names sharing a blocking key. Empty
/// names never match.
pub fn links_between(party: &Candidate, others: &[Candidate], min_similarity: f64) -> Vec<Link> {
    let name = normalize_name(&party.name);
    let keys = blocking_keys(&party.name);
    let mut links = Vec::new();
    for other in others.iter().filter(|o| o.id != party.id) {
        if shares(&party.emails, &other.emails) {
            links.push(Link::new(&party.id, &other.id, Reason::SameEmail, 1.0));
        }
        if shares(&party.phones, &other.phones) {
            links.push(Link::new(&party.id, &other.id, Reason::SamePhone, 1.0));
        }
        if !blocking_keys(&other.name).iter().any(|k| keys.contains(k)) {
            continue;
        }
        links.extend(name_link(
            &party.id,
            &name,
            &other.id,
            &normalize_name(&other.name),
            min_similarity,
        ));
    }
    links
}

/// The name links a checked party keeps of `named` (its links through shared blocking keys):
/// one per pair, the [`MAX_NAME_LINKS`] most similar, ties broken by the ids.
pub fn strongest_name_links(mut named: Vec<Link>) -> Vec<Link> {
    named.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
    });
    named.dedup_by(|x, y| (&x.a, &x.b) == (&y.a, &y.b));
    named.truncate(MAX_NAME_LINKS);
    named
}

/// The name link of two parties whose normalized names (`normalize_name`) are `name` and
/// `other_name`, when similar enough; never for an empty name.
pub fn name_link(
    id: &str,
    name: &str,
    other_id: &str,
    other_name: &str,
    min_similarity: f64,
) -> Option<Link> {
    if id == other_id || name.is_empty() || other_name.is_empty() {
        return None;
    }
    let score = strsim::jaro_winkler(name, other_name);
    (score >= min_similarity).then(|| Link::new(id, other_id, Reason::SimilarName, score))
}

/// The link of two parties sharing an e-mail or a phone.
pub fn shared_contact_link(id: &str, other_id: &str, reason: Reason) -> Option<Link> {
    (id != other_id).then(|| Link::new(id, other_id, reason, 1.0))
}

/// Whether the lists share a non-empty value.
fn shares(mine: &[String], theirs: &[String]) -> bool {
    mine.iter().any(|v| !v.is_empty() && theirs.contains(v))
}

/// Groups linked parties: links of at least `min_score` merge their parties transitively into
/// groups of two or more. A group's reasons are the sorted, de-duplicated reasons of its links;
/// its score is the maximum link score. Ids are sorted within a group; groups are sorted by
/// score descending, then by first id.
pub fn group_links(links: &[Link], min_score: f64) -> Vec<Group> {
    let links: Vec<&Link> = links.iter().filter(|l| l.score >= min_score).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut ids: Vec<&str> = Vec::new();
    for link in &links {
        for id in [link.a.as_str(), link.b.as_str()] {
            index.entry(id).or_insert_with(|| {
                ids.push(id);
                ids.len() - 1
            });
        }
    }
    let mut sets = DisjointSets::new(ids.len());
    for link in &links {
        sets.union(index[link.a.as_str()], index[link.b.as_str()]);
    }
    let mut by_root: HashMap<usize, Group> = HashMap::new();
    for link in &links {
        let group = by_root
            .entry(sets.find(index[link.a.as_str()]))
            .or_insert_with(|| Group {
                ids: Vec::new(),
                reasons: Vec::new(),
                score: f64::NEG_INFINITY,
            });
        group.reasons.push(link.reason);
        group.score = group.score.max(link.score);
    }
    for (position, id) in ids.iter().enumerate() {
        if let Some(group) = by_root.get_mut(&sets.find(position)) {
            group.ids.push(id.to_string());
        }
    }
    let mut groups: Vec<Group> = by_root.into_values().map(finish_group).collect();
    groups.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| x.ids.first().cmp(&y.ids.first()))
    });
    groups
}

/// Groups `candidates` held in memory the way the stored index does: each is compared with
/// those sharing a blocking key, email or phone held by at most [`MAX_BLOCK`] of them.
pub fn find_groups(candidates: &[Candidate], min_similarity: f64) -> Vec<Group> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let values = blocking_keys(&c.name)
            .into_iter()
            .map(|k| format!("n:{k}"))
            .chain(c.emails.iter().map(|e| format!("e:{e}")))
            .chain(c.phones.iter().map(|p| format!("p:{p}")));
        for value in values.collect::<HashSet<_>>() {
            blocks.entry(value).or_default().push(i);
        }
    }
    let mut others: Vec<HashSet<usize>> = vec![HashSet::new(); candidates.len()];
    for members in blocks.values().filter(|m| m.len() <= MAX_BLOCK) {
        for &i in members {
            others[i].extend(members.iter().copied().filter(|&j| j < i));
        }
    }
    let links: Vec<Link> = candidates
        .iter()
        .zip(&others)
        .flat_map(|(c, earlier)| {
            let earlier: Vec<Candidate> = earlier.iter().map(|&j| candidates[j].clone()).collect();
            links_between(c, &earlier, min_similarity)
        })
        .collect();
    group_links(&links, min_similarity)
}

/// Same links as `find_groups`, but only the group containing `target_id` (None when it has no duplicates).
pub fn group_of(candidates: &[Candidate], target_id: &str, min_similarity: f64) -> Option<Group> {
    find_groups(candidates, min_similarity)
        .into_iter()
        .find(|g| g.ids.iter().any(|id| id == target_id))
}

/// Sorts ids and de-duplicates reasons.
fn finish_group(mut group: Group) -> Group {
    group.ids.sort_unstable();
    group.reasons.sort_unstable();
    group.reasons.dedup();
    group
}

/// Union-find over indices, with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    /// `n` singleton sets.
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    /// Representative of the set holding `x`.
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Merges the sets holding `a` and `b`.
    fn union(&mut self, a: usize, b: usize) {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        if self.size[ra] < self.size[rb] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb] = ra;
        self.size[ra] += self.size[rb];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, name: &str, emails: &[&str], phones: &[&str]) -> Candidate {
        Candidate {
            id: id.to_string(),
            name: name.to_string(),
            emails: emails.iter().map(|s| s.to_string()).collect(),
            phones: phones.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_party_keeps_its_most_similar_name_links_once_each() {
        // 30 holders, each found through two keys, with similarities rising with their number.
        let named: Vec<Link> = (0..30)
            .flat_map(|i| {
                let link = Link::new(
                    "p",
                    &format!("q{i:02}"),
                    Reason::SimilarName,
                    0.9 + f64::from(i) / 1000.0,
                );
                [link.clone(), link]
            })
            .collect();
        let kept = strongest_name_links(named);
        let others: Vec<&str> = kept.iter().map(|l| l.b.as_str()).collect();
        let expected: Vec<String> = (10..30).rev().map(|i| format!("q{i:02}")).collect();
        assert_eq!(others, expected);
    }

    fn ids(group: &Group) -> Vec<&str> {
        group.ids.iter().map(String::as_str).collect()
    }

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  John.Doe@Example.COM "),
            Some("john.doe@example.com".to_string())
        );
        assert_eq!(
            normalize_email("a+b@example.org"),
            Some("a+b@example.org".to_string())
        );
    }

    #[test]
    fn gmail_dots_and_tags_are_removed() {
        assert_eq!(
            normalize_email("J.O.H.N+crm@Gmail.com"),
            Some("john@gmail.com".to_string())
        );
        assert_eq!(
            normalize_email("john.doe@googlemail.com"),
            Some("johndoe@gmail.com".to_string())
        );
        assert_eq!(normalize_email("+tag@gmail.com"), None);
    }

    #[test]
    fn implausible_emails_are_rejected() {
        for bad in [
            "",
            "john",
            "@example.com",
            "john@",
            "john@example",
            "a@b@c.com",
            "jo hn@x.com",
            "a@.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn phone_prefixes_are_equivalent() {
        let expected = Some("886212345678".to_string());
        assert_eq!(normalize_phone("+886 2 1234-5678"), expected);
        assert_eq!(normalize_phone("00886212345678"), expected);
        assert_eq!(normalize_phone("886-2-12345678"), expected);
        assert_eq!(normalize_phone("＋８８６ ２ １２３４ ５６７８"), expected);
        assert_eq!(normalize_phone("(02) 1234.5678"), Some("0212345678".to_string()));
    }

    #[test]
    fn phone_length_limits() {
        assert_eq!(normalize_phone("123-456"), None);
        assert_eq!(normalize_phone("1234567"), Some("1234567".to_string()));
        assert_eq!(
            normalize_phone("123456789012345"),
            Some("123456789012345".to_string())
        );
        assert_eq!(normalize_phone("1234567890123456"), None);
        assert_eq!(normalize_phone("00123456"), None);
        assert_eq!(normalize_phone("n/a"), None);
    }

    #[test]
    fn name_key_folds_case_accents_and_order() {
        assert_eq!(normalize_name("  José   MÜLLER "), "jose muller");
        assert_eq!(normalize_name("Smith, John"), normalize_name("john smith"));
        assert_eq!(normalize_name("François Ñúñez"), "francois nunez");
        assert_eq!(normalize_name("O'Brien"), "obrien");
        assert_eq!(normalize_name("Jose\u{301}"), "jose");
        assert_eq!(normalize_name(""), "");
        assert_eq!(normalize_name(" .,- "), "");
    }

    #[test]
    fn name_key_drops_trailing_org_suffixes() {
        assert_eq!(normalize_name("ACME Inc."), "acme");
        assert_eq!(normalize_name("Acme Co., Ltd."), "acme");
        assert_eq!(normalize_name("Müller GmbH"), "muller");
        assert_eq!(normalize_name("Grupo Bimbo S.A."), "bimbo grupo");
        // Only trailing words: "company" inside the name stays.
        assert_eq!(normalize_name("The Company Store"), "company store the");
        // A name made only of a suffix keeps it.
        assert_eq!(normalize_name("Company"), "company");
    }

    #[test]
    fn similar_person_names_are_grouped() {
        let groups = find_groups(
            &[
                cand("1", "Jon Smith", &[], &[]),
                cand("2", "John Smith", &[], &[]),
            ],
            0.92,
        );
        assert_eq!(groups.len(), 1);
        assert_eq!(ids(&groups[0]), ["1", "2"]);
        assert_eq!(groups[0].reasons, [Reason::SimilarName]);
        assert!(groups[0].score >= 0.92 && groups[0].score < 1.0);
    }

    #[test]
    fn org_suffix_does_not_prevent_grouping() {
        let groups = find_groups(
            &[cand("b", "ACME Inc.", &[], &[]), cand("a", "Acme", &[], &[])],
            0.92,
        );
        assert_eq!(groups.len(), 1);
        assert_eq!(ids(&groups[0]), ["a", "b"]);
        assert_eq!(groups[0].score, 1.0);
    }

    #[test]
    fn shared_email_groups_different_names() {
        let shared = "team@example.com";
        let candidates = [
            cand("1", "Alice Wong", &[shared], &[]),
            cand("2", "Bob Chen", &[shared], &[]),
        ];
        let groups = find_groups(&candidates, 0.92);
        assert_eq!(
            groups,
            [Group {
                ids: vec!["1".into(), "2".into()],
                reasons: vec![Reason::SameEmail],
                score: 1.0
            }]
        );
    }

    #[test]
    fn links_merge_transitively() {
        let candidates = [
            cand("c", "Carol Diaz", &[], &["886212345678"]),
            cand("a", "Alice Wong", &["a@example.com"], &[]),
            cand("b", "Bob Chen", &["a@example.com"], &["886212345678"]),
            cand("d", "Dave Evans", &[], &[]),
        ];
        let groups = find_groups(&candidates, 0.92);
        assert_eq!(groups.len(), 1);
        assert_eq!(ids(&groups[0]), ["a", "b", "c"]);
        assert_eq!(groups[0].reasons, [Reason::SameEmail, Reason::SamePhone]);
    }

    #[test]
    fn unrelated_names_are_not_grouped() {
        let candidates = [
            cand("1", "John Smith", &[], &[]),
            cand("2", "Mary Jones", &[], &[]),
            cand("3", "Globex Corporation", &[], &[]),
        ];
        assert!(find_groups(&candidates, 0.92).is_empty());
    }

    #[test]
    fn empty_names_never_match() {
        let candidates = [cand("1", "", &[], &[]), cand("2", " - ", &[], &[])];
        assert!(find_groups(&candidates, 0.0).is_empty());
    }

    #[test]
    fn names_in_different_blocks_are_not_compared() {
        // Jaro-Winkler("abcd", "xbcd") is about 0.83, but the keys share no token prefix.
        assert!(strsim::jaro_winkler("abcd", "xbcd") >= 0.8);
        assert!(find_groups(&[cand("1", "abcd", &[], &[]), cand("2", "xbcd", &[], &[])], 0.8).is_empty());
    }

    #[test]
    fn groups_sorted_by_score_then_first_id() {
        let candidates = [
            cand("z1", "Jon Smith", &[], &[]),
            cand("z2", "John Smith", &[], &[]),
            cand("m1", "Initech", &[], &["1234567"]),
            cand("m2", "Other", &[], &["1234567"]),
            cand("a1", "Umbrella", &["x@y.com"], &[]),
            cand("a2", "Someone", &["x@y.com"], &[]),
        ];
        let groups = find_groups(&candidates, 0.92);
        let firsts: Vec<&str> = groups.iter().map(|g| g.ids[0].as_str()).collect();
        assert_eq!(firsts, ["a1", "m1", "z1"]);
    }

    #[test]
    fn group_of_returns_only_the_target_group() {
        let candidates = [
            cand("1", "Jon Smith", &[], &[]),
            cand("2", "John Smith", &[], &[]),
            cand("3", "Initech", &["x@y.com"], &[]),
            cand("4", "Initech Ltd", &["x@y.com"], &[]),
            cand("5", "Loner", &[], &[]),
        ];
        let group = group_of(&candidates, "4", 0.92).map(|g| g.ids);
        assert_eq!(group, Some(vec!["3".to_string(), "4".to_string()]));
        assert_eq!(group_of(&candidates, "5", 0.92), None);
        assert_eq!(group_of(&candidates, "missing", 0.92), None);
    }

    #[test]
    fn blocking_keys_pair_each_token_with_the_start_of_the_others() {
        assert_eq!(blocking_keys("John Smith"), ["john|sm", "smith|jo"]);
        assert_eq!(blocking_keys("ACME Inc."), ["acme"]);
        assert_eq!(blocking_keys("陳大文"), ["陳大文"]);
        assert_eq!(blocking_keys("Alexandria"), ["alex"]);
        assert!(blocking_keys(" - ").is_empty());
        // Typos late in a token still meet.
        let shared = |a: &str, b: &str| blocking_keys(a).iter().any(|k| blocking_keys(b).contains(k));
        assert!(shared("Jon Smith", "John Smith"));
        assert!(shared("John Smyth", "John Smith"));
        assert!(shared("John A. Smith", "John Smith"));
        assert!(
            !shared("Mary Smith", "John Smith"),
            "sharing a surname is not enough"
        );
    }

    #[test]
    fn a_name_held_by_more_than_a_block_is_compared_with_nobody() {
        let mut candidates: Vec<Candidate> = (0..=MAX_BLOCK)
            .map(|i| cand(&format!("c{i:04}"), "Chen Wei", &[], &[]))
            .collect();
        assert!(find_groups(&candidates, 0.92).is_empty());
        candidates.truncate(3);
        assert_eq!(
            find_groups(&candidates, 0.92).len(),
            1,
            "a small block is compared"
        );
    }

    #[test]
    fn reasons_keep_their_codes() {
        for reason in [Reason::SameEmail, Reason::SamePhone, Reason::SimilarName] {
            assert_eq!(Reason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(Reason::from_code(0), None);
    }
}
