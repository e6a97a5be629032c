//! Validation of partner records and the partner lifecycle.

use crm_platform::Violations;
use crm_proto::partners::v1::{self as pb, OperatingModel, PartnerStatus, PartnerType};

/// A calendar date `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// Checks a partner's client-settable fields (paths prefixed with `partner.`).
pub fn validate_partner(p: &pb::Partner) -> Violations {
    let mut v = Violations::new();
    v.check(
        p.name.trim().is_empty() || p.name.len() > 200,
        "partner.name",
        "1 to 200 characters",
    );
    v.check(
        matches!(
            PartnerType::try_from(p.r#type),
            Err(_) | Ok(PartnerType::Unspecified)
        ),
        "partner.type",
        "BRANCH, BUSINESS_UNIT, MASTER_DISTRIBUTOR, DISTRIBUTOR, DEALER or RETAILER",
    );
    v.check(
        matches!(
            OperatingModel::try_from(p.operating_model),
            Err(_) | Ok(OperatingModel::Unspecified)
        ),
        "partner.operating_model",
        "CONSIGNMENT or BUY_SELL",
    );
    v.check(p.region_codes.len() > 50, "partner.region_codes", "at most 50");
    for (i, r) in p.region_codes.iter().enumerate() {
        let ok = !r.is_empty()
            && r.len() <= 16
            && r.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        v.check(
            !ok,
            format!("partner.region_codes[{i}]"),
            "upper-case letters, digits and '-', up to 16",
        );
    }
    v.check(p.tier.len() > 32, "partner.tier", "at most 32 characters");
    v.check(
        !p.agreement_start.is_empty() && !is_date(&p.agreement_start),
        "partner.agreement_start",
        "a date YYYY-MM-DD",
    );
    v.check(
        !p.agreement_end.is_empty() && !is_date(&p.agreement_end),
        "partner.agreement_end",
        "a date YYYY-MM-DD",
    );
    v.check(
        is_date(&p.agreement_start) && is_date(&p.agreement_end) && p.agreement_end < p.agreement_start,
        "partner.agreement_end",
        "not before the agreement start",
    );
    v.check(p.contacts.len() > 20, "partner.contacts", "at most 20");
    for (i, c) in p.contacts.iter().enumerate() {
        v.check(
            c.name.trim().is_empty() || c.name.len() > 200,
            format!("partner.contacts[{i}].name"),
            "1 to 200 characters",
        );
        v.check(
            !c.email.is_empty() && (c.email.matches('@').count() != 1 || c.email.contains(' ')),
            format!("partner.contacts[{i}].email"),
            "not an email address",
        );
    }
    v
}

/// Checks a target's fields (paths relative to the target) and normalises its period code.
pub fn validate_target(t: &mut pb::Target) -> Violations {
    let mut v = Violations::new();
    match crm_calendar::Period::parse(&t.period) {
        Some(p) => t.period = p.code(),
        None => v.add("period", "YYYY, YYYY-Qn or YYYY-MM"),
    }
    match &t.amount {
        None => v.add("amount", "required"),
        Some(m) => {
            v.check(m.amount_minor < 0, "amount.amount_minor", "must not be negative");
            v.check(
                !crm_platform::money::is_currency(&m.currency_code),
                "amount.currency_code",
                "an ISO 4217 code",
            );
        }
    }
    v.check(t.quantity < 0, "quantity", "must not be negative");
    v.check(
        !t.product_category.is_empty() && !t.product_id.is_empty(),
        "product_id",
        "a target is for a category or a product, not both",
    );
    v
}

/// Whether a partner may move from `from` to `to`: onboarding -> active; active <-> probation;
/// any live status -> terminated. Terminated is final.
pub fn allowed_transition(from: PartnerStatus, to: PartnerStatus) -> bool {
    use PartnerStatus::*;
    matches!(
        (from, to),
        (Onboarding, Active)
            | (Active, Probation)
            | (Probation, Active)
            | (Onboarding | Active | Probation, Terminated)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        use PartnerStatus::*;
        assert!(allowed_transition(Onboarding, Active));
        assert!(allowed_transition(Probation, Active));
        assert!(allowed_transition(Active, Terminated));
        assert!(!allowed_transition(Terminated, Active));
        assert!(!allowed_transition(Onboarding, Probation));
    }

    #[test]
    fn validation_names_fields() {
        let p = pb::Partner {
            region_codes: vec!["north".into()],
            agreement_start: "2026-05-01".into(),
            agreement_end: "2026-01-01".into(),
            ..Default::default()
        };
        let fields: Vec<String> = validate_partner(&p).iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(
            fields,
            vec![
                "partner.name",
                "partner.type",
                "partner.operating_model",
                "partner.region_codes[0]",
                "partner.agreement_end"
            ]
        );
    }
}
