//! Validation of sales records and the record rules.

use std::collections::HashSet;

use crm_auth::{Principal, RecordScope, Role};
use crm_platform::Violations;
use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;

/// A calendar date `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// An active ISO 4217 currency code.
pub use crm_platform::money::is_currency;

/// `[a-z][a-z0-9_]*`, up to 32 characters.
pub fn is_code(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn text(v: &mut Violations, field: &str, value: &str, required: bool, max: usize) {
    if required && value.trim().is_empty() {
        v.add(field, "required");
    } else if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
}

/// Checks a product. Field paths are prefixed with `product.`.
pub fn validate_product(p: &pb::Product) -> Violations {
    let mut v = Violations::new();
    let sku_ok = !p.sku.is_empty()
        && p.sku.len() <= 64
        && p.sku
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_');
    v.check(
        !sku_ok,
        "product.sku",
        "upper-case letters, digits, '-' and '_', up to 64",
    );
    text(&mut v, "product.name", &p.name, true, 200);
    text(&mut v, "product.description", &p.description, false, 4000);
    text(&mut v, "product.product_line", &p.product_line, false, 64);
    text(&mut v, "product.category", &p.category, false, 64);
    text(&mut v, "product.unit", &p.unit, false, 32);
    if let Some(cost) = &p.unit_cost {
        v.check(
            cost.amount_minor < 0,
            "product.unit_cost.amount_minor",
            "must not be negative",
        );
        v.check(
            cost.currency_code.len() != 3,
            "product.unit_cost.currency_code",
            "an ISO 4217 code",
        );
    }
    v
}

/// Checks a money amount: present, non-negative, with a currency code.
pub fn check_money(v: &mut Violations, field: &str, m: &Option<Money>) {
    match m {
        None => v.add(field, "required"),
        Some(m) => {
            v.check(
                m.amount_minor < 0,
                format!("{field}.amount_minor"),
                "must not be negative",
            );
            v.check(
                !is_currency(&m.currency_code),
                format!("{field}.currency_code"),
                "an ISO 4217 code such as USD",
            );
        }
    }
}

/// Checks a lead. Field paths are prefixed with `lead.`.
pub fn validate_lead(l: &pb::Lead) -> Violations {
    let mut v = Violations::new();
    v.check(
        matches!(
            pb::LeadSource::try_from(l.source),
            Err(_) | Ok(pb::LeadSource::Unspecified)
        ),
        "lead.source",
        "CAMPAIGN, PARTNER, WEB or MANUAL",
    );
    v.check(
        l.party_id.is_empty() && l.company_name.trim().is_empty() && l.contact_name.trim().is_empty(),
        "lead.contact_name",
        "a lead needs a party, a company name or a contact name",
    );
    text(&mut v, "lead.company_name", &l.company_name, false, 200);
    text(&mut v, "lead.contact_name", &l.contact_name, false, 200);
    text(&mut v, "lead.source_ref", &l.source_ref, false, 200);
    text(&mut v, "lead.notes", &l.notes, false, 4000);
    v.check(
        !l.email.is_empty()
            && (l.email.matches('@').count() != 1 || l.email.contains(' ') || l.email.len() > 254),
        "lead.email",
        "not an email address",
    );
    v.check(
        !l.phone.is_empty() && !(7..=15).contains(&l.phone.chars().filter(char::is_ascii_digit).count()),
        "lead.phone",
        "not a phone number",
    );
    v.check(!(0..=100).contains(&l.score), "lead.score", "0 to 100");
    v
}

/// Checks the pipeline: unique lower_snake codes, names, probabilities 0..=10000, at least one
/// open stage, exactly one won and one lost stage, and closing stages after the open ones.
pub fn validate_pipeline(stages: &[pb::PipelineStage]) -> Violations {
    let mut v = Violations::new();
    let mut codes = HashSet::new();
    for (i, s) in stages.iter().enumerate() {
        v.check(
            !is_code(&s.code),
            format!("stages[{i}].code"),
            "lower_snake_case, up to 32",
        );
        v.check(
            !codes.insert(s.code.as_str()),
            format!("stages[{i}].code"),
            "used twice",
        );
        text(&mut v, &format!("stages[{i}].name"), &s.name, true, 100);
        v.check(
            !(0..=10_000).contains(&s.win_probability_bps),
            format!("stages[{i}].win_probability_bps"),
            "0 to 10000",
        );
        v.check(
            s.is_won && s.is_lost,
            format!("stages[{i}]"),
            "a stage cannot be both won and lost",
        );
    }
    let won = stages.iter().filter(|s| s.is_won).count();
    let lost = stages.iter().filter(|s| s.is_lost).count();
    // Counted apart: a stage marked both won and lost (refused above) is neither open nor one.
    let open = stages.iter().filter(|s| !s.is_won && !s.is_lost).count();
    v.check(
        won != 1 || lost != 1,
        "stages",
        "exactly one won and one lost stage",
    );
    v.check(open == 0, "stages", "at least one open stage");
    let first_closed = stages
        .iter()
        .position(|s| s.is_won || s.is_lost)
        .unwrap_or(stages.len());
    v.check(
        stages[first_closed..].iter().any(|s| !s.is_won && !s.is_lost),
        "stages",
        "open stages come before the won and lost stages",
    );
    v
}

/// Checks the client-settable fields of an opportunity. Field paths are prefixed with
/// `opportunity.`.
pub fn validate_opportunity(o: &pb::Opportunity) -> Violations {
    let mut v = Violations::new();
    text(&mut v, "opportunity.name", &o.name, true, 200);
    v.check(o.party_id.is_empty(), "opportunity.party_id", "required");
    check_money(&mut v, "opportunity.amount", &o.amount);
    v.check(
        !is_date(&o.expected_close_date),
        "opportunity.expected_close_date",
        "a date YYYY-MM-DD",
    );
    text(&mut v, "opportunity.next_step", &o.next_step, false, 500);
    v.check(
        o.competitor_ids.len() > 20,
        "opportunity.competitor_ids",
        "at most 20",
    );
    for (i, p) in o.products.iter().enumerate() {
        v.check(
            p.product_id.is_empty(),
            format!("opportunity.products[{i}].product_id"),
            "required",
        );
        v.check(
            !(1..=1_000_000).contains(&p.quantity),
            format!("opportunity.products[{i}].quantity"),
            "1 to 1000000",
        );
    }
    v
}

/// Checks an activity. Field paths are prefixed with `activity.`.
pub fn validate_activity(a: &pb::Activity) -> Violations {
    let mut v = Violations::new();
    v.check(
        matches!(
            pb::ActivityKind::try_from(a.kind),
            Err(_) | Ok(pb::ActivityKind::Unspecified)
        ),
        "activity.kind",
        "CALL, MEETING, VISIT or EMAIL",
    );
    text(&mut v, "activity.subject", &a.subject, true, 200);
    text(&mut v, "activity.notes", &a.notes, false, 4000);
    text(&mut v, "activity.outcome", &a.outcome, false, 500);
    v.check(
        a.party_id.is_empty() && a.opportunity_id.is_empty(),
        "activity.party_id",
        "an activity concerns a party, an opportunity or both",
    );
    v.check(
        !(0..=24 * 60).contains(&a.duration_minutes),
        "activity.duration_minutes",
        "0 to 1440",
    );
    v
}

/// Roles that read every sales record.
pub const READ_ALL: &[Role] = &[Role::Marketer, Role::ServiceAgent, Role::ServiceManager];

/// The record rules: administrators, auditors and services see every record; a sales manager the
/// team's; a rep their own and their territories'.
pub fn may_read(principal: &Principal, owner_id: &str, team_id: &str, territory: &str) -> bool {
    principal.may_see(
        &RecordScope {
            owner_id: Some(owner_id),
            team_id: Some(team_id),
            territory: Some(territory),
            ..Default::default()
        },
        READ_ALL,
    )
}

/// Whether `principal` reads every sales record (the roles [`Principal::may_see`] lets see
/// everything, and [`READ_ALL`]).
fn reads_every_record(principal: &Principal) -> bool {
    principal.has_any_role(&[Role::Admin, Role::Auditor, Role::Service, Role::DataSteward])
        || principal.has_any_role(READ_ALL)
}

/// The records in territories (opportunities) a principal may read, as the keys a statement
/// reads them by: [`may_read`] in SQL, so that a list's page is read from indexes and holds only
/// what the principal may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisibleRecords {
    /// Every record.
    All,
    /// The records whose column equals the value, for any of these (column, value) pairs; none
    /// when empty.
    Where(Vec<(&'static str, String)>),
}

impl VisibleRecords {
    /// The records `principal` may read: a manager's own and team's, a rep's own and their
    /// territories'.
    pub fn of(principal: &Principal) -> Self {
        if reads_every_record(principal) {
            return VisibleRecords::All;
        }
        let (manager, rep) = (
            principal.has_role(Role::SalesManager),
            principal.has_role(Role::SalesRep),
        );
        let mut keys = Vec::new();
        if (manager || rep) && !principal.user_id.is_empty() {
            keys.push(("owner_id", principal.user_id.clone()));
        }
        if manager && let Some(team) = principal.team_id.as_ref().filter(|t| !t.is_empty()) {
            keys.push(("team_id", team.clone()));
        }
        if rep {
            for territory in principal.territories.iter().filter(|t| !t.is_empty()) {
                keys.push(("territory_id", territory.clone()));
            }
        }
        keys.sort();
        keys.dedup();
        VisibleRecords::Where(keys)
    }

    /// Whether a record of `owner_id`, `team_id` and `territory` is among these (what a list's
    /// statement reads, in Rust).
    pub fn admits(&self, owner_id: &str, team_id: &str, territory: &str) -> bool {
        match self {
            VisibleRecords::All => true,
            VisibleRecords::Where(keys) => keys.iter().any(|(column, value)| {
                let field = match *column {
                    "owner_id" => owner_id,
                    "team_id" => team_id,
                    _ => territory,
                };
                field == value
            }),
        }
    }

    /// The same for records outside any territory (leads): without the territory keys.
    pub fn outside_territories(self) -> Self {
        match self {
            VisibleRecords::All => VisibleRecords::All,
            VisibleRecords::Where(mut keys) => {
                keys.retain(|(column, _)| *column != "territory_id");
                VisibleRecords::Where(keys)
            }
        }
    }
}

/// The records outside any territory (orders) a principal may read, as a filter a statement
/// applies: [`may_read`] for such records, so that a figure adds up exactly the records a list
/// would show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// Every record.
    All,
    /// Those the user owns, and with a team, the team's.
    Owned {
        /// The user.
        user_id: String,
        /// A sales manager's team.
        team_id: Option<String>,
    },
    /// None.
    Nothing,
}

impl ReadScope {
    /// The scope of `principal`.
    pub fn of(principal: &Principal) -> Self {
        if reads_every_record(principal) {
            return ReadScope::All;
        }
        if principal.user_id.is_empty() || !principal.has_any_role(&[Role::SalesManager, Role::SalesRep]) {
            return ReadScope::Nothing;
        }
        let team_id = principal
            .team_id
            .clone()
            .filter(|t| !t.is_empty() && principal.has_role(Role::SalesManager));
        ReadScope::Owned {
            user_id: principal.user_id.clone(),
            team_id,
        }
    }

    /// The scope as the keys a list reads by.
    pub fn visible(&self) -> VisibleRecords {
        match self {
            ReadScope::All => VisibleRecords::All,
            ReadScope::Owned { user_id, team_id } => VisibleRecords::Where(
                std::iter::once(("owner_id", user_id.clone()))
                    .chain(team_id.clone().map(|team| ("team_id", team)))
                    .collect(),
            ),
            ReadScope::Nothing => VisibleRecords::Where(Vec::new()),
        }
    }

    /// Whether a record of `owner_id` and `team_id` is in the scope (what the statement's filter
    /// says, in Rust).
    pub fn admits(&self, owner_id: &str, team_id: &str) -> bool {
        match self {
            ReadScope::All => true,
            ReadScope::Owned {
                user_id,
                team_id: team,
            } => owner_id == user_id || team.as_deref().is_some_and(|t| t == team_id),
            ReadScope::Nothing => false,
        }
    }
}

/// Whether `principal` may change a record: as reading, minus the read-only roles; records
/// nobody owns yet can be worked by any seller.
pub fn may_write(principal: &Principal, owner_id: &str, team_id: &str, territory: &str) -> bool {
    if owner_id.is_empty() && team_id.is_empty() {
        return principal.has_any_role(crate::policy::SELLERS);
    }
    principal.may_see(
        &RecordScope {
            owner_id: Some(owner_id),
            team_id: Some(team_id),
            territory: Some(territory),
            ..Default::default()
        },
        &[],
    ) && !principal.has_role(Role::Auditor)
}

/// The owner, team and territory a caller gives a record (on creation, or the fields an update
/// changes); `None` or empty for what it leaves alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Assignment<'a> {
    /// The owning user.
    pub owner_id: Option<&'a str>,
    /// The owning team.
    pub team_id: Option<&'a str>,
    /// The sales territory.
    pub territory_id: Option<&'a str>,
}

