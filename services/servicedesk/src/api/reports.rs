//! The service report.

use crm_auth::Principal;
use crm_calendar::Period;
use crm_proto::servicedesk::v1 as pb;

use super::ServiceDeskApi;
use crate::domain::report::report;
use crate::error::{Result, invalid};
use crate::storage::cases;

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
        let totals = cases::report_totals(&mut conn, &req.queue_id, start, end, self.now()).await?;
        Ok(report(&totals))
    }
}
