//! Rule-based assignment of accounts to sales territories.

use std::cmp::{Ordering, Reverse};
use std::collections::HashMap;

/// Smallest allowed rule priority.
const MIN_PRIORITY: i32 = 0;
/// Largest allowed rule priority.
const MAX_PRIORITY: i32 = 1000;
/// Largest number of entries in one criterion list.
const MAX_ENTRIES: usize = 100;
/// Largest length of one criterion entry, in characters.
const MAX_ENTRY_CHARS: usize = 64;

/// A territory and the criteria an account must meet to belong to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TerritoryRule {
    /// The territory id returned by [`assign`].
    pub id: String,
    /// Tie-breaker among equally specific matches: the lower number wins.
    pub priority: i32,
    /// Accepted industries (case-insensitive); empty = any industry.
    pub industries: Vec<String>,
    /// Accepted region codes (exact); empty = any region.
    pub regions: Vec<String>,
    /// Product lines of the territory; not used for account matching.
    pub product_lines: Vec<String>,
}

/// The account attributes territory rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Account {
    /// The account's industry.
    pub industry: String,
    /// The account's region code.
    pub region_code: String,
}

/// A territory matches an account when each non-empty criterion list contains the account's value
/// (industries compared case-insensitively; regions exactly; product_lines are ignored for account
/// matching — they matter for quotas/opportunities). Among matches: the most specific (number of
/// non-empty criteria among industries/regions) wins, then the lower priority number, then the
/// smaller id. A territory with no criteria matches every account (a catch-all).
pub fn assign(account: &Account, rules: &[TerritoryRule]) -> Option<String> {
    // Lower-case once instead of per comparison.
    let industry = account.industry.to_lowercase();
    rules
        .iter()
        .filter(|rule| matches(rule, &industry, &account.region_code))
        .min_by(|a, b| compare_matches(a, b))
        .map(|rule| rule.id.clone())
}

/// Like [`assign`], among the territories that sell at least one of `product_lines` (a
/// territory with no product lines sells everything); when none of those matches the account,
/// the account's territory by [`assign`].
pub fn assign_for_products(
    account: &Account,
    product_lines: &[String],
    rules: &[TerritoryRule],
) -> Option<String> {
    let selling: Vec<TerritoryRule> = rules
        .iter()
        .filter(|r| r.product_lines.is_empty() || r.product_lines.iter().any(|l| product_lines.contains(l)))
        .cloned()
        .collect();
    if product_lines.is_empty() {
        return assign(account, rules);
    }
    // Prefer territories that name one of the lines over catch-alls.
    let naming: Vec<TerritoryRule> = selling
        .iter()
        .filter(|r| !r.product_lines.is_empty())
        .cloned()
        .collect();
    assign(account, &naming)
        .or_else(|| assign(account, &selling))
        .or_else(|| assign(account, rules))
}

/// Problems with one rule as (field, message): id non-empty; priority 0..=1000; at most 100 entries
/// per list; entries non-empty and at most 64 chars; no duplicates within a list.
///
/// Blank (whitespace-only) ids and entries count as empty; industry duplicates are detected
/// case-insensitively, because matching treats them as the same value.
pub fn validate_rule(rule: &TerritoryRule) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if rule.id.trim().is_empty() {
        problems.push(("id".to_string(), "must not be empty".to_string()));
    }
    if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&rule.priority) {
        let message = format!("must be between {MIN_PRIORITY} and {MAX_PRIORITY}");
        problems.push(("priority".to_string(), message));
    }
    validate_list(&mut problems, "industries", &rule.industries, true);
    validate_list(&mut problems, "regions", &rule.regions, false);
    validate_list(&mut problems, "product_lines", &rule.product_lines, false);
    problems
}

/// True when the rule's industry and region criteria accept the account.
fn matches(rule: &TerritoryRule, industry_lower: &str, region: &str) -> bool {
    let industry_ok =
        rule.industries.is_empty() || rule.industries.iter().any(|i| i.to_lowercase() == industry_lower);
    let region_ok = rule.regions.is_empty() || rule.regions.iter().any(|r| r == region);
    industry_ok && region_ok
}

/// Number of non-empty matching criteria (industries, regions).
fn specificity(rule: &TerritoryRule) -> usize {
    usize::from(!rule.industries.is_empty()) + usize::from(!rule.regions.is_empty())
}

