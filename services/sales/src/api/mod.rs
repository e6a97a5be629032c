//! The gRPC API of the sales services: validation, record rules, mapping. Each handler writes
//! its changes and events in one transaction.

mod activities;
mod catalog;
mod import;
mod import_pipeline;
mod leads;
mod opportunities;
mod orders;
mod org;
mod quotes;
pub(crate) mod reports;
mod tasks;

pub(crate) use quotes::price_lines;

use std::sync::Arc;

use crm_auth::Principal;
use crm_platform::Store;
use crm_platform::client::forwarded;
use crm_platform::retry::RetryBudget;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::catalog_service_server::CatalogService;
use crm_proto::sales::v1::order_service_server::OrderService;
use crm_proto::sales::v1::pipeline_service_server::PipelineService;
use crm_proto::sales::v1::sales_org_service_server::SalesOrgService;
use crm_proto::sales::v1::sales_report_service_server::SalesReportService;
use crm_storage::Conn;
use tonic::transport::Channel;

use crate::config::SalesSettings;
use crate::error::{Error, Result};
use crate::storage::accounts;

/// The sales gRPC services (catalog, pipeline, orders) over one database.
#[derive(Debug, Clone)]
pub struct SalesApi {
    store: Store,
    #[allow(dead_code)]
    config: Arc<SalesSettings>,
    customers: Channel,
    /// Bounds the retries of calls to the customers service.
    customer_retries: Arc<RetryBudget>,
}

impl SalesApi {
    /// The services on `db`; `relay` is woken after each commit; `customers` reaches the
    /// customers service.
    pub fn new(store: Store, config: Arc<SalesSettings>, customers: Channel) -> Self {
        Self {
            store,
            config,
            customers,
            customer_retries: Arc::new(RetryBudget::new("customers")),
        }
    }

    /// Makes a call to the customers service that is safe to make twice, retried within the
    /// budget while no instance answers (see [`crm_platform::retry`]): `call` sends one request
    /// with the client it is given.
    async fn ask_customers<T, F, Fut>(&self, call: F) -> std::result::Result<T, tonic::Status>
    where
        F: Fn(CustomersServiceClient<Channel>) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        crm_platform::retry::call(&self.customer_retries, || call(self.customers()))
            .await
            .map(tonic::Response::into_inner)
    }

    fn customers(&self) -> CustomersServiceClient<Channel> {
        CustomersServiceClient::new(self.customers.clone())
    }

    /// Makes sure sales holds its copy of party `party_id` before a write transaction needs it:
    /// when the copy has not arrived by event yet, the customers service is asked as the caller
    /// (outside any transaction: a write transaction never waits on another service) and the
    /// answer kept. Then [`SalesApi::ensure_party`] checks it inside the transaction.
    async fn fetch_party(&self, principal: &Principal, party_id: &str, field: &str) -> Result<()> {
        if party_id.is_empty() {
            return Ok(());
        }
        let mut conn = self.store.conn().await?;
        if accounts::get(&mut conn, party_id).await?.is_some() {
            return Ok(());
        }
        drop(conn);
        let asked = customers::GetPartyRequest { id: party_id.into() };
        let reply = self
            .ask_customers(|mut client| {
                let request = forwarded(principal, asked.clone());
                async move { client.get_party(request).await }
            })
            .await;
        match reply {
            Ok(reply) => {
                let party = reply
                    .party
                    .ok_or_else(|| Error::NotFound(format!("party {party_id}")))?;
                if !reply.redirected_from_id.is_empty() {
                    return Err(Error::FailedPrecondition(format!(
                        "party {party_id} was merged into {}",
                        party.id
                    )));
                }
                let mut tx = self.store.begin().await?;
                accounts::upsert(&mut tx, &accounts::Account::from_party(&party)).await?;
                self.store.commit(tx).await?;
                Ok(())
            }
            Err(status) if status.code() == tonic::Code::NotFound => {
                Err(crate::error::invalid(field, &format!("no party {party_id}")))
            }
            Err(status) if status.code() == tonic::Code::PermissionDenied => Err(Error::PermissionDenied(
                format!("party {party_id}: {}", status.message()),
            )),
            Err(status) => Err(Error::Unavailable(format!(
                "customers service: {}",
                status.message()
            ))),
        }
    }

    /// Checks, in the caller's transaction, that `party_id` is a live customer party by sales'
    /// copy (which [`SalesApi::fetch_party`] filled in before the transaction), and holds it
    /// until the transaction ends: an erasure or merge arriving meanwhile waits, then finds the
    /// new record.
    async fn ensure_party(&self, conn: &mut Conn, party_id: &str, field: &str) -> Result<()> {
        accounts::lock(conn, party_id).await?;
        match accounts::get(conn, party_id).await? {
            Some(account) if account.status == "active" => Ok(()),
            Some(account) => Err(Error::FailedPrecondition(format!(
                "party {party_id} is {}",
                account.status
            ))),
            None => Err(crate::error::invalid(field, &format!("no party {party_id}"))),
        }
    }
}

