//! Who may call which marketing RPC.

use crm_auth::{Policy, Role};

/// The marketing service.
pub const MARKETING: &str = "crm.marketing.v1.MarketingService";
/// The campaign service.
pub const CAMPAIGNS: &str = "crm.marketing.v1.CampaignService";
/// The prediction service.
pub const PREDICTIONS: &str = "crm.marketing.v1.PredictionService";

/// The access table of the marketing service.
pub fn policy() -> Policy {
    let marketers = [Role::Admin, Role::Marketer, Role::Service];
    let readers = [
        Role::Admin,
        Role::Marketer,
        Role::Service,
        Role::Auditor,
        Role::SalesManager,
        Role::ServiceManager,
    ];
    let consent_writers = [
        Role::Admin,
        Role::Marketer,
        Role::Service,
        Role::ServiceAgent,
        Role::ServiceManager,
    ];
    Policy::new()
        .rpcs(
            MARKETING,
            &[
                "GetProfile",
                "ListProfileCampaigns",
                "ListRfmScores",
                "GetRfmCells",
                "ListSegments",
                "ListSegmentMembers",
                "GetConsent",
                "PreviewSegment",
            ],
            &readers,
        )
        .rpcs(MARKETING, &["RecomputeProfiles", "CreateSegment"], &marketers)
        .rpcs(MARKETING, &["SetConsent"], &consent_writers)
        // The messaging gateway reports bounces and opt-outs under a service identity.
        .rpcs(
            MARKETING,
            &["RecordContactFeedback"],
            &[Role::Admin, Role::Marketer, Role::Service],
        )
        .rpcs(
            CAMPAIGNS,
            &[
                "GetCampaign",
                "ListCampaigns",
                "GetTestResults",
                "ListCampaignMembers",
                "GetCampaignPerformance",
            ],
            &readers,
        )
        .rpcs(
            CAMPAIGNS,
            &[
                "CreateCampaign",
                "SelectMembers",
                "StartTest",
                "RecordResponse",
                "RollOut",
                "CloseCampaign",
            ],
            &marketers,
        )
        .rpcs(
            PREDICTIONS,
            &[
                "GetPrediction",
                "ListChurnRisks",
                "ListKeyCustomers",
                "ListProductAffinities",
                "GetRecommendations",
            ],
            &readers,
        )
        .rpcs(PREDICTIONS, &["FitModels", "GetFitJob"], &marketers)
        .rpcs(MARKETING, &["ImportConsents"], &[Role::Admin, Role::DataSteward])
        // Member lists leave the suite for mailers: marketers and data stewards take them out.
        .rpcs(
            MARKETING,
            &["ExportSegmentMembers"],
            &[Role::Admin, Role::Marketer, Role::DataSteward],
        )
        .rpcs(
            CAMPAIGNS,
            &["ExportCampaignMembers"],
            &[Role::Admin, Role::Marketer, Role::DataSteward],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_is_declared() {
        let coverage = crm_platform::served::policy_coverage(&policy(), "/crm.marketing.v1.");
        assert!(
            coverage.undeclared.is_empty(),
            "no access rule: {:?}",
            coverage.undeclared
        );
        assert!(coverage.rpcs > 15, "only {} RPCs found", coverage.rpcs);
    }
}
