//! Rules for parties: validation, normalisation, field masks and what each principal may see.

use std::collections::{BTreeMap, HashSet};

use crm_auth::{Principal, RecordScope, Role};
use crm_platform::Violations;
use crm_proto::customers::v1::{self as pb, ContactPointKind, LifecycleStage, PartyKind};

use super::duplicates::{normalize_email, normalize_name, normalize_phone};

/// Field paths an update mask may name.
pub const UPDATABLE_FIELDS: &[&str] = &[
    "given_name",
    "family_name",
    "organization_name",
    "contact_points",
    "industry",
    "company_size",
    "region_code",
    "tags",
    "attributes",
    "owner_id",
    "team_id",
    "source",
    "lifecycle_stage",
    "birth_date",
];

const MAX_NAME: usize = 200;
const MAX_TAGS: usize = 50;
const MAX_TAG: usize = 64;
const MAX_ATTRIBUTES: usize = 100;
const MAX_ATTRIBUTE_VALUE: usize = 1024;
const MAX_CONTACT_POINTS: usize = 50;

/// Checks a party's client-settable fields. Field paths are relative to the party.
pub fn validate(party: &pb::Party) -> Violations {
    let mut v = Violations::new();
    match PartyKind::try_from(party.kind) {
        Ok(PartyKind::Person) => {
            v.check(
                party.given_name.trim().is_empty() && party.family_name.trim().is_empty(),
                "given_name",
                "a person needs a given or a family name",
            );
            v.check(
                !party.organization_name.is_empty(),
                "organization_name",
                "only organizations have one",
            );
            v.check(
                party.company_size != 0,
                "company_size",
                "only organizations have a size",
            );
        }
        Ok(PartyKind::Organization) => {
            v.check(
                party.organization_name.trim().is_empty(),
                "organization_name",
                "required for an organization",
            );
            v.check(!party.given_name.is_empty(), "given_name", "only people have one");
            v.check(
                !party.family_name.is_empty(),
                "family_name",
                "only people have one",
            );
            v.check(!party.birth_date.is_empty(), "birth_date", "only people have one");
        }
        _ => v.add("kind", "must be PERSON or ORGANIZATION"),
    }
    for (field, value) in [
        ("given_name", &party.given_name),
        ("family_name", &party.family_name),
        ("organization_name", &party.organization_name),
        ("industry", &party.industry),
        ("source", &party.source),
        ("owner_id", &party.owner_id),
        ("team_id", &party.team_id),
    ] {
        v.check(
            value.chars().count() > MAX_NAME,
            field,
            format!("at most {MAX_NAME} characters"),
        );
    }
    v.check(
        pb::CompanySize::try_from(party.company_size).is_err(),
        "company_size",
        "unknown size",
    );
    if !party.region_code.is_empty() {
        v.check(
            !is_region_code(&party.region_code),
            "region_code",
            "upper-case letters, digits and '-', up to 16",
        );
    }
    v.check(
        !party.birth_date.is_empty() && !is_date(&party.birth_date),
        "birth_date",
        "must be a date YYYY-MM-DD",
    );
    v.check(
        LifecycleStage::try_from(party.lifecycle_stage).is_err(),
        "lifecycle_stage",
        "unknown lifecycle stage",
    );
    validate_contact_points(&party.contact_points, &mut v);
    validate_tags(&party.tags, &mut v);
    validate_attributes(&party.attributes, &mut v);
    v
}

fn validate_contact_points(points: &[pb::ContactPoint], v: &mut Violations) {
    v.check(
        points.len() > MAX_CONTACT_POINTS,
        "contact_points",
        format!("at most {MAX_CONTACT_POINTS}"),
    );
    let mut primaries = HashSet::new();
    for (i, cp) in points.iter().enumerate() {
        let field = format!("contact_points[{i}].value");
        match ContactPointKind::try_from(cp.kind) {
            Ok(ContactPointKind::Email) => v.check(
                normalize_email(&cp.value).is_none(),
                field,
                "not an email address",
            ),
            Ok(ContactPointKind::Phone) => v.check(
                normalize_phone(&cp.value).is_none(),
                field,
                "not a phone number (7 to 15 digits)",
            ),
            Ok(ContactPointKind::Address) => v.check(
                cp.value.trim().is_empty() || cp.value.len() > 1000,
                field,
                "1 to 1000 characters",
            ),
            _ => v.add(
                format!("contact_points[{i}].kind"),
                "must be EMAIL, PHONE or ADDRESS",
            ),
        }
        v.check(
            cp.label.len() > 64,
            format!("contact_points[{i}].label"),
            "at most 64 characters",
        );
        if cp.primary && !primaries.insert(cp.kind) {
            v.add(
                format!("contact_points[{i}].primary"),
                "only one primary contact point per kind",
            );
        }
    }
}

