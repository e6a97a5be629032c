//! Changing a case after it was opened: correcting its type, category or severity (it is
//! prioritised again) and transferring it to another queue with a reason.

use crm_auth::Principal;
use crm_proto::servicedesk::v1::events as ev;
use crm_proto::servicedesk::v1::{self as pb, CaseStatus, CaseType};
use crm_storage::Tx;

use super::cases::{MAX_TEXT, micros, naive, route, sla_targets, status_of};
use super::{ServiceDeskApi, case_view, visible_case};
use crate::domain::priority::priority;
use crate::error::{Error, Result, Violations, etag_version};
use crate::events;
use crate::staff_notices;
use crate::storage::cases::{self, CaseRecord};
use crate::storage::org;

/// The longest category name.
const MAX_CATEGORY: usize = 100;

/// What a case was before a change, for its event and timeline.
struct Before {
    kind: i32,
    category: String,
    severity: i32,
    queue_id: String,
    priority: i32,
}

impl Before {
    fn of(record: &CaseRecord) -> Self {
        Self {
            kind: record.case.r#type,
            category: record.case.category.clone(),
            severity: record.case.severity,
            queue_id: record.case.queue_id.clone(),
            priority: record.case.priority,
        }
    }
}

fn type_name(kind: i32) -> String {
    CaseType::try_from(kind)
        .unwrap_or_default()
        .as_str_name()
        .trim_start_matches("CASE_TYPE_")
        .to_lowercase()
}

impl ServiceDeskApi {
    /// An open case `p` may see, at the version of `etag`.
    async fn open_case_at(
        &self,
        tx: &mut Tx,
        p: &Principal,
        id: &str,
        version: Option<i64>,
    ) -> Result<CaseRecord> {
        let record = visible_case(tx, p, id).await?;
        if Some(record.version) != version {
            return Err(Error::Stale(format!("case {id} has changed since you read it")));
        }
        if !record.is_open() {
            return Err(Error::FailedPrecondition(format!(
                "case {id} is {:?}; reopen it first",
                status_of(&record)
            )));
        }
        Ok(record)
    }

    /// Gives the case the priority its type, severity and customer's tier call for; when that
    /// changes, its SLA due times follow the new targets from when its clock started (its
    /// opening, or its import) plus the business time it waited on the customer. A first response already given stays on time
    /// or late as it was.
    async fn reprioritise(&self, tx: &mut Tx, record: &mut CaseRecord) -> Result<()> {
        let preferential = self.preferential(tx).await?;
        let tier = record.case.customer_tier.clone();
        let new = priority(
            record.case.r#type,
            record.case.severity,
            preferential.includes(&tier),
        );
        if new == record.case.priority {
            return Ok(());
        }
        record.case.priority = new;
        let (response, resolution) = sla_targets(tx, &tier, new, &preferential).await?;
        let calendar = &self.config.calendar;
        let start = naive(record.clock_from.unwrap_or(record.opened_at));
        let waited = record.waited_minutes;
        record.resolution_due_at = micros(calendar.add_minutes(start, resolution + waited));
        if record.first_response_at.is_none() {
            record.response_due_at = micros(calendar.add_minutes(start, response + waited));
        }
        Ok(())
    }

    /// Saves a changed case with its timeline entry, event and watchers' notices.
    async fn record_change(
        &self,
        tx: &mut Tx,
        p: &Principal,
        record: &mut CaseRecord,
        before: Before,
        (kind, text, reason): (&str, String, String),
    ) -> Result<()> {
        self.save(tx, record).await?;
        let now = self.now();
        cases::add_timeline(tx, &record.case.id, now, &p.user_id, kind, &text, true).await?;
        events::publish_about(
            tx,
            ev::CASE_UPDATED,
            &record.case.id,
            &record.case.party_id,
            &pb::CaseUpdated {
                case: Some(record.to_proto(Vec::new())),
                previous_type: before.kind,
                previous_category: before.category,
                previous_severity: before.severity,
                previous_queue_id: before.queue_id,
                previous_priority: before.priority,
                reason,
            },
        )
        .await?;
        staff_notices::tell_watchers(tx, record, kind, &text, &p.user_id, now).await?;
        Ok(())
    }