/// The first field of `to` that `principal` may not assign, if any. Administrators, data
/// stewards and services assign freely; a sales manager within their own team (a record with no
/// team only to themselves); a rep only to themselves, their team and their territories.
/// Without this a writer could hand a record to a team or territory they cannot see.
pub fn out_of_assignment_scope(principal: &Principal, to: &Assignment<'_>) -> Option<&'static str> {
    if principal.has_any_role(&[Role::Admin, Role::DataSteward, Role::Service]) {
        return None;
    }
    fn given(v: Option<&str>) -> Option<&str> {
        v.filter(|v| !v.is_empty())
    }
    let team = principal.team_id.as_deref().filter(|t| !t.is_empty());
    let manager = principal.has_role(Role::SalesManager);
    if let Some(t) = given(to.team_id)
        && Some(t) != team
    {
        return Some("team_id");
    }
    if let Some(owner) = given(to.owner_id)
        && owner != principal.user_id
        && !(manager && team.is_some())
    {
        return Some("owner_id");
    }
    if let Some(territory) = given(to.territory_id)
        && !manager
        && !principal
            .territories
            .iter()
            .any(|t| !t.is_empty() && t == territory)
    {
        return Some("territory_id");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_assign_only_within_their_scope() {
        let rep = Principal {
            user_id: "rep-1".into(),
            roles: vec![Role::SalesRep],
            team_id: Some("north".into()),
            territories: vec!["t-north".into()],
            ..Default::default()
        };
        let manager = Principal {
            user_id: "mgr-1".into(),
            roles: vec![Role::SalesManager],
            team_id: Some("north".into()),
            ..Default::default()
        };
        let to = |owner, team, territory| Assignment {
            owner_id: Some(owner),
            team_id: Some(team),
            territory_id: Some(territory),
        };
        assert_eq!(
            out_of_assignment_scope(&rep, &to("rep-1", "north", "t-north")),
            None
        );
        assert_eq!(out_of_assignment_scope(&rep, &to("", "", "")), None);
        assert_eq!(
            out_of_assignment_scope(&rep, &to("rep-2", "north", "")),
            Some("owner_id")
        );
        assert_eq!(
            out_of_assignment_scope(&rep, &to("rep-1", "south", "")),
            Some("team_id")
        );
        assert_eq!(
            out_of_assignment_scope(&rep, &to("rep-1", "north", "t-south")),
            Some("territory_id")
        );
        assert_eq!(
            out_of_assignment_scope(&manager, &to("rep-2", "north", "t-south")),
            None
        );
        assert_eq!(
            out_of_assignment_scope(&manager, &to("rep-2", "south", "")),
            Some("team_id")
        );
        let teamless = Principal {
            team_id: None,
            ..manager.clone()
        };
        assert_eq!(
            out_of_assignment_scope(&teamless, &to("rep-2", "", "")),
            Some("owner_id")
        );
        let admin = Principal {
            roles: vec![Role::Admin],
            ..rep.clone()
        };
        assert_eq!(out_of_assignment_scope(&admin, &to("x", "y", "z")), None);
        // An empty territory claim is no territory.
        let blank = Principal {
            territories: vec![String::new()],
            ..rep
        };
        assert_eq!(out_of_assignment_scope(&blank, &to("rep-1", "north", "")), None);
        assert_eq!(
            out_of_assignment_scope(&blank, &to("rep-1", "north", " ")),
            Some("territory_id")
        );
    }

    fn seller(roles: &[Role], team: Option<&str>, territories: &[&str]) -> Principal {
        Principal {
            user_id: "u1".into(),
            roles: roles.to_vec(),
            team_id: team.map(String::from),
            territories: territories.iter().map(|t| t.to_string()).collect(),
            partner_id: Some("p1".into()),
            customer_id: Some("c1".into()),
            bearer: None,
        }
    }

    /// Each role alone, and a rep who also manages.
    fn role_sets() -> Vec<Vec<Role>> {
        Role::ALL
            .iter()
            .map(|r| vec![*r])
            .chain([vec![Role::SalesRep, Role::SalesManager]])
            .collect()
    }

    #[test]
    fn the_read_scope_admits_what_may_read_allows() {
        for roles in &role_sets() {
            for team in [None, Some(""), Some("t1")] {
                let p = seller(roles, team, &["north"]);
                let scope = ReadScope::of(&p);
                for (owner, record_team) in [("u1", ""), ("u2", "t1"), ("u2", "t2"), ("", ""), ("", "t1")] {
                    assert_eq!(
                        scope.admits(owner, record_team),
                        may_read(&p, owner, record_team, ""),
                        "{roles:?} in team {team:?}, a record of {owner:?} in {record_team:?}"
                    );
                    assert_eq!(
                        scope.visible().admits(owner, record_team, ""),
                        scope.admits(owner, record_team)
                    );
                }
            }
        }
    }

    #[test]
    fn the_visible_records_are_what_may_read_allows() {
        let records = [
            ("u1", "", ""),
            ("u2", "t1", ""),
            ("u2", "t2", "north"),
            ("u2", "", "south"),
            ("", "", ""),
            ("", "t1", "north"),
        ];
        for roles in &role_sets() {
            for team in [None, Some(""), Some("t1")] {
                for territories in [&[][..], &[""], &["north"], &["north", "south"]] {
                    let p = seller(roles, team, territories);
                    let (visible, outside) = (
                        VisibleRecords::of(&p),
                        VisibleRecords::of(&p).outside_territories(),
                    );
                    for (owner, record_team, territory) in records {
                        assert_eq!(
                            visible.admits(owner, record_team, territory),
                            may_read(&p, owner, record_team, territory),
                            "{roles:?} in team {team:?} of {territories:?}: {owner:?} {record_team:?} {territory:?}"
                        );
                        assert_eq!(
                            outside.admits(owner, record_team, territory),
                            may_read(&p, owner, record_team, ""),
                            "{roles:?} in team {team:?}: {owner:?} {record_team:?} outside territories"
                        );
                    }
                }
            }
        }
    }

    fn stage(code: &str, won: bool, lost: bool) -> pb::PipelineStage {
        pb::PipelineStage {
            code: code.into(),
            name: code.into(),
            win_probability_bps: 0,
            is_won: won,
            is_lost: lost,
        }
    }

    #[test]
    fn pipeline_rules() {
        let good = [
            stage("a", false, false),
            stage("won", true, false),
            stage("lost", false, true),
        ];
        assert!(validate_pipeline(&good).is_empty());
        let closed_first = [
            stage("won", true, false),
            stage("a", false, false),
            stage("lost", false, true),
        ];
        assert!(
            validate_pipeline(&closed_first)
                .iter()
                .any(|(f, _)| f == "stages")
        );
        let dup = [
            stage("a", false, false),
            stage("a", true, false),
            stage("lost", false, true),
        ];
        assert!(validate_pipeline(&dup).iter().any(|(f, _)| f == "stages[1].code"));
        assert!(validate_pipeline(&[]).iter().any(|(f, _)| f == "stages"));
    }

    #[test]
    fn record_rules() {
        let rep = Principal {
            user_id: "alice".into(),
            roles: vec![Role::SalesRep],
            ..Default::default()
        };
        assert!(may_write(&rep, "alice", "", ""));
        assert!(!may_write(&rep, "bob", "north", ""));
        assert!(!may_read(&rep, "bob", "north", ""));
        let manager = Principal {
            user_id: "m".into(),
            roles: vec![Role::SalesManager],
            team_id: Some("north".into()),
            ..Default::default()
        };
        assert!(may_write(&manager, "bob", "north", ""));
        let auditor = Principal {
            user_id: "a".into(),
            roles: vec![Role::Auditor],
            ..Default::default()
        };
        assert!(may_read(&auditor, "bob", "north", ""));
        assert!(!may_write(&auditor, "bob", "north", ""));
    }
}
