//! GetCustomer360: the five sections fetched at once, each degrading on its own.

use crm_platform::Violations;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::gateway::v1::{self as pb, Section};
use crm_proto::marketing::v1 as marketing;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::marketing::v1::prediction_service_client::PredictionServiceClient;
use crm_proto::partners::v1 as partners;
use crm_proto::partners::v1::partner_service_client::PartnerServiceClient;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::sales::v1::sales_org_service_client::SalesOrgServiceClient;
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use futures::FutureExt as _;
use tonic::{Code, Status};

use super::{Call, GatewayApi, recent_orders_wanted};
use crate::domain::{sales as figures, sections};

impl GatewayApi {
    pub(super) async fn customer360(
        &self,
        call: &Call,
        req: pb::GetCustomer360Request,
    ) -> Result<pb::GetCustomer360Response, Status> {
        let mut v = Violations::new();
        v.check(req.party_id.trim().is_empty(), "party_id", "required");
        v.check(
            sections::unknown(&req.sections),
            "sections",
            "known sections only",
        );
        let recent = recent_orders_wanted(req.recent_orders, 10, &mut v);
        v.into_result()?;
        let wanted = sections::requested(&req.sections);
        let wants = |s: Section| wanted.contains(&s);
        let party_id = req.party_id.trim();

        // The sales and channel sections both come from the summary of the customer's orders:
        // one call, shared.
        let orders = self.orders_of(call, party_id, recent).shared();
        let orders_for = || orders.clone();

        let (profile, sales, channel, marketing, service) = tokio::join!(
            when(
                wants(Section::Profile),
                call.section(Section::Profile, self.profile(call, party_id))
            ),
            when(
                wants(Section::Sales),
                call.section(Section::Sales, self.sales(call, party_id, orders_for()))
            ),
            when(
                wants(Section::Channel),
                call.section(Section::Channel, self.channel(call, orders_for()))
            ),
            when(
                wants(Section::Marketing),
                call.section(Section::Marketing, self.marketing(call, party_id))
            ),
            when(
                wants(Section::Service),
                call.section(Section::Service, self.service(call, party_id))
            ),
        );
        let mut s = Vec::new();
        Ok(pb::GetCustomer360Response {
            party_id: party_id.to_string(),
            profile: collect(&mut s, profile),
            sales: collect(&mut s, sales),
            channel: collect(&mut s, channel),
            marketing: collect(&mut s, marketing),
            service: collect(&mut s, service),
            statuses: s,
        })
    }

    async fn profile(&self, call: &Call, party_id: &str) -> Result<pb::ProfileSection, Status> {
        let mut client = CustomersServiceClient::new(self.upstreams.customers.clone());
        let mut edges = client.clone();
        let relationships = async {
            match edges
                .list_relationships(call.request(customers::ListRelationshipsRequest {
                    party_id: party_id.to_string(),
                    ..Default::default()
                }))
                .await
            {
                Ok(r) => Ok(r.into_inner().relationships),
                // The caller may see the party but not its network (a customer's own view).
                Err(s) if s.code() == Code::PermissionDenied => Ok(Vec::new()),
                Err(s) => Err(s),
            }
        };
        let (party, relationships) = tokio::try_join!(
            client.get_party(call.request(customers::GetPartyRequest {
                id: party_id.to_string(),
            })),
            relationships,
        )?;
        Ok(pb::ProfileSection {
            party: party.into_inner().party,
            relationships,
        })
    }

    /// The customer's orders at a glance (sales adds them up): the `recent` newest, the lifetime
    /// value, the partners sold through.
    pub(super) async fn orders_of(
        &self,
        call: &Call,
        party_id: &str,
        recent: usize,
    ) -> Result<sales::SummarizeCustomerOrdersResponse, Status> {
        let mut client = OrderServiceClient::new(self.upstreams.sales.clone());
        Ok(client
            .summarize_customer_orders(call.request(sales::SummarizeCustomerOrdersRequest {
                party_id: party_id.to_string(),
                recent: i32::try_from(recent).unwrap_or(100),
            }))
            .await?
            .into_inner())
    }

