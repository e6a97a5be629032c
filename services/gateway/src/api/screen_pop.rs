//! ScreenPop: who is calling, composed from the service desk (identity, tier, open cases, SLA)
//! and sales (recent orders).

use crm_platform::Violations;
use crm_proto::gateway::v1::{self as pb, Section};
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use tonic::Status;

use super::{Call, GatewayApi, recent_orders_wanted};

impl GatewayApi {
    pub(super) async fn screen_pop(
        &self,
        call: &Call,
        req: pb::ScreenPopRequest,
    ) -> Result<pb::ScreenPopResponse, Status> {
        let mut v = Violations::new();
        v.check(req.phone.trim().is_empty(), "phone", "required");
        let recent = recent_orders_wanted(req.recent_orders, 5, &mut v);
        v.into_result()?;
        let mut desk = ServiceDeskServiceClient::new(self.upstreams.servicedesk.clone());
        // Who is calling decides whose orders to read, so the service desk goes first; the
        // caller's invalid number is the caller's error, not a degraded section.
        let (desk_status, caller) = call
            .section(
                Section::Service,
                desk.identify_caller(call.request(servicedesk::IdentifyCallerRequest {
                    phone: req.phone.clone(),
                })),
            )
            .await;
        if desk_status.code == tonic::Code::InvalidArgument as i32 {
            return Err(Status::invalid_argument(desk_status.message));
        }
        let mut out = pb::ScreenPopResponse {
            statuses: vec![desk_status],
            ..Default::default()
        };
        let Some(caller) = caller.map(tonic::Response::into_inner).filter(|c| c.identified) else {
            return Ok(out);
        };
        let (orders_status, orders) = call
            .section(Section::Sales, self.orders_of(call, &caller.party_id, recent))
            .await;
        out.statuses.push(orders_status);
        out.recent_orders = orders.map(|o| o.recent_orders).unwrap_or_default();
        out.identified = true;
        out.party_id = caller.party_id;
        out.display_name = caller.display_name;
        out.tier = caller.tier;
        out.open_cases = caller.open_cases;
        out.sla = caller.sla;
        Ok(out)
    }
}