fn validate_tags(tags: &[String], v: &mut Violations) {
    v.check(tags.len() > MAX_TAGS, "tags", format!("at most {MAX_TAGS}"));
    for (i, tag) in tags.iter().enumerate() {
        v.check(
            tag.trim().is_empty() || tag.chars().count() > MAX_TAG,
            format!("tags[{i}]"),
            format!("1 to {MAX_TAG} characters"),
        );
    }
}

fn validate_attributes(attributes: &std::collections::HashMap<String, String>, v: &mut Violations) {
    v.check(
        attributes.len() > MAX_ATTRIBUTES,
        "attributes",
        format!("at most {MAX_ATTRIBUTES}"),
    );
    let mut keys: Vec<&String> = attributes.keys().collect();
    keys.sort();
    for key in keys {
        v.check(
            !is_snake_identifier(key, 64),
            format!("attributes[{key}]"),
            "keys are lower_snake_case, up to 64",
        );
        v.check(
            attributes[key].len() > MAX_ATTRIBUTE_VALUE,
            format!("attributes[{key}]"),
            format!("values up to {MAX_ATTRIBUTE_VALUE} bytes"),
        );
    }
}

/// `[a-z][a-z0-9_]*` up to `max` characters.
pub fn is_snake_identifier(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Upper-case region codes such as `APAC` or `TW-TPE`.
pub fn is_region_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 16
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

/// A calendar date `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
}

/// Derived fields: display name, trimmed names, normalised contact points with a primary per
/// kind, de-duplicated lower-case tags.
pub fn normalise(party: &mut pb::Party) {
    party.given_name = party.given_name.trim().to_string();
    party.family_name = party.family_name.trim().to_string();
    party.organization_name = party.organization_name.trim().to_string();
    party.display_name = display_name(party);
    for cp in &mut party.contact_points {
        cp.value = cp.value.trim().to_string();
        cp.normalized = normalized_contact(cp.kind, &cp.value);
    }
    let mut seen_primary = HashSet::new();
    for cp in party.contact_points.iter().filter(|c| c.primary) {
        seen_primary.insert(cp.kind);
    }
    for cp in &mut party.contact_points {
        if seen_primary.insert(cp.kind) {
            cp.primary = true;
        }
    }
    let mut tags: Vec<String> = party.tags.iter().map(|t| t.trim().to_lowercase()).collect();
    tags.sort();
    tags.dedup();
    party.tags = tags;
}