    async fn sales(
        &self,
        call: &Call,
        party_id: &str,
        orders: impl Future<Output = Result<sales::SummarizeCustomerOrdersResponse, Status>>,
    ) -> Result<pb::SalesSection, Status> {
        let mut pipeline = PipelineServiceClient::new(self.upstreams.sales.clone());
        let (mut follow_up, mut task_list) = (pipeline.clone(), pipeline.clone());
        let mut org = SalesOrgServiceClient::new(self.upstreams.sales.clone());
        let opportunities = async {
            pipeline
                .list_opportunities(call.request(sales::ListOpportunitiesRequest {
                    party_id: party_id.to_string(),
                    page_size: 200,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().opportunities)
        };
        let territory = async {
            match org
                .get_account_assignment(call.request(sales::GetAccountAssignmentRequest {
                    party_id: party_id.to_string(),
                }))
                .await
            {
                Ok(r) => Ok(r.into_inner().territory_id),
                // Not assigned yet.
                Err(s) if s.code() == Code::NotFound => Ok(String::new()),
                Err(s) => Err(s),
            }
        };
        let mut quotes = OrderServiceClient::new(self.upstreams.sales.clone());
        let open_quotes = async {
            quotes
                .list_quotes(call.request(sales::ListQuotesRequest {
                    party_id: party_id.to_string(),
                    open_only: true,
                    page_size: 50,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().quotes)
        };
        let activities = async {
            follow_up
                .list_activities(call.request(sales::ListActivitiesRequest {
                    party_id: party_id.to_string(),
                    page_size: 10,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().activities)
        };
        let tasks = async {
            task_list
                .list_tasks(call.request(sales::ListTasksRequest {
                    party_id: party_id.to_string(),
                    open_only: true,
                    page_size: 20,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().tasks)
        };
        let (orders, opportunities, territory_id, open_quotes, recent_activities, open_tasks) = tokio::try_join!(
            orders,
            opportunities,
            territory,
            or_none_allowed(open_quotes),
            or_none_allowed(activities),
            or_none_allowed(tasks),
        )?;
        let quota_owner_id = figures::quota_owner(&orders.latest_owner_id, &opportunities);
        let (open, closed) = figures::split_opportunities(opportunities);
        Ok(pb::SalesSection {
            lifetime_value: orders.lifetime_value,
            order_count: orders.order_count,
            quota_owner_id,
            territory_id,
            open_opportunities: open,
            recently_closed: closed.into_iter().take(10).collect(),
            recent_orders: orders.recent_orders,
            open_quotes,
            recent_activities,
            open_tasks,
        })
    }

    async fn channel(
        &self,
        call: &Call,
        orders: impl Future<Output = Result<sales::SummarizeCustomerOrdersResponse, Status>>,
    ) -> Result<pb::ChannelSection, Status> {
        let orders = orders.await.map_err(|s| {
            Status::new(
                s.code(),
                format!("the customer's orders (sales) are not available: {}", s.message()),
            )
        })?;
        let client = PartnerServiceClient::new(self.upstreams.partners.clone());
        let lookups = orders.partner_ids.into_iter().map(|id| {
            let mut client = client.clone();
            async move {
                match client
                    .get_partner(call.request(partners::GetPartnerRequest { id }))
                    .await
                {
                    Ok(r) => Ok(r.into_inner().partner),
                    // Not the caller's to see (a partner user's view), or gone.
                    Err(s) if matches!(s.code(), Code::NotFound | Code::PermissionDenied) => Ok(None),
                    Err(s) => Err(s),
                }
            }
        });
        let partners = futures::future::try_join_all(lookups).await?;
        Ok(pb::ChannelSection {
            partners: partners.into_iter().flatten().collect(),
        })
    }

    async fn marketing(&self, call: &Call, party_id: &str) -> Result<pb::MarketingSection, Status> {
        let mut profiles = MarketingServiceClient::new(self.upstreams.marketing.clone());
        let mut consent = profiles.clone();
        let mut predictions = PredictionServiceClient::new(self.upstreams.marketing.clone());
        let profile = profiles.get_profile(call.request(marketing::GetProfileRequest {
            party_id: party_id.to_string(),
        }));
        let prediction = async {
            match predictions
                .get_prediction(call.request(marketing::GetPredictionRequest {
                    party_id: party_id.to_string(),
                    horizon_weeks: 0,
                }))
                .await
            {
                Ok(r) => Ok(r.into_inner().prediction),
                // No purchase history, or too little data to fit the model yet.
                Err(s) if matches!(s.code(), Code::NotFound | Code::FailedPrecondition) => Ok(None),
                Err(s) => Err(s),
            }
        };
        let consents = async {
            consent
                .get_consent(call.request(marketing::GetConsentRequest {
                    party_id: party_id.to_string(),
                }))
                .await
                .map(|r| r.into_inner().consents)
        };
        let (profile, prediction, consents) =
            tokio::try_join!(profile, prediction, or_none_allowed(consents))?;
        Ok(pb::MarketingSection {
            profile: profile.into_inner().profile,
            prediction,
            consents,
        })
    }

    async fn service(&self, call: &Call, party_id: &str) -> Result<pb::ServiceSection, Status> {
        let client = ServiceDeskServiceClient::new(self.upstreams.servicedesk.clone());
        let (mut open, mut closed, mut assets) = (client.clone(), client.clone(), client);
        let open_cases = async {
            open.list_cases(call.request(servicedesk::ListCasesRequest {
                party_id: party_id.to_string(),
                open_only: true,
                with_sla: true,
                ..Default::default()
            }))
            .await
            .map(tonic::Response::into_inner)
        };
        let closed_cases = async {
            closed
                .list_cases(call.request(servicedesk::ListCasesRequest {
                    party_id: party_id.to_string(),
                    closed_only: true,
                    page_size: 5,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().cases)
        };
        let installed_base = async {
            assets
                .list_assets(call.request(servicedesk::ListAssetsRequest {
                    party_id: party_id.to_string(),
                    page_size: 20,
                    ..Default::default()
                }))
                .await
                .map(|r| r.into_inner().assets)
        };
        let (cases, recently_closed, installed_base) =
            tokio::try_join!(open_cases, closed_cases, or_none_allowed(installed_base))?;
        Ok(pb::ServiceSection {
            open_cases: cases.cases,
            sla: cases.sla,
            recently_closed,
            installed_base,
        })
    }
}

/// A part of a section the caller's role may not read (an auditor's tasks, a rep's view of
/// consent) is left empty rather than failing the whole section.
async fn or_none_allowed<T: Default>(part: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    match part.await {
        Err(s) if s.code() == Code::PermissionDenied => Ok(T::default()),
        other => other,
    }
}

/// A section's content, its status added to `statuses` (when the section was asked for).
fn collect<T>(
    statuses: &mut Vec<pb::SectionStatus>,
    section: Option<(pb::SectionStatus, Option<T>)>,
) -> Option<T> {
    let (status, content) = section?;
    statuses.push(status);
    content
}

/// Runs `section` only when it was asked for.
async fn when<T>(wanted: bool, section: impl Future<Output = T>) -> Option<T> {
    if wanted { Some(section.await) } else { None }
}
