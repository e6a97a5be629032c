//! Segment rules: conditions over customer attributes and RFM scores, all of which must hold.

use std::collections::HashMap;

use crm_platform::Violations;
use crm_proto::marketing::v1::{Condition, Operator};

/// What a rule can look at for one customer.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// RFM scores (None without purchases).
    pub rfm: Option<(u8, u8, u8)>,
    /// Orders that count.
    pub order_count: i64,
    /// Their total.
    pub total_spend_minor: i64,
    /// Days since the last one (None without purchases).
    pub recency_days: Option<i64>,
    /// Industry.
    pub industry: &'a str,
    /// Region.
    pub region_code: &'a str,
    /// Tags.
    pub tags: &'a [String],
    /// Custom attributes.
    pub attributes: &'a HashMap<String, String>,
}

static NO_ATTRIBUTES: std::sync::LazyLock<HashMap<String, String>> = std::sync::LazyLock::new(HashMap::new);

impl Default for Facts<'_> {
    fn default() -> Self {
        Self {
            rfm: None,
            order_count: 0,
            total_spend_minor: 0,
            recency_days: None,
            industry: "",
            region_code: "",
            tags: &[],
            attributes: &NO_ATTRIBUTES,
        }
    }
}

const NUMERIC: &[&str] = &["r", "f", "m", "order_count", "total_spend_minor", "recency_days"];
const TEXT: &[&str] = &["industry", "region_code", "tag"];

/// Checks conditions (paths prefixed with `prefix`).
pub fn validate(conditions: &[Condition], prefix: &str) -> Violations {
    let mut v = Violations::new();
    v.check(conditions.len() > 50, prefix.to_string(), "at most 50 conditions");
    for (i, c) in conditions.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        let known = NUMERIC.contains(&c.field.as_str())
            || TEXT.contains(&c.field.as_str())
            || c.field.strip_prefix("attributes.").is_some_and(|k| !k.is_empty());
        v.check(!known, format!("{at}.field"), "r, f, m, order_count, total_spend_minor, recency_days, industry, region_code, tag or attributes.<key>");
        v.check(
            matches!(Operator::try_from(c.operator), Err(_) | Ok(Operator::Unspecified)),
            format!("{at}.operator"),
            "EQUALS, NOT_EQUALS, GREATER_THAN, GREATER_OR_EQUAL, LESS_THAN, LESS_OR_EQUAL or CONTAINS",
        );
        v.check(
            NUMERIC.contains(&c.field.as_str()) && c.value.trim().parse::<i64>().is_err(),
            format!("{at}.value"),
            "a whole number for this field",
        );
        v.check(
            c.value.len() > 200,
            format!("{at}.value"),
            "at most 200 characters",
        );
    }
    v
}

fn compare_numbers(a: f64, op: Operator, b: f64) -> bool {
    match op {
        Operator::Equals => a == b,
        Operator::NotEquals => a != b,
        Operator::GreaterThan => a > b,
        Operator::GreaterOrEqual => a >= b,
        Operator::LessThan => a < b,
        Operator::LessOrEqual => a <= b,
        _ => false,
    }
}

fn compare_text(a: &str, op: Operator, b: &str) -> bool {
    match op {
        Operator::Equals => a.eq_ignore_ascii_case(b),
        Operator::NotEquals => !a.eq_ignore_ascii_case(b),
        Operator::Contains => a.to_lowercase().contains(&b.to_lowercase()),
        // Attributes compare as numbers when both sides are numbers (income > 500000).
        other => match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(x), Ok(y)) => compare_numbers(x, other, y),
            _ => false,
        },
    }
}

fn holds(c: &Condition, f: &Facts<'_>) -> bool {
    let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
    let number = |value: Option<i64>| {
        value.is_some_and(|a| {
            c.value
                .trim()
                .parse::<f64>()
                .is_ok_and(|b| compare_numbers(a as f64, op, b))
        })
    };
    match c.field.as_str() {
        "r" => number(f.rfm.map(|s| i64::from(s.0))),
        "f" => number(f.rfm.map(|s| i64::from(s.1))),
        "m" => number(f.rfm.map(|s| i64::from(s.2))),
        "order_count" => number(Some(f.order_count)),
        "total_spend_minor" => number(Some(f.total_spend_minor)),
        "recency_days" => number(f.recency_days),
        "industry" => compare_text(f.industry, op, &c.value),
        "region_code" => compare_text(f.region_code, op, &c.value),
        "tag" => match op {
            Operator::NotEquals => !f.tags.iter().any(|t| t.eq_ignore_ascii_case(&c.value)),
            _ => f.tags.iter().any(|t| t.eq_ignore_ascii_case(&c.value)),
        },
        field => match field
            .strip_prefix("attributes.")
            .and_then(|k| f.attributes.get(k))
        {
            Some(value) => compare_text(value, op, &c.value),
            None => op == Operator::NotEquals,
        },
    }
}

/// Whether every condition holds.
pub fn matches(conditions: &[Condition], facts: &Facts<'_>) -> bool {
    conditions.iter().all(|c| holds(c, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: &str, op: Operator, value: &str) -> Condition {
        Condition {
            field: field.into(),
            operator: op as i32,
            value: value.into(),
        }
    }

    #[test]
    fn taipei_recent_high_income() {
        let attributes = HashMap::from([
            ("city".to_string(), "Taipei".to_string()),
            ("income".to_string(), "650000".to_string()),
        ]);
        let facts = Facts {
            rfm: Some((4, 2, 3)),
            attributes: &attributes,
            ..Default::default()
        };
        let rule = [
            cond("attributes.city", Operator::Equals, "taipei"),
            cond("r", Operator::GreaterOrEqual, "4"),
            cond("attributes.income", Operator::GreaterThan, "500000"),
        ];
        assert!(matches(&rule, &facts));
        let poorer = HashMap::from([
            ("city".to_string(), "Taipei".to_string()),
            ("income".to_string(), "400000".to_string()),
        ]);
        assert!(!matches(
            &rule,
            &Facts {
                attributes: &poorer,
                ..facts.clone()
            }
        ));
        assert!(
            !matches(
                &[cond("r", Operator::GreaterOrEqual, "1")],
                &Facts {
                    rfm: None,
                    attributes: &attributes,
                    ..Default::default()
                }
            ),
            "no purchases, no RFM"
        );
    }

    #[test]
    fn validation_names_fields() {
        let bad = [
            cond("shoe_size", Operator::Equals, "44"),
            cond("r", Operator::Unspecified, "high"),
        ];
        let fields: Vec<String> = validate(&bad, "conditions")
            .iter()
            .map(|(f, _)| f.clone())
            .collect();
        assert_eq!(
            fields,
            vec![
                "conditions[0].field",
                "conditions[1].operator",
                "conditions[1].value"
            ]
        );
    }
}
