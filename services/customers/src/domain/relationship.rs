//! Rules for relationship edges.

use crm_platform::Violations;
use crm_proto::customers::v1::{self as pb, RelationshipType};

use super::party::{is_date, is_snake_identifier};

/// Checks a new relationship. Field paths are relative to the relationship.
pub fn validate(r: &pb::Relationship) -> Violations {
    let mut v = Violations::new();
    v.check(r.from_party_id.is_empty(), "from_party_id", "required");
    v.check(r.to_party_id.is_empty(), "to_party_id", "required");
    v.check(
        !r.from_party_id.is_empty() && r.from_party_id == r.to_party_id,
        "to_party_id",
        "a party cannot be related to itself",
    );
    match RelationshipType::try_from(r.r#type) {
        Ok(RelationshipType::Unspecified) | Err(_) => v.add("type", "required"),
        Ok(RelationshipType::Custom) => v.check(
            !is_snake_identifier(&r.custom_type, 64),
            "custom_type",
            "lower_snake_case name, up to 64",
        ),
        Ok(_) => v.check(
            !r.custom_type.is_empty(),
            "custom_type",
            "only for CUSTOM relationships",
        ),
    }
    v.check(r.role.len() > 200, "role", "at most 200 characters");
    v.check(
        !r.since.is_empty() && !is_date(&r.since),
        "since",
        "must be a date YYYY-MM-DD",
    );
    v.check(
        !r.until.is_empty() && !is_date(&r.until),
        "until",
        "must be a date YYYY-MM-DD",
    );
    v.check(
        is_date(&r.since) && is_date(&r.until) && r.until < r.since,
        "until",
        "must not be before since",
    );
    v
}

/// Edge types that form a corporate group (child -> parent).
pub const HIERARCHY: &[RelationshipType] = &[
    RelationshipType::SubsidiaryOf,
    RelationshipType::DepartmentOf,
    RelationshipType::MemberOfGroup,
];

/// Whether `t` is a hierarchy edge type.
pub fn is_hierarchy(t: i32) -> bool {
    HIERARCHY.iter().any(|h| *h as i32 == t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_fields() {
        let r = pb::Relationship {
            from_party_id: "a".into(),
            to_party_id: "a".into(),
            r#type: RelationshipType::Custom as i32,
            custom_type: "Mentor Of".into(),
            since: "2020-05-01".into(),
            until: "2019-01-01".into(),
            ..Default::default()
        };
        let fields: Vec<String> = validate(&r).iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(fields, vec!["to_party_id", "custom_type", "until"]);
        let ok = pb::Relationship {
            from_party_id: "a".into(),
            to_party_id: "b".into(),
            r#type: RelationshipType::EmployeeOf as i32,
            ..Default::default()
        };
        assert!(validate(&ok).is_empty());
    }
}
