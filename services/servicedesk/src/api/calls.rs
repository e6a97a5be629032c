//! The call centre and escalation desk: identifying a caller with their open cases and SLA
//! state, outbound call lists with their outcomes, the escalation log and proactive
//! notifications.

use chrono::DateTime;
use crm_auth::Principal;
use crm_proto::servicedesk::v1 as pb;

use super::ServiceDeskApi;
use crate::error::{Error, Result, Violations};
use crate::escalations;
use crate::storage::cases::{self, CaseFilter, CaseRecord};
use crate::storage::{calls, customers, notifications};
use crm_platform::contact::normalize_phone;
use crm_platform::paging::{decode_key, finish_page, page_size, time_and_id};

/// Open cases an identified caller comes with, most urgent first.
const MAX_CALLER_CASES: i64 = 100;
/// Entries of a call list returned with it when none are asked for.
const FIRST_ENTRIES: i64 = 100;

impl ServiceDeskApi {
    /// Where each case stands against its SLA now, with the escalations raised for it.
    pub(super) async fn sla_states(
        &self,
        conn: &mut crm_storage::Conn,
        records: &[&CaseRecord],
    ) -> Result<Vec<pb::SlaState>> {
        let now = self.now();
        let ids: Vec<&str> = records.iter().map(|c| c.case.id.as_str()).collect();
        let mut raised = cases::escalation_levels(conn, &ids).await?;
        Ok(records
            .iter()
            .map(|c| pb::SlaState {
                escalated_to: raised.remove(&c.case.id).unwrap_or_default(),
                ..self.sla_state(c, now)
            })
            .collect())
    }

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
            escalated_to: Vec::new(),
        }
    }

    pub(super) async fn handle_identify_caller(
        &self,
        _p: &Principal,
        req: pb::IdentifyCallerRequest,
    ) -> Result<pb::IdentifyCallerResponse> {
        let Some(digits) = normalize_phone(&req.phone) else {
            return Err(crate::error::invalid("phone", "a phone number of 7 to 15 digits"));
        };
        let mut conn = self.store.conn().await?;
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
            None,
            MAX_CALLER_CASES,
        )
        .await?;
        let sla = self
            .sla_states(&mut conn, &open.iter().collect::<Vec<_>>())
            .await?;
        Ok(pb::IdentifyCallerResponse {
            identified: true,
            party_id: customer.party_id,
            display_name: customer.display_name,
            tier: customer.tier,
            sla,
            open_cases: open.iter().map(|c| c.to_proto(Vec::new())).collect(),
        })
    }

    pub(super) async fn handle_run_escalations(
        &self,
        _p: &Principal,
        _req: pb::RunEscalationsRequest,
    ) -> Result<pb::RunEscalationsResponse> {
        Ok(pb::RunEscalationsResponse {
            raised: escalations::run_once(&self.store, &self.config).await?,
        })
    }

    pub(super) async fn handle_list_escalations(
        &self,
        _p: &Principal,
        req: pb::ListEscalationsRequest,
    ) -> Result<pb::ListEscalationsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let after = decode_key(&req.page_token, &mut v, |position| {
            let (at, rest) = time_and_id(position)?;
            let (case, level) = rest.split_once('|')?;
            Some((at, case.to_string(), level.to_string()))
        });
        v.finish()?;
        let rows = cases::escalations(
            &mut *self.store.conn().await?,
            &req.case_id,
            after.as_ref(),
            size + 1,
        )
        .await?;
        let (escalations, next_page_token) = finish_page(rows, size, |e| {
            let at = e
                .raise_time
                .as_ref()
                .map(crm_platform::time::micros)
                .unwrap_or_default();
            format!("{at}|{}|{}", e.case_id, e.level)
        });
        Ok(pb::ListEscalationsResponse {
            escalations,
            next_page_token,
        })
    }
}