/// PERMISSION_DENIED naming the first owner, team or territory `principal` may not assign.
pub(super) fn check_assignment(
    principal: &Principal,
    to: &crate::domain::rules::Assignment<'_>,
) -> Result<()> {
    match crate::domain::rules::out_of_assignment_scope(principal, to) {
        None => Ok(()),
        Some(field) => Err(Error::PermissionDenied(format!(
            "{} may not assign {field} outside their own team and territories",
            principal.user_id
        ))),
    }
}

/// The version an etag names, or the violation.
fn version(etag: &str, field: &str) -> Result<i64> {
    let mut v = crm_platform::Violations::new();
    let version = crm_platform::errors::etag_version(etag, field, true, &mut v);
    v.finish()?;
    Ok(version.unwrap_or_default())
}

crm_platform::grpc_handlers! {
    impl CatalogService for SalesApi {
        create_product(pb::CreateProductRequest) -> pb::CreateProductResponse => handle_create_product;
        get_product(pb::GetProductRequest) -> pb::GetProductResponse => handle_get_product;
        update_product(pb::UpdateProductRequest) -> pb::UpdateProductResponse => handle_update_product;
        list_products(pb::ListProductsRequest) -> pb::ListProductsResponse => handle_list_products;
        create_price_book(pb::CreatePriceBookRequest) -> pb::CreatePriceBookResponse => handle_create_price_book;
        list_price_books(pb::ListPriceBooksRequest) -> pb::ListPriceBooksResponse => handle_list_price_books;
        set_price(pb::SetPriceRequest) -> pb::SetPriceResponse => handle_set_price;
        list_prices(pb::ListPricesRequest) -> pb::ListPricesResponse => handle_list_prices;
    }
    streaming {
        client import_products(pb::ImportProductsRequest) -> pb::ImportProductsResponse => handle_import_products;
    }
}

crm_platform::grpc_handlers! {
    impl PipelineService for SalesApi {
        create_lead(pb::CreateLeadRequest) -> pb::CreateLeadResponse => handle_create_lead;
        get_lead(pb::GetLeadRequest) -> pb::GetLeadResponse => handle_get_lead;
        list_leads(pb::ListLeadsRequest) -> pb::ListLeadsResponse => handle_list_leads;
        qualify_lead(pb::QualifyLeadRequest) -> pb::QualifyLeadResponse => handle_qualify_lead;
        convert_lead(pb::ConvertLeadRequest) -> pb::ConvertLeadResponse => handle_convert_lead;
        get_pipeline(pb::GetPipelineRequest) -> pb::GetPipelineResponse => handle_get_pipeline;
        update_pipeline(pb::UpdatePipelineRequest) -> pb::UpdatePipelineResponse => handle_update_pipeline;
        create_opportunity(pb::CreateOpportunityRequest) -> pb::CreateOpportunityResponse => handle_create_opportunity;
        get_opportunity(pb::GetOpportunityRequest) -> pb::GetOpportunityResponse => handle_get_opportunity;
        update_opportunity(pb::UpdateOpportunityRequest) -> pb::UpdateOpportunityResponse => handle_update_opportunity;
        list_opportunities(pb::ListOpportunitiesRequest) -> pb::ListOpportunitiesResponse => handle_list_opportunities;
        move_opportunity_stage(pb::MoveOpportunityStageRequest) -> pb::MoveOpportunityStageResponse => handle_move_opportunity_stage;
        set_stage_plan(pb::SetStagePlanRequest) -> pb::SetStagePlanResponse => handle_set_stage_plan;
        close_opportunity(pb::CloseOpportunityRequest) -> pb::CloseOpportunityResponse => handle_close_opportunity;
        log_activity(pb::LogActivityRequest) -> pb::LogActivityResponse => handle_log_activity;
        list_activities(pb::ListActivitiesRequest) -> pb::ListActivitiesResponse => handle_list_activities;
        create_task(pb::CreateTaskRequest) -> pb::CreateTaskResponse => handle_create_task;
        update_task(pb::UpdateTaskRequest) -> pb::UpdateTaskResponse => handle_update_task;
        list_tasks(pb::ListTasksRequest) -> pb::ListTasksResponse => handle_list_tasks;
        send_task_reminders(pb::SendTaskRemindersRequest) -> pb::SendTaskRemindersResponse => handle_send_task_reminders;
    }
    streaming {
        client import_leads(pb::ImportLeadsRequest) -> pb::ImportLeadsResponse => handle_import_leads;
        client import_opportunities(pb::ImportOpportunitiesRequest) -> pb::ImportOpportunitiesResponse => handle_import_opportunities;
        client import_activities(pb::ImportActivitiesRequest) -> pb::ImportActivitiesResponse => handle_import_activities;
        server export_opportunities(pb::ExportOpportunitiesRequest) -> pb::ExportOpportunitiesResponse as ExportOpportunitiesStream => handle_export_opportunities;
    }
}

