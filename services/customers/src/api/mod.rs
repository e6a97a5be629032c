//! The gRPC API: validation, record and field rules, mapping between requests and the domain
//! and storage layers. Each handler runs its changes, audit entries and events in one
//! transaction.

mod admin;
mod analysis;
mod import;
mod network;
mod parties;
mod privacy;
mod quality;
mod value;

use std::sync::Arc;

use crm_auth::Principal;
use crm_platform::Store;
use crm_platform::Violations;
use crm_proto::customers::v1::customers_service_server::CustomersService;
use crm_proto::customers::v1::{self as pb, PartyStatus};

use crate::config::CustomersSettings;
use crate::domain::party as rules;
use crate::error::{Error, Result};

/// The customers gRPC service.
#[derive(Debug, Clone)]
pub struct CustomersApi {
    store: Store,
    config: Arc<CustomersSettings>,
    /// Bulk writes, which the duplicate check job waits for.
    bulk: Arc<crm_platform::bulk::BulkActivity>,
}

impl CustomersApi {
    /// The service on `store`; imports note their writes in `bulk`.
    pub fn new(
        store: Store,
        config: Arc<CustomersSettings>,
        bulk: Arc<crm_platform::bulk::BulkActivity>,
    ) -> Self {
        Self { store, config, bulk }
    }
}

/// A party that `principal` may change, at the version named by `etag` (when given).
async fn party_for_write(
    conn: &mut crm_storage::Conn,
    principal: &Principal,
    id: &str,
    etag: Option<i64>,
) -> Result<pb::Party> {
    let party = crate::storage::parties::get(conn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("party {id}")))?;
    match PartyStatus::try_from(party.status) {
        Ok(PartyStatus::Merged) => {
            return Err(Error::FailedPrecondition(format!(
                "party {id} was merged into {}",
                party.merged_into_id
            )));
        }
        Ok(PartyStatus::Erased) => return Err(Error::FailedPrecondition(format!("party {id} was erased"))),
        _ => {}
    }
    // Those who may correct only some fields (a customer their own record, agents and marketers
    // what they gather) reach the handlers that check which fields (UpdateParty, VerifyParty).
    if !rules::may_write(principal, &party) && rules::correctable_fields(principal, &party).is_empty() {
        return Err(Error::PermissionDenied(format!(
            "{} may not change party {id}",
            principal.user_id
        )));
    }
    if let Some(expected) = etag
        && party.etag != expected.to_string()
    {
        return Err(Error::Stale(format!("party {id}")));
    }
    Ok(party)
}

/// A party `principal` may read (any status), or NOT_FOUND / PERMISSION_DENIED.
async fn party_for_read(conn: &mut crm_storage::Conn, principal: &Principal, id: &str) -> Result<pb::Party> {
    let mut party = crate::storage::parties::get(conn, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("party {id}")))?;
    if !rules::may_read(principal, &party) {
        return Err(Error::PermissionDenied(format!(
            "{} may not read party {id}",
            principal.user_id
        )));
    }
    rules::redact_for(principal, &mut party);
    Ok(party)
}

/// Violations of `v` with `prefix.` before each field.
fn prefixed(prefix: &str, v: Violations) -> Violations {
    let mut out = Violations::new();
    out.extend_prefixed(prefix, v);
    out
}

/// Required id field.
fn require_id(v: &mut Violations, field: &str, value: &str) {
    v.check(value.trim().is_empty(), field, "required");
}