/// The person's full name or the organization's name.
pub fn display_name(party: &pb::Party) -> String {
    if party.kind == PartyKind::Organization as i32 {
        party.organization_name.clone()
    } else {
        [party.given_name.as_str(), party.family_name.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The lower-cased display name used by name search.
pub fn name_key(party: &pb::Party) -> String {
    name_key_of(&party.display_name)
}

/// The name key of a display name (see [`name_key`]).
pub fn name_key_of(display_name: &str) -> String {
    display_name.to_lowercase()
}

/// The distinct two-character sequences of `text`, in order of first appearance. Name search
/// indexes each party under its name key's pairs: a fragment (at least two characters) occurs
/// in a name only if all its pairs do, so the parties under one pair of the fragment are the
/// only candidates. Pairs, not words, because CJK names have no spaces and any two of their
/// characters are a search people make.
pub fn search_grams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut grams: Vec<String> = Vec::with_capacity(chars.len().saturating_sub(1));
    for pair in chars.windows(2) {
        let gram: String = pair.iter().collect();
        if !grams.contains(&gram) {
            grams.push(gram);
        }
    }
    grams
}

/// The matching form of a contact point's value.
pub fn normalized_contact(kind: i32, value: &str) -> String {
    match ContactPointKind::try_from(kind) {
        Ok(ContactPointKind::Email) => normalize_email(value).unwrap_or_default(),
        Ok(ContactPointKind::Phone) => normalize_phone(value).unwrap_or_default(),
        _ => normalize_name(value),
    }
}

/// Applies the masked fields of `patch` to `current`. Unknown or immutable paths are violations.
pub fn apply_mask(current: &pb::Party, patch: &pb::Party, paths: &[String]) -> Result<pb::Party, Violations> {
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add("update_mask", "name at least one field");
    }
    let mut next = current.clone();
    for path in paths {
        match path.as_str() {
            "given_name" => next.given_name = patch.given_name.clone(),
            "family_name" => next.family_name = patch.family_name.clone(),
            "organization_name" => next.organization_name = patch.organization_name.clone(),
            "contact_points" => next.contact_points = patch.contact_points.clone(),
            "industry" => next.industry = patch.industry.clone(),
            "company_size" => next.company_size = patch.company_size,
            "region_code" => next.region_code = patch.region_code.clone(),
            "tags" => next.tags = patch.tags.clone(),
            "attributes" => next.attributes = patch.attributes.clone(),
            "owner_id" => next.owner_id = patch.owner_id.clone(),
            "team_id" => next.team_id = patch.team_id.clone(),
            "source" => next.source = patch.source.clone(),
            "lifecycle_stage" => next.lifecycle_stage = patch.lifecycle_stage,
            "birth_date" => next.birth_date = patch.birth_date.clone(),
            other => v.add("update_mask", format!("{other:?} cannot be updated")),
        }
    }
    if v.is_empty() { Ok(next) } else { Err(v) }
}

/// The fields that differ between two versions of a party (client-visible names).
pub fn changed_fields(before: &pb::Party, after: &pb::Party) -> Vec<String> {
    let mut changed = Vec::new();
    let mut diff = |name: &str, differs: bool| {
        if differs {
            changed.push(name.to_string());
        }
    };
    diff("given_name", before.given_name != after.given_name);
    diff("family_name", before.family_name != after.family_name);
    diff(
        "organization_name",
        before.organization_name != after.organization_name,
    );
    diff("contact_points", contact_key(before) != contact_key(after));
    diff("industry", before.industry != after.industry);
    diff("company_size", before.company_size != after.company_size);
    diff("region_code", before.region_code != after.region_code);
    diff("tags", before.tags != after.tags);
    diff(
        "attributes",
        sorted(&before.attributes) != sorted(&after.attributes),
    );
    diff("owner_id", before.owner_id != after.owner_id);
    diff("team_id", before.team_id != after.team_id);
    diff("source", before.source != after.source);
    diff("lifecycle_stage", before.lifecycle_stage != after.lifecycle_stage);
    diff("birth_date", before.birth_date != after.birth_date);
    changed
}

fn contact_key(p: &pb::Party) -> Vec<(i32, String, String, bool)> {
    p.contact_points
        .iter()
        .map(|c| (c.kind, c.value.clone(), c.label.clone(), c.primary))
        .collect()
}

fn sorted(m: &std::collections::HashMap<String, String>) -> BTreeMap<&String, &String> {
    m.iter().collect()
}

/// The record-rule scope of a party.
pub fn scope(party: &pb::Party) -> RecordScope<'_> {
    RecordScope {
        owner_id: Some(party.owner_id.as_str()),
        team_id: Some(party.team_id.as_str()),
        territory: Some(party.region_code.as_str()),
        partner_id: None,
        customer_id: Some(party.id.as_str()),
    }
}

/// Roles that read every party.
pub const READ_ALL: &[Role] = &[
    Role::SalesRep,
    Role::SalesManager,
    Role::Marketer,
    Role::ServiceAgent,
    Role::ServiceManager,
];

/// Whether `principal` may read `party`: staff read every party, a customer only their own.
pub fn may_read(principal: &Principal, party: &pb::Party) -> bool {
    principal.may_see(&scope(party), READ_ALL)
}

/// The fields a customer may change on their own record: their contact data.
pub const SELF_SERVICE_FIELDS: &[&str] = &["contact_points"];

/// Whether `principal` is a customer acting on their own record: with a customer token (and no
/// staff role) naming `party`. They may confirm it and correct its [`SELF_SERVICE_FIELDS`].
pub fn is_self_service(principal: &Principal, party: &pb::Party) -> bool {
    is_customer_only(principal) && principal.customer_id.as_deref() == Some(party.id.as_str())
}

/// Whether `principal` holds the customer role and no other.
pub fn is_customer_only(principal: &Principal) -> bool {
    principal.has_role(Role::Customer) && principal.roles.len() == 1
}

/// The fields everyone who meets customers may correct on any customer they can read: the
/// data they gather (contact points and custom attributes), whoever owns the record.
pub const GATHERED_FIELDS: &[&str] = &["contact_points", "attributes"];

/// Roles that gather customer data from their contacts with customers (calls, campaigns).
pub const GATHERERS: &[Role] = &[Role::ServiceAgent, Role::Marketer];