/// Orders matching rules best first: most specific, then lowest priority, then smallest id.
fn compare_matches(a: &TerritoryRule, b: &TerritoryRule) -> Ordering {
    let key = |r: &TerritoryRule| (Reverse(specificity(r)), r.priority);
    key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
}

/// Checks one criterion list: size, entry shape and duplicates.
fn validate_list(problems: &mut Vec<(String, String)>, name: &str, entries: &[String], fold_case: bool) {
    if entries.len() > MAX_ENTRIES {
        problems.push((
            name.to_string(),
            format!("must have at most {MAX_ENTRIES} entries"),
        ));
    }
    // Maps the normalised entry to the index where it first appeared.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("{name}[{index}]");
        if entry.trim().is_empty() {
            problems.push((field, "must not be empty".to_string()));
            continue;
        }
        if entry.chars().count() > MAX_ENTRY_CHARS {
            problems.push((
                field.clone(),
                format!("must be at most {MAX_ENTRY_CHARS} characters"),
            ));
        }
        let normalised = if fold_case {
            entry.to_lowercase()
        } else {
            entry.clone()
        };
        match seen.get(&normalised) {
            Some(first) => problems.push((field, format!("duplicates {name}[{first}]"))),
            None => {
                seen.insert(normalised, index);
            }
        }
    }
}

#[cfg(test)]
mod product_line_tests {
    use super::*;

