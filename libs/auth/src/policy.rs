use std::collections::HashMap;

use crate::principal::{Principal, Role};

/// Who may call one RPC.
#[derive(Debug, Clone)]
pub enum Access {
    /// Anyone, without a token (health checks, reflection).
    Public,
    /// Any authenticated principal; the handler applies record rules.
    Authenticated,
    /// Principals holding at least one of these roles.
    Roles(Vec<Role>),
}

/// A service's access table: RPC path (`/package.Service/Method`) to [`Access`].
///
/// Paths not in the table are refused, so a new RPC is closed until it is declared.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: HashMap<String, Access>,
    public_prefixes: Vec<String>,
    prefixes: Vec<(String, Access)>,
}

impl Policy {
    /// A policy with the gRPC health and reflection services public, and every service's call
    /// records (`crm.audit.v1.AuditService`) open to administrators and auditors.
    pub fn new() -> Self {
        let mut rules = HashMap::new();
        rules.insert(
            "/crm.audit.v1.AuditService/ListCallRecords".to_string(),
            Access::Roles(vec![Role::Admin, Role::Auditor]),
        );
        Self {
            rules,
            public_prefixes: vec![
                "/grpc.health.v1.Health/".into(),
                "/grpc.reflection.v1.ServerReflection/".into(),
                "/grpc.reflection.v1alpha.ServerReflection/".into(),
            ],
            prefixes: Vec::new(),
        }
    }

    /// Declares that `method` of `service` (e.g. `crm.customers.v1.CustomersService`) may be
    /// called with `access`.
    pub fn rpc(mut self, service: &str, method: &str, access: Access) -> Self {
        self.rules.insert(format!("/{service}/{method}"), access);
        self
    }

    /// Declares several methods of `service` with the same roles.
    pub fn rpcs(mut self, service: &str, methods: &[&str], roles: &[Role]) -> Self {
        for method in methods {
            self = self.rpc(service, method, Access::Roles(roles.to_vec()));
        }
        self
    }

    /// Declares `access` for every path starting with `prefix` that has no rule of its own (a
    /// gateway forwarding whole packages, e.g. `/crm.sales.v1.`, whose services decide the rest).
    pub fn prefix(mut self, prefix: &str, access: Access) -> Self {
        self.prefixes.push((prefix.to_string(), access));
        self
    }

    /// The access rule of a request path, if declared.
    pub fn access(&self, path: &str) -> Option<&Access> {
        if self.public_prefixes.iter().any(|p| path.starts_with(p.as_str())) {
            return Some(&Access::Public);
        }
        self.rules.get(path).or_else(|| {
            self.prefixes
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                .map(|(_, access)| access)
        })
    }

    /// Whether `principal` may call `path`.
    pub fn allows(&self, path: &str, principal: &Principal) -> bool {
        match self.access(path) {
            Some(Access::Public | Access::Authenticated) => true,
            Some(Access::Roles(roles)) => principal.has_any_role(roles),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_covers_a_package_but_declared_rpcs_and_public_paths_win() {
        let policy = Policy::new()
            .prefix("/crm.sales.v1.", Access::Authenticated)
            .rpcs("crm.sales.v1.CatalogService", &["SetPrice"], &[Role::Admin]);
        let rep = Principal {
            user_id: "rep".into(),
            roles: vec![Role::SalesRep],
            ..Default::default()
        };
        assert!(policy.allows("/crm.sales.v1.OrderService/ListOrders", &rep));
        assert!(!policy.allows("/crm.sales.v1.CatalogService/SetPrice", &rep));
        assert!(!policy.allows("/crm.customers.v1.CustomersService/GetParty", &rep));
        assert!(matches!(
            policy.access("/grpc.health.v1.Health/Check"),
            Some(Access::Public)
        ));
    }
}