    pub(super) async fn handle_update_case(
        &self,
        p: &Principal,
        req: pb::UpdateCaseRequest,
    ) -> Result<pb::UpdateCaseResponse> {
        let mut v = Violations::new();
        let version = etag_version(&req.etag, "etag", true, &mut v);
        let kind = CaseType::try_from(req.r#type);
        v.check(kind.is_err(), "type", "inquiry, complaint, request or incident");
        let category = req.category.as_deref().map(|c| c.trim().to_lowercase());
        v.check(
            category
                .as_ref()
                .is_some_and(|c| c.chars().count() > MAX_CATEGORY),
            "category",
            "at most 100 characters",
        );
        v.check(
            req.severity.is_some_and(|s| !(1..=4).contains(&s)),
            "severity",
            "1 (critical) to 4 (low)",
        );
        v.check(
            req.r#type == 0 && category.is_none() && req.severity.is_none(),
            "type",
            "nothing to change: give a type, category or severity",
        );
        let reason = req.reason.trim().to_string();
        v.check(
            reason.chars().count() > MAX_TEXT,
            "reason",
            "at most 20000 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut record = self.open_case_at(&mut tx, p, &req.id, version).await?;
        let before = Before::of(&record);
        if req.r#type != 0 {
            record.case.r#type = req.r#type;
        }
        if let Some(category) = category {
            record.case.category = category;
        }
        if let Some(severity) = req.severity {
            record.case.severity = severity;
        }
        self.reprioritise(&mut tx, &mut record).await?;
        let mut changes = Vec::new();
        if before.kind != record.case.r#type {
            changes.push(format!(
                "type {} -> {}",
                type_name(before.kind),
                type_name(record.case.r#type)
            ));
        }
        if before.category != record.case.category {
            changes.push(format!(
                "category {:?} -> {:?}",
                before.category, record.case.category
            ));
        }
        if before.severity != record.case.severity {
            changes.push(format!(
                "severity {} -> {}",
                before.severity, record.case.severity
            ));
        }
        if before.priority != record.case.priority {
            changes.push(format!(
                "priority {} -> {}",
                before.priority, record.case.priority
            ));
        }
        if !changes.is_empty() {
            let mut text = changes.join(", ");
            if !reason.is_empty() {
                text = format!("{text}: {reason}");
            }
            self.record_change(&mut tx, p, &mut record, before, ("updated", text, reason))
                .await?;
        }
        let case = case_view(&mut tx, p, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateCaseResponse { case: Some(case) })
    }

    pub(super) async fn handle_transfer_case(
        &self,
        p: &Principal,
        req: pb::TransferCaseRequest,
    ) -> Result<pb::TransferCaseResponse> {
        let reason = req.reason.trim().to_string();
        let mut v = Violations::new();
        let version = etag_version(&req.etag, "etag", true, &mut v);
        v.check(
            req.queue_id.trim().is_empty(),
            "queue_id",
            "required: the queue to move the case to",
        );
        v.check(reason.is_empty(), "reason", "required: why the case moves");
        v.check(
            reason.chars().count() > MAX_TEXT,
            "reason",
            "at most 20000 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let Some(to) = org::queue(&mut tx, req.queue_id.trim()).await? else {
            return Err(crate::error::invalid("queue_id", "no such queue"));
        };
        let mut record = self.open_case_at(&mut tx, p, &req.id, version).await?;
        if record.case.queue_id == to.id {
            return Err(crate::error::invalid(
                "queue_id",
                "the case is in this queue already",
            ));
        }
        let from = org::queue(&mut tx, &record.case.queue_id)
            .await?
            .map(|q| q.name)
            .unwrap_or_default();
        let before = Before::of(&record);
        let previous_status = status_of(&record);
        let previous_agent = std::mem::take(&mut record.case.agent_id);
        record.case.queue_id = to.id.clone();
        // The new department works it: an agent of the queue with room takes it, or it waits
        // there unassigned. A case waiting on the customer keeps waiting.
        let agent = route(&mut tx, &to.id, &record.case.category).await?;
        if previous_status != CaseStatus::WaitingOnCustomer {
            let status = if agent.is_some() {
                CaseStatus::Assigned
            } else {
                CaseStatus::New
            };
            self.transition(&mut record, status);
        }
        record.case.agent_id = agent.unwrap_or_default();
        let text = format!("transferred from {from} to {}: {reason}", to.name);
        self.record_change(&mut tx, p, &mut record, before, ("transferred", text, reason))
            .await?;
        if !record.case.agent_id.is_empty() {
            let text = format!("assigned to {}", record.case.agent_id);
            cases::add_timeline(
                &mut tx,
                &record.case.id,
                self.now(),
                "system",
                "assigned",
                &text,
                true,
            )
            .await?;
        }
        if previous_status != status_of(&record) {
            self.status_changed(&mut tx, &record, previous_status, &p.user_id)
                .await?;
        }
        // The agent who had it has room again.
        if !previous_agent.is_empty() {
            self.pull_work(&mut tx, &previous_agent).await?;
        }
        let case = case_view(&mut tx, p, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::TransferCaseResponse { case: Some(case) })
    }
}