/// The fields `principal` may change on `party` without being allowed to change it all
/// ([`may_write`]): a customer their own contact points, an agent or a marketer the gathered
/// fields of any party they can read; none otherwise.
pub fn correctable_fields(principal: &Principal, party: &pb::Party) -> &'static [&'static str] {
    if is_self_service(principal, party) {
        SELF_SERVICE_FIELDS
    } else if principal.has_any_role(GATHERERS) && may_read(principal, party) {
        GATHERED_FIELDS
    } else {
        &[]
    }
}

/// The paths of an update mask outside `allowed`.
pub fn beyond(paths: &[String], allowed: &[&str]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| !allowed.contains(&p.as_str()))
        .cloned()
        .collect()
}

/// Whether `principal` may change `party`: administrators and service managers any; a sales
/// manager the team's; a sales rep their own and their territories'; marketers and agents
/// parties nobody owns yet. Customers change nothing here.
pub fn may_write(principal: &Principal, party: &pb::Party) -> bool {
    if is_customer_only(principal) {
        return false;
    }
    let unowned = party.owner_id.is_empty() && party.team_id.is_empty();
    (unowned && principal.has_any_role(crate::policy::WRITERS))
        || principal.may_see(
            &RecordScope {
                customer_id: None,
                ..scope(party)
            },
            &[Role::ServiceManager],
        )
}

/// Field rules: a customer reading their own record does not see internal fields (owner, team,
/// tags, custom attributes, value figures, source).
pub fn redact_for(principal: &Principal, party: &mut pb::Party) {
    let staff = principal.has_any_role(crate::policy::STAFF);
    if !staff {
        party.owner_id.clear();
        party.team_id.clear();
        party.tags.clear();
        party.attributes.clear();
        party.value = None;
        party.source.clear();
    }
}

/// Party fields only staff see (see [`redact_for`]).
const STAFF_FIELDS: &[&str] = &["owner_id", "team_id", "tags", "attributes", "value", "source"];
/// Audit actions about staff-only figures: the party's value and its tier.
const STAFF_ACTIONS: &[&str] = &["value_set", "tier_changed"];

