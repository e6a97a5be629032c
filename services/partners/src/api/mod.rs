//! The gRPC API of the partners service: validation, partner scoping, mapping. Each handler
//! writes its changes and events in one transaction.

mod import;
mod partners;
pub(crate) mod performance;
mod portal;
mod sales;
mod scorecards;

use std::collections::HashMap;
use std::sync::Arc;

use crm_auth::{Principal, Role};
use crm_platform::Store;
use crm_proto::partners::v1 as pb;
use crm_proto::partners::v1::partner_portal_service_server::PartnerPortalService;
use crm_proto::partners::v1::partner_service_server::PartnerService;
use crm_proto::partners::v1::scorecard_service_server::ScorecardService;
use crm_storage::Conn;

use crate::config::PartnersSettings;
use crate::error::{Error, Result};
use crate::storage::partners as store;

/// The partners gRPC service.
#[derive(Debug, Clone)]
pub struct PartnersApi {
    store: Store,
    config: Arc<PartnersSettings>,
}

impl PartnersApi {
    /// A service on `db`; `relay` is woken after each commit.
    pub fn new(store: Store, config: Arc<PartnersSettings>) -> Self {
        Self { store, config }
    }

    /// Today (UTC) by the service's clock.
    fn today(&self) -> chrono::NaiveDate {
        crm_platform::time::naive_utc(self.store.now_micros()).date()
    }
}

/// Children of each partner.
fn children(all: &[pb::Partner]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for p in all {
        map.entry(p.parent_id.clone()).or_default().push(p.id.clone());
    }
    map
}

/// True for the staff roles, who see every partner.
fn is_staff(principal: &Principal) -> bool {
    principal.has_any_role(&[
        Role::Admin,
        Role::ChannelManager,
        Role::SalesManager,
        Role::SalesRep,
        Role::Auditor,
        Role::Marketer,
        Role::ServiceManager,
        Role::Service,
    ])
}

/// The partner whose tree a principal is confined to: None for staff, who see every partner;
/// a partner user's own partner; and an empty id (whose tree is empty) when the token names none.
fn confined_to(principal: &Principal) -> Option<&str> {
    if is_staff(principal) {
        return None;
    }
    Some(principal.partner_id.as_deref().unwrap_or(""))
}

/// The partner `id`, when it exists and the principal may see it (staff, or a partner user of
/// it or a partner above it).
async fn visible_partner(conn: &mut Conn, principal: &Principal, id: &str) -> Result<pb::Partner> {
    let allowed = is_staff(principal)
        || match principal.partner_id.as_deref() {
            Some(own) => store::is_within(conn, id, own).await?,
            None => false,
        };
    if !allowed {
        return Err(Error::PermissionDenied(format!(
            "{} may not see partner {id}",
            principal.user_id
        )));
    }
    store::get(conn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("partner {id}")))
}

crm_platform::grpc_handlers! {
    impl PartnerService for PartnersApi {
        create_partner(pb::CreatePartnerRequest) -> pb::CreatePartnerResponse => handle_create_partner;
        get_partner(pb::GetPartnerRequest) -> pb::GetPartnerResponse => handle_get_partner;
        update_partner(pb::UpdatePartnerRequest) -> pb::UpdatePartnerResponse => handle_update_partner;
        list_partners(pb::ListPartnersRequest) -> pb::ListPartnersResponse => handle_list_partners;
        get_partner_tree(pb::GetPartnerTreeRequest) -> pb::GetPartnerTreeResponse => handle_get_partner_tree;
        change_partner_status(pb::ChangePartnerStatusRequest) -> pb::ChangePartnerStatusResponse => handle_change_partner_status;
        set_target(pb::SetTargetRequest) -> pb::SetTargetResponse => handle_set_target;
        list_targets(pb::ListTargetsRequest) -> pb::ListTargetsResponse => handle_list_targets;
        report_sales(pb::ReportSalesRequest) -> pb::ReportSalesResponse => handle_report_sales;
        list_sell_through(pb::ListSellThroughRequest) -> pb::ListSellThroughResponse => handle_list_sell_through;
        get_performance(pb::GetPerformanceRequest) -> pb::GetPerformanceResponse => handle_get_performance;
        list_exceptions(pb::ListExceptionsRequest) -> pb::ListExceptionsResponse => handle_list_exceptions;
    }
    streaming {
        client import_partners(pb::ImportPartnersRequest) -> pb::ImportPartnersResponse => handle_import_partners;
        client import_targets(pb::ImportTargetsRequest) -> pb::ImportTargetsResponse => handle_import_targets;
    }
}

crm_platform::grpc_handlers! {
    impl PartnerPortalService for PartnersApi {
        get_portal_catalog(pb::GetPortalCatalogRequest) -> pb::GetPortalCatalogResponse => handle_get_portal_catalog;
        upsert_roadmap_entry(pb::UpsertRoadmapEntryRequest) -> pb::UpsertRoadmapEntryResponse => handle_upsert_roadmap_entry;
        set_availability(pb::SetAvailabilityRequest) -> pb::SetAvailabilityResponse => handle_set_availability;
        submit_order(pb::SubmitOrderRequest) -> pb::SubmitOrderResponse => handle_submit_order;
        list_partner_orders(pb::ListPartnerOrdersRequest) -> pb::ListPartnerOrdersResponse => handle_list_partner_orders;
        register_deal(pb::RegisterDealRequest) -> pb::RegisterDealResponse => handle_register_deal;
        review_deal_registration(pb::ReviewDealRegistrationRequest) -> pb::ReviewDealRegistrationResponse => handle_review_deal_registration;
        list_deal_registrations(pb::ListDealRegistrationsRequest) -> pb::ListDealRegistrationsResponse => handle_list_deal_registrations;
    }
}

crm_platform::grpc_handlers! {
    impl ScorecardService for PartnersApi {
        evaluate_scorecard(pb::EvaluateScorecardRequest) -> pb::EvaluateScorecardResponse => handle_evaluate_scorecard;
        list_scorecards(pb::ListScorecardsRequest) -> pb::ListScorecardsResponse => handle_list_scorecards;
        record_complaint(pb::RecordComplaintRequest) -> pb::RecordComplaintResponse => handle_record_complaint;
        get_scorecard_settings(pb::GetScorecardSettingsRequest) -> pb::GetScorecardSettingsResponse => handle_get_scorecard_settings;
        update_scorecard_settings(pb::UpdateScorecardSettingsRequest) -> pb::UpdateScorecardSettingsResponse => handle_update_scorecard_settings;
    }
}
