//! The gRPC API of the service desk.

mod assets;
mod calls;
mod case_changes;
mod cases;
mod import;
mod kb;
mod org;
mod reports;
mod watches;

use std::sync::Arc;

use crm_auth::{Principal, RecordScope, Role};
use crm_platform::Store;
use crm_proto::servicedesk::v1 as pb;
use crm_proto::servicedesk::v1::service_desk_service_server::ServiceDeskService;
use crm_storage::Conn;

use crate::config::ServicedeskSettings;
use crate::error::{Error, Result};
use crate::storage::cases::{self as case_store, CaseRecord};

/// The service-desk gRPC service.
#[derive(Debug, Clone)]
pub struct ServiceDeskApi {
    store: Store,
    config: Arc<ServicedeskSettings>,
    deliverer: crate::notifications::Deliverer,
}

/// Roles that work every case.
const DESK: &[Role] = &[Role::ServiceAgent, Role::ServiceManager];

impl ServiceDeskApi {
    /// The service on `db`; `relay` is woken after each commit; `deliverer` posts
    /// notifications when asked to.
    pub fn new(
        store: Store,
        config: Arc<ServicedeskSettings>,
        deliverer: crate::notifications::Deliverer,
    ) -> Self {
        Self {
            store,
            config,
            deliverer,
        }
    }

    fn now(&self) -> i64 {
        self.store.now_micros()
    }
}

/// Whether `p` acts as a customer (self-service) rather than as desk staff.
fn is_customer(p: &Principal) -> bool {
    p.has_role(Role::Customer) && !p.has_any_role(DESK) && !p.is_admin()
}

/// Whether `p` may see the case: desk staff see every case, a customer only their own.
fn may_see(p: &Principal, case: &CaseRecord) -> bool {
    p.may_see(
        &RecordScope {
            customer_id: Some(&case.case.party_id),
            ..Default::default()
        },
        DESK,
    )
}

/// A case `p` may see: NOT_FOUND when there is none, PERMISSION_DENIED when it is another
/// customer's (the same record rule as every other service).
async fn visible_case(conn: &mut Conn, p: &Principal, id: &str) -> Result<CaseRecord> {
    match case_store::get(conn, id).await? {
        Some(c) if may_see(p, &c) => Ok(c),
        Some(_) => Err(Error::PermissionDenied(format!("case {id} is not yours"))),
        None => Err(Error::NotFound(format!("case {id}"))),
    }
}

/// The API form of a case with its timeline; internal notes are hidden from customers.
async fn case_view(conn: &mut Conn, p: &Principal, case: &CaseRecord) -> Result<pb::Case> {
    let staff = !is_customer(p);
    let timeline = case_store::timeline(conn, &case.case.id)
        .await?
        .into_iter()
        .filter(|t| staff || !t.internal)
        .collect();
    Ok(case.to_proto(timeline))
}

crm_platform::grpc_handlers! {
    impl ServiceDeskService for ServiceDeskApi {
        create_queue(pb::CreateQueueRequest) -> pb::CreateQueueResponse => handle_create_queue;
        update_queue(pb::UpdateQueueRequest) -> pb::UpdateQueueResponse => handle_update_queue;
        list_queues(pb::ListQueuesRequest) -> pb::ListQueuesResponse => handle_list_queues;
        upsert_agent(pb::UpsertAgentRequest) -> pb::UpsertAgentResponse => handle_upsert_agent;
        list_agents(pb::ListAgentsRequest) -> pb::ListAgentsResponse => handle_list_agents;
        open_case(pb::OpenCaseRequest) -> pb::OpenCaseResponse => handle_open_case;
        get_case(pb::GetCaseRequest) -> pb::GetCaseResponse => handle_get_case;
        list_cases(pb::ListCasesRequest) -> pb::ListCasesResponse => handle_list_cases;
        update_case(pb::UpdateCaseRequest) -> pb::UpdateCaseResponse => handle_update_case;
        transfer_case(pb::TransferCaseRequest) -> pb::TransferCaseResponse => handle_transfer_case;
        watch_customer(pb::WatchCustomerRequest) -> pb::WatchCustomerResponse => handle_watch_customer;
        unwatch_customer(pb::UnwatchCustomerRequest) -> pb::UnwatchCustomerResponse => handle_unwatch_customer;
        list_watches(pb::ListWatchesRequest) -> pb::ListWatchesResponse => handle_list_watches;
        register_asset(pb::RegisterAssetRequest) -> pb::RegisterAssetResponse => handle_register_asset;
        update_asset(pb::UpdateAssetRequest) -> pb::UpdateAssetResponse => handle_update_asset;
        get_asset(pb::GetAssetRequest) -> pb::GetAssetResponse => handle_get_asset;
        list_assets(pb::ListAssetsRequest) -> pb::ListAssetsResponse => handle_list_assets;
        assign_case(pb::AssignCaseRequest) -> pb::AssignCaseResponse => handle_assign_case;
        change_case_status(pb::ChangeCaseStatusRequest) -> pb::ChangeCaseStatusResponse => handle_change_case_status;
        add_comment(pb::AddCommentRequest) -> pb::AddCommentResponse => handle_add_comment;
        rate_case(pb::RateCaseRequest) -> pb::RateCaseResponse => handle_rate_case;
        set_sla_policy(pb::SetSlaPolicyRequest) -> pb::SetSlaPolicyResponse => handle_set_sla_policy;
        list_sla_policies(pb::ListSlaPoliciesRequest) -> pb::ListSlaPoliciesResponse => handle_list_sla_policies;
        run_escalations(pb::RunEscalationsRequest) -> pb::RunEscalationsResponse => handle_run_escalations;
        list_escalations(pb::ListEscalationsRequest) -> pb::ListEscalationsResponse => handle_list_escalations;
        upsert_article(pb::UpsertArticleRequest) -> pb::UpsertArticleResponse => handle_upsert_article;
        search_articles(pb::SearchArticlesRequest) -> pb::SearchArticlesResponse => handle_search_articles;
        suggest_articles(pb::SuggestArticlesRequest) -> pb::SuggestArticlesResponse => handle_suggest_articles;
        identify_caller(pb::IdentifyCallerRequest) -> pb::IdentifyCallerResponse => handle_identify_caller;
        create_call_list(pb::CreateCallListRequest) -> pb::CreateCallListResponse => handle_create_call_list;
        get_call_list(pb::GetCallListRequest) -> pb::GetCallListResponse => handle_get_call_list;
        list_call_lists(pb::ListCallListsRequest) -> pb::ListCallListsResponse => handle_list_call_lists;
        record_call_outcome(pb::RecordCallOutcomeRequest) -> pb::RecordCallOutcomeResponse => handle_record_call_outcome;
        get_service_report(pb::GetServiceReportRequest) -> pb::GetServiceReportResponse => handle_get_service_report;
        list_notifications(pb::ListNotificationsRequest) -> pb::ListNotificationsResponse => handle_list_notifications;
        deliver_notifications(pb::DeliverNotificationsRequest) -> pb::DeliverNotificationsResponse => handle_deliver_notifications;
    }
    streaming {
        client import_cases(pb::ImportCasesRequest) -> pb::ImportCasesResponse => handle_import_cases;
        client import_articles(pb::ImportArticlesRequest) -> pb::ImportArticlesResponse => handle_import_articles;
        server export_cases(pb::ExportCasesRequest) -> pb::ExportCasesResponse as ExportCasesStream => handle_export_cases;
    }
}
