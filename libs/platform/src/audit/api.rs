//! `crm.audit.v1.AuditService` of one domain service: its own call records.

use crm_proto::audit::v1 as pb;
use crm_proto::audit::v1::audit_service_server::AuditService;
use crm_storage::Db;
use tonic::{Request, Response, Status};

use super::store;
use crate::Violations;
use crate::paging::{decode_token, next_token, page_size};

/// Lists the service's call records (administrators and auditors, as every service's policy
/// says).
#[derive(Debug, Clone)]
pub struct AuditApi {
    service: &'static str,
    db: Db,
}

impl AuditApi {
    pub(crate) fn new(service: &'static str, db: Db) -> Self {
        Self { service, db }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_call_records(
        &self,
        request: Request<pb::ListCallRecordsRequest>,
    ) -> Result<Response<pb::ListCallRecordsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let token = decode_token(&req.page_token, &mut v);
        let before = (!token.is_empty()).then(|| token.parse::<i64>().unwrap_or(-1));
        v.check(
            before.is_some_and(|b| b < 0),
            "page_token",
            "not a token returned by this list",
        );
        v.check(req.actor_id.len() > 200, "actor_id", "at most 200 characters");
        v.check(req.record_id.len() > 200, "record_id", "at most 200 characters");
        if !v.is_empty() {
            return Err(v.into_status());
        }
        let filter = store::Filter {
            actor_id: &req.actor_id,
            record_id: &req.record_id,
            refused_only: req.refused_only,
            before,
        };
        let mut conn = self.db.pool().acquire().await.map_err(status)?;
        let mut records = store::list(&mut conn, &filter, size).await.map_err(status)?;
        for record in &mut records {
            record.service = self.service.to_string();
        }
        let next_page_token = next_token(
            records.len(),
            size,
            records.last().map(|r| r.sequence.to_string()),
        );
        Ok(Response::new(pb::ListCallRecordsResponse {
            records,
            next_page_token,
        }))
    }
}

/// UNAVAILABLE while the database is out of reach, INTERNAL otherwise.
fn status(err: sqlx::Error) -> Status {
    if crm_storage::errors::is_transient(&err) {
        Status::unavailable(format!("database unavailable: {err}"))
    } else {
        tracing::error!(error = %err, "listing call records");
        Status::internal("listing call records failed")
    }
}