crm_platform::grpc_handlers! {
    impl OrderService for SalesApi {
        create_quote(pb::CreateQuoteRequest) -> pb::CreateQuoteResponse => handle_create_quote;
        get_quote(pb::GetQuoteRequest) -> pb::GetQuoteResponse => handle_get_quote;
        list_quotes(pb::ListQuotesRequest) -> pb::ListQuotesResponse => handle_list_quotes;
        revise_quote(pb::ReviseQuoteRequest) -> pb::ReviseQuoteResponse => handle_revise_quote;
        set_quote_status(pb::SetQuoteStatusRequest) -> pb::SetQuoteStatusResponse => handle_set_quote_status;
        accept_quote(pb::AcceptQuoteRequest) -> pb::AcceptQuoteResponse => handle_accept_quote;
        place_order(pb::PlaceOrderRequest) -> pb::PlaceOrderResponse => handle_place_order;
        get_order(pb::GetOrderRequest) -> pb::GetOrderResponse => handle_get_order;
        list_orders(pb::ListOrdersRequest) -> pb::ListOrdersResponse => handle_list_orders;
        summarize_customer_orders(pb::SummarizeCustomerOrdersRequest) -> pb::SummarizeCustomerOrdersResponse => handle_summarize_customer_orders;
        update_order_status(pb::UpdateOrderStatusRequest) -> pb::UpdateOrderStatusResponse => handle_update_order_status;
    }
    streaming {
        client import_orders(pb::ImportOrdersRequest) -> pb::ImportOrdersResponse => handle_import_orders;
        server export_orders(pb::ExportOrdersRequest) -> pb::ExportOrdersResponse as ExportOrdersStream => handle_export_orders;
    }
}

crm_platform::grpc_handlers! {
    impl SalesOrgService for SalesApi {
        create_department(pb::CreateDepartmentRequest) -> pb::CreateDepartmentResponse => handle_create_department;
        create_team(pb::CreateTeamRequest) -> pb::CreateTeamResponse => handle_create_team;
        upsert_rep(pb::UpsertRepRequest) -> pb::UpsertRepResponse => handle_upsert_rep;
        get_organization(pb::GetOrganizationRequest) -> pb::GetOrganizationResponse => handle_get_organization;
        create_territory(pb::CreateTerritoryRequest) -> pb::CreateTerritoryResponse => handle_create_territory;
        update_territory(pb::UpdateTerritoryRequest) -> pb::UpdateTerritoryResponse => handle_update_territory;
        delete_territory(pb::DeleteTerritoryRequest) -> pb::DeleteTerritoryResponse => handle_delete_territory;
        list_territories(pb::ListTerritoriesRequest) -> pb::ListTerritoriesResponse => handle_list_territories;
        reassign_accounts(pb::ReassignAccountsRequest) -> pb::ReassignAccountsResponse => handle_reassign_accounts;
        get_account_reassignment(pb::GetAccountReassignmentRequest) -> pb::GetAccountReassignmentResponse => handle_get_account_reassignment;
        get_account_assignment(pb::GetAccountAssignmentRequest) -> pb::GetAccountAssignmentResponse => handle_get_account_assignment;
        set_quota(pb::SetQuotaRequest) -> pb::SetQuotaResponse => handle_set_quota;
        list_quotas(pb::ListQuotasRequest) -> pb::ListQuotasResponse => handle_list_quotas;
    }
}

crm_platform::grpc_handlers! {
    impl SalesReportService for SalesApi {
        get_funnel(pb::GetFunnelRequest) -> pb::GetFunnelResponse => handle_get_funnel;
        get_forecast(pb::GetForecastRequest) -> pb::GetForecastResponse => handle_get_forecast;
        get_win_rate(pb::GetWinRateRequest) -> pb::GetWinRateResponse => handle_get_win_rate;
        get_quota_attainment(pb::GetQuotaAttainmentRequest) -> pb::GetQuotaAttainmentResponse => handle_get_quota_attainment;
        evaluate_alerts(pb::EvaluateAlertsRequest) -> pb::EvaluateAlertsResponse => handle_evaluate_alerts;
        list_alerts(pb::ListAlertsRequest) -> pb::ListAlertsResponse => handle_list_alerts;
        resolve_alert(pb::ResolveAlertRequest) -> pb::ResolveAlertResponse => handle_resolve_alert;
        get_alert_settings(pb::GetAlertSettingsRequest) -> pb::GetAlertSettingsResponse => handle_get_alert_settings;
        update_alert_settings(pb::UpdateAlertSettingsRequest) -> pb::UpdateAlertSettingsResponse => handle_update_alert_settings;
    }
}