    fn rule(id: &str, industries: &[&str], lines: &[&str]) -> TerritoryRule {
        TerritoryRule {
            id: id.into(),
            priority: 10,
            industries: industries.iter().map(|s| s.to_string()).collect(),
            regions: Vec::new(),
            product_lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn product_lines_pick_the_selling_territory() {
        let rules = [
            rule("banking", &["banking"], &[]),
            rule("banking-hw", &["banking"], &["hardware"]),
            rule("all", &[], &[]),
        ];
        let bank = Account {
            industry: "Banking".into(),
            region_code: String::new(),
        };
        assert_eq!(
            assign_for_products(&bank, &["hardware".into()], &rules).as_deref(),
            Some("banking-hw")
        );
        assert_eq!(
            assign_for_products(&bank, &["services".into()], &rules).as_deref(),
            Some("banking")
        );
        assert_eq!(
            assign_for_products(&bank, &[], &rules).as_deref(),
            Some("banking")
        );
        let shop = Account {
            industry: "Retail".into(),
            region_code: String::new(),
        };
        assert_eq!(
            assign_for_products(&shop, &["hardware".into()], &rules).as_deref(),
            Some("all")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn rule(id: &str, priority: i32, industries: &[&str], regions: &[&str]) -> TerritoryRule {
        TerritoryRule {
            id: id.to_string(),
            priority,
            industries: strings(industries),
            regions: strings(regions),
            product_lines: Vec::new(),
        }
    }

    fn account(industry: &str, region_code: &str) -> Account {
        Account {
            industry: industry.to_string(),
            region_code: region_code.to_string(),
        }
    }

    fn fields(problems: &[(String, String)]) -> Vec<&str> {
        problems.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn no_rules_or_no_match_gives_none() {
        assert_eq!(assign(&account("Retail", "DE-BY"), &[]), None);
        let rules = [rule("t-fin", 1, &["Finance"], &[]), rule("t-fr", 1, &[], &["FR"])];
        assert_eq!(assign(&account("Retail", "DE-BY"), &rules), None);
    }

    #[test]
    fn catch_all_matches_everything() {
        let rules = [rule("t-all", 500, &[], &[])];
        assert_eq!(
            assign(&account("Retail", "DE-BY"), &rules),
            Some("t-all".to_string())
        );
        assert_eq!(assign(&account("", ""), &rules), Some("t-all".to_string()));
    }

    #[test]
    fn industry_is_case_insensitive_region_is_exact() {
        let rules = [rule("t-fin", 1, &["FINANCE"], &[]), rule("t-de", 1, &[], &["DE"])];
        assert_eq!(
            assign(&account("finance", "FR"), &rules),
            Some("t-fin".to_string())
        );
        assert_eq!(assign(&account("Retail", "de"), &rules), None);
        assert_eq!(assign(&account("Retail", "DE"), &rules), Some("t-de".to_string()));
    }

    #[test]
    fn all_non_empty_criteria_must_match() {
        let rules = [rule("t-fin-de", 1, &["Finance"], &["DE"])];
        assert_eq!(assign(&account("Finance", "FR"), &rules), None);
        assert_eq!(assign(&account("Retail", "DE"), &rules), None);
        assert_eq!(
            assign(&account("Finance", "DE"), &rules),
            Some("t-fin-de".to_string())
        );
    }

    #[test]
    fn product_lines_do_not_affect_matching() {
        let mut with_products = rule("t-p", 1, &[], &["DE"]);
        with_products.product_lines = strings(&["Widgets"]);
        assert_eq!(
            assign(&account("Retail", "DE"), &[with_products]),
            Some("t-p".to_string())
        );
    }

    #[test]
    fn most_specific_wins_over_priority() {
        let rules = [
            rule("t-all", 0, &[], &[]),
            rule("t-de", 1, &[], &["DE", "AT"]),
            rule("t-fin-de", 900, &["Finance"], &["DE"]),
        ];
        assert_eq!(
            assign(&account("Finance", "DE"), &rules),
            Some("t-fin-de".to_string())
        );
        assert_eq!(assign(&account("Retail", "DE"), &rules), Some("t-de".to_string()));
        assert_eq!(
            assign(&account("Retail", "US"), &rules),
            Some("t-all".to_string())
        );
    }

    #[test]
    fn equal_specificity_lower_priority_wins() {
        // An industry-only and a region-only rule are equally specific (one criterion each).
        let rules = [
            rule("t-fin", 20, &["Finance"], &[]),
            rule("t-de", 10, &[], &["DE"]),
        ];
        assert_eq!(
            assign(&account("Finance", "DE"), &rules),
            Some("t-de".to_string())
        );
    }

    #[test]
    fn equal_specificity_and_priority_smaller_id_wins() {
        let rules = [
            rule("t-b", 10, &["Finance"], &[]),
            rule("t-a", 10, &[], &["DE"]),
            rule("t-c", 10, &[], &[]),
        ];
        assert_eq!(assign(&account("Finance", "DE"), &rules), Some("t-a".to_string()));
        // Order of the input does not matter.
        let reversed: Vec<_> = rules.iter().rev().cloned().collect();
        assert_eq!(
            assign(&account("Finance", "DE"), &reversed),
            Some("t-a".to_string())
        );
    }

    #[test]
    fn valid_rule_has_no_problems() {
        let mut ok = rule("t-1", 0, &["Finance", "Retail"], &["DE"]);
        ok.product_lines = strings(&["Widgets"]);
        assert!(validate_rule(&ok).is_empty());
        assert!(validate_rule(&rule("t-2", 1000, &[], &[])).is_empty());
    }

    #[test]
    fn validate_id_and_priority() {
        assert_eq!(fields(&validate_rule(&rule("", 0, &[], &[]))), vec!["id"]);
        assert_eq!(fields(&validate_rule(&rule("  ", 0, &[], &[]))), vec!["id"]);
        assert_eq!(fields(&validate_rule(&rule("t", -1, &[], &[]))), vec!["priority"]);
        assert_eq!(
            fields(&validate_rule(&rule("t", 1001, &[], &[]))),
            vec!["priority"]
        );
    }

    #[test]
    fn validate_entries() {
        let long = "x".repeat(65);
        let max = "é".repeat(64); // 64 chars, 128 bytes: still allowed
        let mut bad = rule("t", 1, &["Finance", "", "finance"], &["DE", &long, "DE", &max]);
        bad.product_lines = strings(&[" "]);
        let problems = validate_rule(&bad);
        assert_eq!(
            problems,
            vec![
                ("industries[1]".to_string(), "must not be empty".to_string()),
                (
                    "industries[2]".to_string(),
                    "duplicates industries[0]".to_string()
                ),
                (
                    "regions[1]".to_string(),
                    "must be at most 64 characters".to_string()
                ),
                ("regions[2]".to_string(), "duplicates regions[0]".to_string()),
                ("product_lines[0]".to_string(), "must not be empty".to_string()),
            ]
        );
    }

    #[test]
    fn validate_region_duplicates_are_case_sensitive() {
        assert!(validate_rule(&rule("t", 1, &[], &["DE", "de"])).is_empty());
    }

    #[test]
    fn validate_list_size() {
        let hundred: Vec<String> = (0..100).map(|i| format!("R{i}")).collect();
        let mut ok = rule("t", 1, &[], &[]);
        ok.regions = hundred.clone();
        assert!(validate_rule(&ok).is_empty());
        let mut too_many = ok.clone();
        too_many.regions.push("R100".to_string());
        assert_eq!(fields(&validate_rule(&too_many)), vec!["regions"]);
    }
}