crm_platform::grpc_handlers! {
    impl CustomersService for CustomersApi {
        create_party(pb::CreatePartyRequest) -> pb::CreatePartyResponse => handle_create_party;
        get_party(pb::GetPartyRequest) -> pb::GetPartyResponse => handle_get_party;
        update_party(pb::UpdatePartyRequest) -> pb::UpdatePartyResponse => handle_update_party;
        list_parties(pb::ListPartiesRequest) -> pb::ListPartiesResponse => handle_list_parties;
        search_parties(pb::SearchPartiesRequest) -> pb::SearchPartiesResponse => handle_search_parties;
        verify_party(pb::VerifyPartyRequest) -> pb::VerifyPartyResponse => handle_verify_party;
        list_verification_due(pb::ListVerificationDueRequest) -> pb::ListVerificationDueResponse => handle_list_verification_due;
        create_relationship(pb::CreateRelationshipRequest) -> pb::CreateRelationshipResponse => handle_create_relationship;
        delete_relationship(pb::DeleteRelationshipRequest) -> pb::DeleteRelationshipResponse => handle_delete_relationship;
        list_relationships(pb::ListRelationshipsRequest) -> pb::ListRelationshipsResponse => handle_list_relationships;
        list_neighbours(pb::ListNeighboursRequest) -> pb::ListNeighboursResponse => handle_list_neighbours;
        find_shortest_path(pb::FindShortestPathRequest) -> pb::FindShortestPathResponse => handle_find_shortest_path;
        get_group_tree(pb::GetGroupTreeRequest) -> pb::GetGroupTreeResponse => handle_get_group_tree;
        set_party_value(pb::SetPartyValueRequest) -> pb::SetPartyValueResponse => handle_set_party_value;
        recompute_value_tiers(pb::RecomputeValueTiersRequest) -> pb::RecomputeValueTiersResponse => handle_recompute_value_tiers;
        get_value_pyramid(pb::GetValuePyramidRequest) -> pb::GetValuePyramidResponse => handle_get_value_pyramid;
        get_tier_migration(pb::GetTierMigrationRequest) -> pb::GetTierMigrationResponse => handle_get_tier_migration;
        get_cohort_retention(pb::GetCohortRetentionRequest) -> pb::GetCohortRetentionResponse => handle_get_cohort_retention;
        get_base_trends(pb::GetBaseTrendsRequest) -> pb::GetBaseTrendsResponse => handle_get_base_trends;
        get_penetration(pb::GetPenetrationRequest) -> pb::GetPenetrationResponse => handle_get_penetration;
        get_value_tier_config(pb::GetValueTierConfigRequest) -> pb::GetValueTierConfigResponse => handle_get_value_tier_config;
        update_value_tier_config(pb::UpdateValueTierConfigRequest) -> pb::UpdateValueTierConfigResponse => handle_update_value_tier_config;
        find_duplicates(pb::FindDuplicatesRequest) -> pb::FindDuplicatesResponse => handle_find_duplicates;
        merge_parties(pb::MergePartiesRequest) -> pb::MergePartiesResponse => handle_merge_parties;
        export_party(pb::ExportPartyRequest) -> pb::ExportPartyResponse => handle_export_party;
        erase_party(pb::ErasePartyRequest) -> pb::ErasePartyResponse => handle_erase_party;
        create_competitor(pb::CreateCompetitorRequest) -> pb::CreateCompetitorResponse => handle_create_competitor;
        get_competitor(pb::GetCompetitorRequest) -> pb::GetCompetitorResponse => handle_get_competitor;
        list_competitors(pb::ListCompetitorsRequest) -> pb::ListCompetitorsResponse => handle_list_competitors;
        update_competitor(pb::UpdateCompetitorRequest) -> pb::UpdateCompetitorResponse => handle_update_competitor;
        delete_competitor(pb::DeleteCompetitorRequest) -> pb::DeleteCompetitorResponse => handle_delete_competitor;
        upsert_region(pb::UpsertRegionRequest) -> pb::UpsertRegionResponse => handle_upsert_region;
        list_regions(pb::ListRegionsRequest) -> pb::ListRegionsResponse => handle_list_regions;
        list_audit_entries(pb::ListAuditEntriesRequest) -> pb::ListAuditEntriesResponse => handle_list_audit_entries;
        resolve_external_ids(pb::ResolveExternalIdsRequest) -> pb::ResolveExternalIdsResponse => handle_resolve_external_ids;
    }
    streaming {
        client import_parties(pb::ImportPartiesRequest) -> pb::ImportPartiesResponse => handle_import_parties;
        client import_relationships(pb::ImportRelationshipsRequest) -> pb::ImportRelationshipsResponse => handle_import_relationships;
        server export_parties(pb::ExportPartiesRequest) -> pb::ExportPartiesResponse as ExportPartiesStream => handle_export_parties;
        server export_party_stream(pb::ExportPartyStreamRequest) -> pb::ExportPartyStreamResponse as ExportPartyStreamStream => handle_export_party_stream;
    }
}