impl ServiceDeskApi {
    pub(super) async fn handle_create_call_list(
        &self,
        _p: &Principal,
        req: pb::CreateCallListRequest,
    ) -> Result<pb::CreateCallListResponse> {
        let source = pb::CallListSource::try_from(req.source).unwrap_or_default();
        let mut v = Violations::new();
        v.check(req.name.trim().is_empty(), "name", "required");
        v.check(
            source == pb::CallListSource::Unspecified,
            "source",
            "follow-ups due, at risk or parties",
        );
        v.check(
            source == pb::CallListSource::Parties && req.party_ids.is_empty(),
            "party_ids",
            "required for a list of parties",
        );
        v.check(req.party_ids.len() > 10_000, "party_ids", "at most 10000");
        v.finish()?;
        let selection = match source {
            pb::CallListSource::FollowUpsDue => calls::Selection::FollowUpsDue,
            pb::CallListSource::AtRisk => calls::Selection::AtRisk,
            _ => calls::Selection::Parties(&req.party_ids),
        };
        let list = pb::CallList {
            id: uuid::Uuid::now_v7().to_string(),
            name: req.name.trim().to_string(),
            source: source as i32,
            ..Default::default()
        };
        let mut tx = self.store.begin().await?;
        calls::create(&mut tx, self.store.db().backend(), &list, self.now(), selection).await?;
        let stored = calls::get(&mut tx, &list.id).await?;
        let first = calls::entries(&mut tx, &list.id, false, None, FIRST_ENTRIES).await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateCallListResponse {
            call_list: stored.map(|l| pb::CallList { entries: first, ..l }),
        })
    }

    pub(super) async fn handle_get_call_list(
        &self,
        _p: &Principal,
        req: pb::GetCallListRequest,
    ) -> Result<pb::GetCallListResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, FIRST_ENTRIES, 1000, &mut v);
        let after = decode_key(&req.page_token, &mut v, |position| Some(position.to_string()));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let list = calls::get(&mut conn, &req.id).await?;
        let list = list.ok_or_else(|| Error::NotFound(format!("call list {}", req.id)))?;
        let rows = calls::entries(&mut conn, &req.id, req.uncalled_only, after.as_deref(), size + 1).await?;
        let (entries, next_page_token) = finish_page(rows, size, |e| e.party_id.clone());
        Ok(pb::GetCallListResponse {
            call_list: Some(pb::CallList { entries, ..list }),
            next_page_token,
        })
    }

    pub(super) async fn handle_list_call_lists(
        &self,
        _p: &Principal,
        req: pb::ListCallListsRequest,
    ) -> Result<pb::ListCallListsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let before = decode_key(&req.page_token, &mut v, time_and_id);
        v.finish()?;
        let rows = calls::list_page(&mut *self.store.conn().await?, before.as_ref(), size + 1).await?;
        let (call_lists, next_page_token) = finish_page(rows, size, |l| {
            let at = l
                .create_time
                .as_ref()
                .map(crm_platform::time::micros)
                .unwrap_or_default();
            format!("{at}|{}", l.id)
        });
        Ok(pb::ListCallListsResponse {
            call_lists,
            next_page_token,
        })
    }

    pub(super) async fn handle_record_call_outcome(
        &self,
        p: &Principal,
        req: pb::RecordCallOutcomeRequest,
    ) -> Result<pb::RecordCallOutcomeResponse> {
        let mut v = Violations::new();
        v.check(
            matches!(
                pb::CallOutcome::try_from(req.outcome),
                Ok(pb::CallOutcome::Unspecified) | Err(_)
            ),
            "outcome",
            "reached, no answer, call back, wrong number or declined",
        );
        v.check(
            req.note.chars().count() > 20_000,
            "note",
            "at most 20000 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let entry = calls::record_outcome(
            &mut tx,
            &req.call_list_id,
            &req.party_id,
            req.outcome,
            req.note.trim(),
            &p.user_id,
            self.now(),
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} on call list {}", req.party_id, req.call_list_id)))?;
        self.store.commit(tx).await?;
        Ok(pb::RecordCallOutcomeResponse { entry: Some(entry) })
    }
}

impl ServiceDeskApi {
    pub(super) async fn handle_list_notifications(
        &self,
        _p: &Principal,
        req: pb::ListNotificationsRequest,
    ) -> Result<pb::ListNotificationsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let before = decode_key(&req.page_token, &mut v, time_and_id);
        v.finish()?;
        let page = notifications::list(
            &mut *self.store.conn().await?,
            req.recipient.trim(),
            req.status,
            before.as_ref(),
            size + 1,
        )
        .await?;
        let (page, next_page_token) = finish_page(page, size, |(at, n)| format!("{at}|{}", n.id));
        Ok(pb::ListNotificationsResponse {
            notifications: page.into_iter().map(|(_, n)| n).collect(),
            next_page_token,
        })
    }

    pub(super) async fn handle_deliver_notifications(
        &self,
        _p: &Principal,
        _req: pb::DeliverNotificationsRequest,
    ) -> Result<pb::DeliverNotificationsResponse> {
        crate::notifications::queue_special_days(&self.store).await?;
        let run = self.deliverer.deliver_due(&self.store, &self.config).await?;
        Ok(pb::DeliverNotificationsResponse {
            delivered: run.delivered,
            retrying: run.retrying,
            failed: run.failed,
            suppressed: run.suppressed,
            withdrawn: run.withdrawn,
        })
    }
}
