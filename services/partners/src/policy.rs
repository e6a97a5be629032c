//! Who may call which partners RPC. Partner users are further limited to their own partner and
//! its sub-partners by the handlers.

use crm_auth::{Policy, Role};

/// The gRPC service name.
pub const SERVICE: &str = "crm.partners.v1.PartnerService";
/// The portal service.
pub const PORTAL: &str = "crm.partners.v1.PartnerPortalService";
/// The scorecard service.
pub const SCORECARDS: &str = "crm.partners.v1.ScorecardService";

/// Who manages the channel: channel managers, and sales managers, whose teams sell through it.
pub const MANAGERS: &[Role] = &[
    Role::Admin,
    Role::ChannelManager,
    Role::SalesManager,
    Role::Service,
];

/// The access table of the partners service.
pub fn policy() -> Policy {
    let readers = [
        Role::Admin,
        Role::ChannelManager,
        Role::SalesManager,
        Role::SalesRep,
        Role::Auditor,
        Role::Marketer,
        Role::ServiceManager,
        Role::Service,
        Role::PartnerUser,
    ];
    let reporters: Vec<Role> = MANAGERS.iter().copied().chain([Role::PartnerUser]).collect();
    Policy::new()
        .rpcs(
            SERVICE,
            &[
                "GetPartner",
                "ListPartners",
                "GetPartnerTree",
                "ListTargets",
                "ListSellThrough",
                "GetPerformance",
                "ListExceptions",
            ],
            &readers,
        )
        .rpcs(
            SERVICE,
            &[
                "CreatePartner",
                "UpdatePartner",
                "ChangePartnerStatus",
                "SetTarget",
            ],
            MANAGERS,
        )
        .rpcs(SERVICE, &["ReportSales"], &reporters)
        .rpcs(
            SERVICE,
            &["ImportPartners", "ImportTargets"],
            &[Role::Admin, Role::DataSteward],
        )
        .rpcs(
            PORTAL,
            &["GetPortalCatalog", "ListPartnerOrders", "ListDealRegistrations"],
            &readers,
        )
        // Orders and deal registrations are a partner's own acts (or a channel manager's on its
        // behalf): they become sales orders and leads.
        .rpcs(PORTAL, &["SubmitOrder", "RegisterDeal"], &reporters)
        .rpcs(
            PORTAL,
            &["UpsertRoadmapEntry", "SetAvailability", "ReviewDealRegistration"],
            MANAGERS,
        )
        .rpcs(SCORECARDS, &["ListScorecards", "GetScorecardSettings"], &readers)
        .rpcs(
            SCORECARDS,
            &["EvaluateScorecard", "RecordComplaint", "UpdateScorecardSettings"],
            MANAGERS,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_is_declared() {
        let coverage = crm_platform::served::policy_coverage(&policy(), "/crm.partners.v1.");
        assert!(
            coverage.undeclared.is_empty(),
            "no access rule: {:?}",
            coverage.undeclared
        );
        assert!(coverage.rpcs > 10, "only {} RPCs found", coverage.rpcs);
    }
}
