//! The call centre and escalation desk: identifying a caller with their open cases and SLA
//! state, and the escalation log.

use chrono::DateTime;
use crm_auth::Principal;
use crm_proto::servicedesk::v1 as pb;

use super::ServiceDeskApi;
use crate::domain::workflow::phone_digits;
use crate::error::{Result, Violations};
use crate::escalations;
use crate::storage::cases::{self, CaseFilter, CaseRecord};
use crate::storage::customers;

impl ServiceDeskApi {
    /// Where a case stands against its SLA at `now`.
    fn sla_state(&self, c: &CaseRecord, now: i64) -> pb::SlaState {
        let at = |m: i64| DateTime::from_timestamp_micros(m).unwrap_or_default().naive_utc();
        let calendar = &self.config.calendar;
        // A paused clock counts up to the pause.
        let clock = c.paused_at.unwrap_or(now);
        let minutes = if c.resolution_due_at >= clock {
            calendar.minutes_between(at(clock), at(c.resolution_due_at))
        } else {
            -calendar.minutes_between(at(c.resolution_due_at), at(clock))
        };
        pb::SlaState {
            case_id: c.case.id.clone(),
            response_breached: c.first_response_at.unwrap_or(clock) > c.response_due_at,
            resolution_breached: c.resolved_at.unwrap_or(clock) > c.resolution_due_at,
            minutes_to_resolution_due: minutes,
        }
    }

    pub(super) async fn handle_identify_caller(
        &self,
        _p: &Principal,
        req: pb::IdentifyCallerRequest,
    ) -> Result<pb::IdentifyCallerResponse> {
        let digits = phone_digits(&req.phone);
        let mut v = Violations::new();
        v.check(
            !(7..=15).contains(&digits.len()),
            "phone",
            "a phone number of 7 to 15 digits",
        );
        v.finish()?;
        let mut conn = self.conn().await?;
        let Some(customer) = customers::by_phone(&mut conn, &digits).await? else {
            return Ok(pb::IdentifyCallerResponse::default());
        };
        let open = cases::list(
            &mut conn,
            &CaseFilter {
                party_id: customer.party_id.clone(),
                open_only: true,
                ..Default::default()
            },
        )
        .await?;
        let now = self.now();
        Ok(pb::IdentifyCallerResponse {
            identified: true,
            party_id: customer.party_id,
            display_name: customer.display_name,
            tier: customer.tier,
            sla: open.iter().map(|c| self.sla_state(c, now)).collect(),
            open_cases: open.iter().map(|c| c.to_proto(Vec::new())).collect(),
        })
    }

    pub(super) async fn handle_run_escalations(
        &self,
        _p: &Principal,
        _req: pb::RunEscalationsRequest,
    ) -> Result<pb::RunEscalationsResponse> {
        Ok(pb::RunEscalationsResponse {
            raised: escalations::run_once(&self.db, &self.config, &self.relay).await?,
        })
    }

    pub(super) async fn handle_list_escalations(
        &self,
        _p: &Principal,
        req: pb::ListEscalationsRequest,
    ) -> Result<pb::ListEscalationsResponse> {
        Ok(pb::ListEscalationsResponse {
            escalations: cases::escalations(&mut *self.conn().await?, &req.case_id).await?,
        })
    }
}
