//! The service report.

use crm_auth::Principal;
use crm_calendar::Period;
use crm_proto::servicedesk::v1 as pb;

use super::ServiceDeskApi;
use crate::domain::report::{CaseFacts, report};
use crate::error::{Result, invalid};
use crate::storage::cases::{self, CaseFilter, CaseRecord};

fn facts(c: &CaseRecord) -> CaseFacts {
    CaseFacts {
        channel: c.case.channel,
        case_type: c.case.r#type,
        status: c.case.status,
        agent_id: c.case.agent_id.clone(),
        opened_at: c.opened_at,
        response_due_at: c.response_due_at,
        resolution_due_at: c.resolution_due_at,
        first_response_at: c.first_response_at,
        resolved_at: c.resolved_at,
        satisfaction: c.case.satisfaction,
    }
}

impl ServiceDeskApi {
    pub(super) async fn handle_get_service_report(
        &self,
        _p: &Principal,
        req: pb::GetServiceReportRequest,
    ) -> Result<pb::GetServiceReportResponse> {
        let period =
            Period::parse(req.period.trim()).ok_or_else(|| invalid("period", "2026, 2026-Q4 or 2026-11"))?;
        let micros = |d: chrono::NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_micros()
        };
        let (start, end) = (micros(period.start), micros(period.end_exclusive()));
        let mut conn = self.store.conn().await?;
        let all = cases::list(
            &mut conn,
            &CaseFilter {
                queue_id: req.queue_id,
                ..Default::default()
            },
        )
        .await?;
        let in_period: Vec<CaseFacts> = all
            .iter()
            .filter(|c| (start..end).contains(&c.opened_at))
            .map(facts)
            .collect();
        let open: Vec<CaseFacts> = all.iter().filter(|c| c.is_open()).map(facts).collect();
        Ok(report(&in_period, &open, self.now()))
    }
}