/// Trims a party's audit trail to what `principal` may see: for a customer exporting their own
/// data, the entries about staff-only figures go, the staff-only fields leave the recorded
/// changes, and the staff member behind a change is not named (the customer's own changes keep
/// their name). Staff see it whole.
pub fn redact_audit_for(principal: &Principal, entries: &mut Vec<pb::AuditEntry>) {
    if principal.has_any_role(crate::policy::STAFF) {
        return;
    }
    entries.retain(|e| !STAFF_ACTIONS.contains(&e.action.as_str()));
    for entry in entries {
        if let Ok(serde_json::Value::Object(mut changes)) = serde_json::from_str(&entry.changes_json) {
            changes.retain(|field, _| !STAFF_FIELDS.contains(&field.as_str()));
            entry.changes_json = serde_json::Value::Object(changes).to_string();
        }
        if entry.actor_id != principal.user_id {
            entry.actor_id.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_sees_their_audit_trail_without_staff_fields() {
        let entry = |action: &str, actor: &str, changes: &str| pb::AuditEntry {
            action: action.into(),
            actor_id: actor.into(),
            changes_json: changes.into(),
            ..Default::default()
        };
        let trail = vec![
            entry(
                "created",
                "rep-7",
                r#"{"given_name":"Ann","owner_id":"rep-7","tags":["vip"],"source":"fair"}"#,
            ),
            entry("value_set", "system", r#"{"lifetime_revenue_minor":100}"#),
            entry("tier_changed", "system", r#"{"tier":"top"}"#),
            entry(
                "updated",
                "cust-1",
                r#"{"family_name":"Lee","attributes":{"score":"9"}}"#,
            ),
        ];
        let customer = Principal {
            user_id: "cust-1".into(),
            roles: vec![Role::Customer],
            customer_id: Some("p1".into()),
            ..Default::default()
        };
        let mut seen = trail.clone();
        redact_audit_for(&customer, &mut seen);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].changes_json, r#"{"given_name":"Ann"}"#);
        assert_eq!(seen[0].actor_id, "", "the staff member is not named");
        assert_eq!(seen[1].changes_json, r#"{"family_name":"Lee"}"#);
        assert_eq!(seen[1].actor_id, "cust-1");
        let auditor = Principal {
            roles: vec![Role::Auditor],
            ..customer
        };
        let mut whole = trail.clone();
        redact_audit_for(&auditor, &mut whole);
        assert_eq!(whole, trail);
    }

    #[test]
    fn search_grams_are_the_distinct_pairs_of_characters() {
        assert_eq!(search_grams("anna"), ["an", "nn", "na"]);
        assert_eq!(search_grams("陳小明"), ["陳小", "小明"]);
        assert_eq!(search_grams("ab ab"), ["ab", "b ", " a"]);
        assert!(search_grams("x").is_empty());
    }

    fn person() -> pb::Party {
        pb::Party {
            kind: PartyKind::Person as i32,
            given_name: " Ada ".into(),
            family_name: "Lovelace".into(),
            contact_points: vec![
                pb::ContactPoint {
                    kind: ContactPointKind::Email as i32,
                    value: "Ada@Example.com".into(),
                    ..Default::default()
                },
                pb::ContactPoint {
                    kind: ContactPointKind::Phone as i32,
                    value: "+44 20 7946 0000".into(),
                    ..Default::default()
                },
            ],
            tags: vec!["VIP".into(), "vip".into(), "math".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_person_normalises() {
        let mut p = person();
        assert!(validate(&p).is_empty());
        normalise(&mut p);
        assert_eq!(p.display_name, "Ada Lovelace");
        assert_eq!(p.contact_points[0].normalized, "ada@example.com");
        assert_eq!(p.contact_points[1].normalized, "442079460000");
        assert!(
            p.contact_points.iter().all(|c| c.primary),
            "first of each kind becomes primary"
        );
        assert_eq!(p.tags, vec!["math", "vip"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut p = person();
        p.given_name.clear();
        p.family_name.clear();
        p.contact_points[0].value = "not-an-email".into();
        p.birth_date = "1815-13-10".into();
        p.attributes.insert("Bad Key".into(), "x".into());
        p.region_code = "eu west".into();
        let fields: Vec<String> = validate(&p).iter().map(|(f, _)| f.clone()).collect();
        for expected in [
            "given_name",
            "contact_points[0].value",
            "birth_date",
            "attributes[Bad Key]",
            "region_code",
        ] {
            assert!(
                fields.contains(&expected.to_string()),
                "{expected} missing from {fields:?}"
            );
        }
        let org = pb::Party {
            kind: PartyKind::Organization as i32,
            ..Default::default()
        };
        assert!(validate(&org).iter().any(|(f, _)| f == "organization_name"));
        assert!(validate(&pb::Party::default()).iter().any(|(f, _)| f == "kind"));
    }

    #[test]
    fn masks_apply_only_named_fields() {
        let current = person();
        let patch = pb::Party {
            industry: "Computing".into(),
            family_name: "Byron".into(),
            ..Default::default()
        };
        let next = apply_mask(&current, &patch, &["industry".into()]).unwrap();
        assert_eq!(next.industry, "Computing");
        assert_eq!(next.family_name, "Lovelace");
        let err = apply_mask(&current, &patch, &["id".into(), "industry".into()]).unwrap_err();
        assert_eq!(err.iter().count(), 1);
        assert!(apply_mask(&current, &patch, &[]).is_err());
        assert_eq!(changed_fields(&current, &next), vec!["industry"]);
    }

    #[test]
    fn customers_see_only_themselves_without_internal_fields() {
        let mut p = person();
        p.id = "c1".into();
        p.owner_id = "rep".into();
        let me = Principal {
            user_id: "u".into(),
            roles: vec![Role::Customer],
            customer_id: Some("c1".into()),
            ..Default::default()
        };
        let other = Principal {
            customer_id: Some("c2".into()),
            ..me.clone()
        };
        assert!(may_read(&me, &p));
        assert!(!may_read(&other, &p));
        assert!(!may_write(&me, &p));
        redact_for(&me, &mut p);
        assert!(p.owner_id.is_empty() && p.tags.is_empty());
    }

    #[test]
    fn write_rules_follow_ownership() {
        let mut p = person();
        p.owner_id = "alice".into();
        p.team_id = "north".into();
        let rep = |user: &str| Principal {
            user_id: user.into(),
            roles: vec![Role::SalesRep],
            ..Default::default()
        };
        assert!(may_write(&rep("alice"), &p));
        assert!(!may_write(&rep("bob"), &p));
        let manager = Principal {
            user_id: "m".into(),
            roles: vec![Role::SalesManager],
            team_id: Some("north".into()),
            ..Default::default()
        };
        assert!(may_write(&manager, &p));
        p.owner_id.clear();
        p.team_id.clear();
        assert!(
            may_write(&rep("bob"), &p),
            "unowned parties can be worked by any writer"
        );
    }
}
