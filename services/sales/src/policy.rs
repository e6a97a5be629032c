//! Who may call which sales RPC. Record rules (own, team) are applied by the handlers.

use crm_auth::{Policy, Role};

/// The catalog service.
pub const CATALOG: &str = "crm.sales.v1.CatalogService";
/// The pipeline service.
pub const PIPELINE: &str = "crm.sales.v1.PipelineService";
/// The order service.
pub const ORDERS: &str = "crm.sales.v1.OrderService";
/// The organisation service.
pub const ORG: &str = "crm.sales.v1.SalesOrgService";
/// The report service.
pub const REPORTS: &str = "crm.sales.v1.SalesReportService";

/// Roles that sell.
pub const SELLERS: &[Role] = &[Role::Admin, Role::SalesRep, Role::SalesManager, Role::Service];

/// Roles that read sales records (record rules narrow what sellers see).
pub const READERS: &[Role] = &[
    Role::Admin,
    Role::SalesRep,
    Role::SalesManager,
    Role::Auditor,
    Role::Marketer,
    Role::ServiceAgent,
    Role::ServiceManager,
    Role::Service,
    Role::DataSteward,
];

/// The access table of the sales service.
pub fn policy() -> Policy {
    // Channel managers and partners see what partners sell, not the sales records.
    let catalog_readers: Vec<Role> = READERS
        .iter()
        .copied()
        .chain([Role::ChannelManager, Role::PartnerUser])
        .collect();
    let lead_writers: Vec<Role> = SELLERS.iter().copied().chain([Role::Marketer]).collect();
    let follow_up: Vec<Role> = SELLERS
        .iter()
        .copied()
        .chain([Role::ServiceAgent, Role::ServiceManager, Role::Marketer])
        .collect();
    Policy::new()
        .rpcs(
            CATALOG,
            &["GetProduct", "ListProducts", "ListPriceBooks", "ListPrices"],
            &catalog_readers,
        )
        .rpcs(
            CATALOG,
            &["CreateProduct", "UpdateProduct", "CreatePriceBook", "SetPrice"],
            &[Role::Admin, Role::SalesManager, Role::Service],
        )
        .rpcs(PIPELINE, &["CreateLead"], &lead_writers)
        .rpcs(
            PIPELINE,
            &[
                "GetLead",
                "ListLeads",
                "GetPipeline",
                "GetOpportunity",
                "ListOpportunities",
                "ExportOpportunities",
                "ListActivities",
            ],
            READERS,
        )
        .rpcs(
            PIPELINE,
            &[
                "QualifyLead",
                "ConvertLead",
                "CreateOpportunity",
                "UpdateOpportunity",
                "MoveOpportunityStage",
                "SetStagePlan",
                "CloseOpportunity",
            ],
            SELLERS,
        )
        // Everyone who meets customers logs what happened and keeps follow-up work.
        .rpcs(PIPELINE, &["LogActivity", "CreateTask", "UpdateTask"], &follow_up)
        .rpcs(
            PIPELINE,
            &["ListTasks"],
            &follow_up
                .iter()
                .copied()
                .chain([Role::Auditor])
                .collect::<Vec<_>>(),
        )
        .rpcs(PIPELINE, &["SendTaskReminders"], &[Role::Admin, Role::Service])
        .rpcs(PIPELINE, &["UpdatePipeline"], &[Role::Admin])
        .rpcs(
            ORDERS,
            &[
                "GetQuote",
                "ListQuotes",
                "GetOrder",
                "ListOrders",
                "SummarizeCustomerOrders",
                "ExportOrders",
            ],
            READERS,
        )
        .rpcs(ORDERS, &["ImportOrders"], &[Role::Admin, Role::DataSteward])
        .rpcs(
            PIPELINE,
            &["ImportLeads", "ImportOpportunities", "ImportActivities"],
            &[Role::Admin, Role::DataSteward],
        )
        .rpcs(CATALOG, &["ImportProducts"], &[Role::Admin, Role::DataSteward])
        .rpcs(
            ORDERS,
            &[
                "CreateQuote",
                "ReviseQuote",
                "SetQuoteStatus",
                "AcceptQuote",
                "PlaceOrder",
                "UpdateOrderStatus",
            ],
            SELLERS,
        )
        .rpcs(
            ORG,
            &[
                "GetOrganization",
                "ListTerritories",
                "GetAccountAssignment",
                "GetAccountReassignment",
                "ListQuotas",
            ],
            READERS,
        )
        .rpcs(
            ORG,
            &[
                "CreateDepartment",
                "CreateTeam",
                "UpsertRep",
                "CreateTerritory",
                "UpdateTerritory",
                "DeleteTerritory",
                "ReassignAccounts",
                "SetQuota",
            ],
            &[Role::Admin, Role::SalesManager, Role::Service],
        )
        .rpcs(
            REPORTS,
            &[
                "GetFunnel",
                "GetForecast",
                "GetWinRate",
                "GetQuotaAttainment",
                "ListAlerts",
                "GetAlertSettings",
            ],
            READERS,
        )
        .rpcs(REPORTS, &["ResolveAlert"], SELLERS)
        .rpcs(
            REPORTS,
            &["EvaluateAlerts", "UpdateAlertSettings"],
            &[Role::Admin, Role::SalesManager, Role::Service],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every RPC of the sales services is declared (undeclared ones are refused to everybody).
    #[test]
    fn every_rpc_is_declared() {
        let coverage = crm_platform::served::policy_coverage(&policy(), "/crm.sales.v1.");
        assert!(
            coverage.undeclared.is_empty(),
            "no access rule: {:?}",
            coverage.undeclared
        );
        assert!(coverage.rpcs > 20);
    }
}
