//! Who may call which RPC. Record and field rules are applied by the handlers (see
//! [`crate::api::rules`]).

use crm_auth::{Access, Policy, Role};

/// The gRPC service name.
pub const SERVICE: &str = "crm.customers.v1.CustomersService";

/// Roles of the staff who work with customer records.
pub const STAFF: &[Role] = &[
    Role::Admin,
    Role::Auditor,
    Role::SalesRep,
    Role::SalesManager,
    Role::Marketer,
    Role::ServiceAgent,
    Role::ServiceManager,
    Role::Service,
    Role::DataSteward,
];

/// Roles that bring data in and out in bulk.
pub const BULK: &[Role] = &[Role::Admin, Role::DataSteward];

/// Roles that create and change parties and relationships (record rules narrow them further).
pub const WRITERS: &[Role] = &[
    Role::Admin,
    Role::SalesRep,
    Role::SalesManager,
    Role::Marketer,
    Role::ServiceAgent,
    Role::ServiceManager,
    Role::Service,
];

/// The access table of the customers service.
pub fn policy() -> Policy {
    let readers_and_customers: Vec<Role> = STAFF.iter().copied().chain([Role::Customer]).collect();
    Policy::new()
        .rpcs(
            SERVICE,
            &["GetParty", "ExportParty", "ExportPartyStream"],
            &readers_and_customers,
        )
        .rpcs(
            SERVICE,
            &[
                "ListParties",
                "SearchParties",
                "ListRelationships",
                "ListNeighbours",
                "FindShortestPath",
                "GetGroupTree",
                "GetValuePyramid",
                "GetValueTierConfig",
                "GetTierMigration",
                "GetCohortRetention",
                "GetBaseTrends",
                "GetPenetration",
                "ListRegions",
            ],
            STAFF,
        )
        .rpcs(
            SERVICE,
            &["CreateParty", "CreateRelationship", "DeleteRelationship"],
            WRITERS,
        )
        // Customers confirm or correct their own contact data (see api::rules::self_service).
        .rpcs(
            SERVICE,
            &["UpdateParty", "VerifyParty"],
            &WRITERS
                .iter()
                .copied()
                .chain([Role::Customer])
                .collect::<Vec<_>>(),
        )
        .rpcs(
            SERVICE,
            &["ListVerificationDue"],
            &[
                Role::Admin,
                Role::SalesManager,
                Role::SalesRep,
                Role::ServiceManager,
                Role::ServiceAgent,
            ],
        )
        .rpcs(
            SERVICE,
            &["FindDuplicates", "MergeParties"],
            &[Role::Admin, Role::SalesManager],
        )
        .rpcs(
            SERVICE,
            &[
                "SetPartyValue",
                "RecomputeValueTiers",
                "UpdateValueTierConfig",
                "UpsertRegion",
            ],
            &[Role::Admin, Role::Service],
        )
        .rpcs(SERVICE, &["EraseParty"], &[Role::Admin])
        .rpcs(
            SERVICE,
            &[
                "CreateCompetitor",
                "GetCompetitor",
                "ListCompetitors",
                "UpdateCompetitor",
                "DeleteCompetitor",
            ],
            &[Role::Admin],
        )
        .rpcs(SERVICE, &["ListAuditEntries"], &[Role::Admin, Role::Auditor])
        .rpcs(SERVICE, &["ImportParties", "ImportRelationships"], BULK)
        .rpcs(
            SERVICE,
            &["ResolveExternalIds"],
            &[Role::Admin, Role::DataSteward, Role::Service],
        )
        .rpcs(SERVICE, &["ExportParties"], STAFF)
        .rpc("grpc.health.v1.Health", "Check", Access::Public)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every RPC of the service is declared (undeclared ones are refused to everybody).
    #[test]
    fn every_rpc_is_declared() {
        let coverage = crm_platform::served::policy_coverage(&policy(), &format!("/{SERVICE}/"));
        assert!(
            coverage.undeclared.is_empty(),
            "no access rule: {:?}",
            coverage.undeclared
        );
        assert!(coverage.rpcs > 0);
    }
}
