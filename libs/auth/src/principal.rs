use std::fmt;
use std::str::FromStr;

/// A role carried in a token's `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including competitor records and configuration.
    Admin,
    /// A salesperson: own and territory records.
    SalesRep,
    /// A sales manager: the team's records.
    SalesManager,
    /// Marketing: campaigns, segments, the marketing view.
    Marketer,
    /// Service desk agent.
    ServiceAgent,
    /// Service desk manager.
    ServiceManager,
    /// A channel manager: the partner channel (partners, targets, scorecards, the portal's
    /// catalog, roadmap and deal registrations) and the products partners sell.
    ChannelManager,
    /// A user of a channel partner: only that partner's data.
    PartnerUser,
    /// A customer using self-service: only their own records.
    Customer,
    /// Read-only access to everything, including the audit trail.
    Auditor,
    /// Another service of the suite calling on its own behalf.
    Service,
    /// Brings data in and out in bulk (imports, exports); reads every record.
    DataSteward,
}

impl Role {
    /// Every role, for help texts and validation.
    pub const ALL: [Role; 12] = [
        Role::Admin,
        Role::SalesRep,
        Role::SalesManager,
        Role::Marketer,
        Role::ServiceAgent,
        Role::ServiceManager,
        Role::ChannelManager,
        Role::PartnerUser,
        Role::Customer,
        Role::Auditor,
        Role::Service,
        Role::DataSteward,
    ];

    /// The name used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SalesRep => "sales_rep",
            Role::SalesManager => "sales_manager",
            Role::Marketer => "marketer",
            Role::ServiceAgent => "service_agent",
            Role::ServiceManager => "service_manager",
            Role::ChannelManager => "channel_manager",
            Role::PartnerUser => "partner_user",
            Role::Customer => "customer",
            Role::Auditor => "auditor",
            Role::Service => "service",
            Role::DataSteward => "data_steward",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// The authenticated caller. Its `Debug` leaves the bearer token out, so that a logged principal
/// cannot be replayed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// Subject of the token.
    pub user_id: String,
    /// Roles granted.
    pub roles: Vec<Role>,
    /// Sales or service team.
    pub team_id: Option<String>,
    /// Sales territories.
    pub territories: Vec<String>,
    /// Set for partner users.
    pub partner_id: Option<String>,
    /// Set for customers (the party id of their own record).
    pub customer_id: Option<String>,
    /// The bearer token the principal authenticated with, forwarded on calls to other services
    /// so that each applies its own rules to the same caller.
    pub bearer: Option<String>,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("user_id", &self.user_id)
            .field("roles", &self.roles)
            .field("team_id", &self.team_id)
            .field("territories", &self.territories)
            .field("partner_id", &self.partner_id)
            .field("customer_id", &self.customer_id)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Who a record belongs to, for record rules. Empty fields do not match anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordScope<'a> {
    /// Owning user.
    pub owner_id: Option<&'a str>,
    /// Owning team.
    pub team_id: Option<&'a str>,
    /// Sales territory.
    pub territory: Option<&'a str>,
    /// Serving partner.
    pub partner_id: Option<&'a str>,
    /// The customer the record is about.
    pub customer_id: Option<&'a str>,
}

impl Principal {
    /// True when the principal holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True when the principal holds any of `roles`.
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has_role(*r))
    }

    /// True for administrators.
    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }

    /// The record rules: may this principal see (and, with a write role, change) a record?
    ///
    /// Administrators, auditors, data stewards and services see everything; `see_all` lists further roles that
    /// see every record of this kind (e.g. service agents reading any customer). Otherwise a
    /// sales manager sees the team's records, a sales rep their own and their territories', a
    /// partner user its partner's, and a customer only records about themselves.
    pub fn may_see(&self, record: &RecordScope<'_>, see_all: &[Role]) -> bool {
        if self.has_any_role(&[Role::Admin, Role::Auditor, Role::Service, Role::DataSteward])
            || self.has_any_role(see_all)
        {
            return true;
        }
        let eq = |a: Option<&str>, b: Option<&str>| matches!((a, b), (Some(a), Some(b)) if !a.is_empty() && a == b);
        let own = eq(record.owner_id, Some(self.user_id.as_str()));
        if self.has_role(Role::SalesManager) && (own || eq(record.team_id, self.team_id.as_deref())) {
            return true;
        }
        if self.has_role(Role::SalesRep)
            && (own
                || record
                    .territory
                    .is_some_and(|t| !t.is_empty() && self.territories.iter().any(|mine| mine == t)))
        {
            return true;
        }
        if self.has_role(Role::PartnerUser) && eq(record.partner_id, self.partner_id.as_deref()) {
            return true;
        }
        if self.has_role(Role::Customer) && eq(record.customer_id, self.customer_id.as_deref()) {
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role]) -> Principal {
        Principal {
            user_id: "u1".into(),
            roles: roles.to_vec(),
            team_id: Some("t1".into()),
            territories: vec!["north".into()],
            partner_id: Some("p1".into()),
            customer_id: Some("c1".into()),
            bearer: None,
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let mut p = principal(&[Role::Admin]);
        p.bearer = Some("eyJhbGciOiJIUzI1NiJ9.secret-claims.signature".into());
        let shown = format!("{p:?}");
        assert!(!shown.contains("eyJ") && !shown.contains("signature"), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("u1"), "{shown}");
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn record_rules() {
        let other = RecordScope {
            owner_id: Some("u2"),
            team_id: Some("t2"),
            ..Default::default()
        };
        let team = RecordScope {
            owner_id: Some("u2"),
            team_id: Some("t1"),
            ..Default::default()
        };
        let own = RecordScope {
            owner_id: Some("u1"),
            ..Default::default()
        };
        let territory = RecordScope {
            territory: Some("north"),
            ..Default::default()
        };
        assert!(principal(&[Role::Admin]).may_see(&other, &[]));
        assert!(principal(&[Role::SalesManager]).may_see(&team, &[]));
        assert!(!principal(&[Role::SalesManager]).may_see(&other, &[]));
        assert!(principal(&[Role::SalesRep]).may_see(&own, &[]));
        assert!(principal(&[Role::SalesRep]).may_see(&territory, &[]));
        assert!(!principal(&[Role::SalesRep]).may_see(&team, &[]));
        assert!(principal(&[Role::ServiceAgent]).may_see(&other, &[Role::ServiceAgent]));
        let mine = RecordScope {
            customer_id: Some("c1"),
            ..Default::default()
        };
        let theirs = RecordScope {
            customer_id: Some("c2"),
            ..Default::default()
        };
        assert!(principal(&[Role::Customer]).may_see(&mine, &[]));
        assert!(!principal(&[Role::Customer]).may_see(&theirs, &[]));
        // An empty territory claim does not match records outside any territory.
        let mut blank = principal(&[Role::SalesRep]);
        blank.territories = vec![String::new()];
        let no_territory = RecordScope {
            owner_id: Some("u2"),
            territory: Some(""),
            ..Default::default()
        };
        assert!(!blank.may_see(&no_territory, &[]));
        let empty = RecordScope::default();
        let mut nobody = principal(&[Role::SalesRep]);
        nobody.user_id.clear();
        assert!(!nobody.may_see(&empty, &[]));
    }
}
