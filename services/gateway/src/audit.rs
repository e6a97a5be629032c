//! `crm.audit.v1.AuditService` at the gateway: the call records of the service the request
//! names, fetched from it with the caller's own token (so it applies its own rules too). The
//! gateway keeps no database: the calls it refuses itself show in its traces and in
//! `rpc.server.duration` by method and status; what it forwards, the service records.

use crm_platform::Violations;
use crm_proto::audit::v1 as pb;
use crm_proto::audit::v1::audit_service_client::AuditServiceClient;
use crm_proto::audit::v1::audit_service_server::AuditService;
use tonic::{Request, Response, Status};

use crate::upstream::Upstreams;

/// Forwards ListCallRecords to the service it names.
#[derive(Debug, Clone)]
pub struct AuditForwarder {
    upstreams: Upstreams,
}

impl AuditForwarder {
    /// A forwarder to `upstreams`.
    pub fn new(upstreams: Upstreams) -> Self {
        Self { upstreams }
    }
}

#[tonic::async_trait]
impl AuditService for AuditForwarder {
    async fn list_call_records(
        &self,
        request: Request<pb::ListCallRecordsRequest>,
    ) -> Result<Response<pb::ListCallRecordsResponse>, Status> {
        let principal = crm_auth::principal(&request)?;
        let req = request.into_inner();
        let channel = match req.service.as_str() {
            "customers" => self.upstreams.customers.clone(),
            "sales" => self.upstreams.sales.clone(),
            "partners" => self.upstreams.partners.clone(),
            "marketing" => self.upstreams.marketing.clone(),
            "servicedesk" => self.upstreams.servicedesk.clone(),
            _ => {
                let mut v = Violations::new();
                v.add(
                    "service",
                    "one of customers, sales, partners, marketing, servicedesk",
                );
                return Err(v.into_status());
            }
        };
        let forwarded = crm_platform::client::forwarded(&principal, req);
        AuditServiceClient::new(channel)
            .list_call_records(forwarded)
            .await
    }
}
