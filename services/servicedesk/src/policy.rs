//! Who may call which service-desk RPC. Customers reach their own cases only; the handlers
//! enforce that record rule.

use crm_auth::{Policy, Role};

/// The service-desk service.
pub const SERVICEDESK: &str = "crm.servicedesk.v1.ServiceDeskService";

/// The access table of the service desk.
pub fn policy() -> Policy {
    let managers = [Role::Admin, Role::ServiceManager, Role::Service];
    let staff = [
        Role::Admin,
        Role::ServiceManager,
        Role::ServiceAgent,
        Role::Service,
    ];
    let readers = [
        Role::Admin,
        Role::ServiceManager,
        Role::ServiceAgent,
        Role::Service,
        Role::Auditor,
    ];
    let with_customers = [
        Role::Admin,
        Role::ServiceManager,
        Role::ServiceAgent,
        Role::Service,
        Role::Customer,
    ];
    let readers_and_customers = [
        Role::Admin,
        Role::ServiceManager,
        Role::ServiceAgent,
        Role::Service,
        Role::Auditor,
        Role::Customer,
    ];
    Policy::new()
        .rpcs(
            SERVICEDESK,
            &[
                "CreateQueue",
                "UpdateQueue",
                "UpsertAgent",
                "UpsertArticle",
                "RunEscalations",
                "DeliverNotifications",
                "SetSlaPolicy",
            ],
            &managers,
        )
        .rpcs(
            SERVICEDESK,
            &[
                "ListQueues",
                "ListAgents",
                "ListEscalations",
                "GetServiceReport",
                "ListNotifications",
                "ListSlaPolicies",
                "ListWatches",
            ],
            &readers,
        )
        .rpcs(
            SERVICEDESK,
            &[
                "AssignCase",
                "UpdateCase",
                "TransferCase",
                "UpdateAsset",
                "WatchCustomer",
                "UnwatchCustomer",
                "IdentifyCaller",
                "SuggestArticles",
                "CreateCallList",
                "GetCallList",
                "ListCallLists",
                "RecordCallOutcome",
            ],
            &staff,
        )
        .rpcs(
            SERVICEDESK,
            &[
                "OpenCase",
                "AddComment",
                "RateCase",
                "ChangeCaseStatus",
                "RegisterAsset",
            ],
            &with_customers,
        )
        .rpcs(
            SERVICEDESK,
            &["GetCase", "ListCases", "SearchArticles", "GetAsset", "ListAssets"],
            &readers_and_customers,
        )
        .rpcs(
            SERVICEDESK,
            &["ImportCases", "ImportArticles"],
            &[Role::Admin, Role::DataSteward],
        )
        .rpcs(
            SERVICEDESK,
            &["ExportCases"],
            &[
                Role::Admin,
                Role::ServiceManager,
                Role::ServiceAgent,
                Role::Auditor,
                Role::DataSteward,
            ],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_is_declared() {
        let coverage = crm_platform::served::policy_coverage(&policy(), "/crm.servicedesk.v1.");
        assert!(
            coverage.undeclared.is_empty(),
            "no access rule: {:?}",
            coverage.undeclared
        );
        assert_eq!(coverage.rpcs, 39);
    }
}
