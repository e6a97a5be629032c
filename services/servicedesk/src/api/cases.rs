//! Cases: opening (prioritised, routed and given SLA due times), reading, assignment, the status
//! workflow, comments and satisfaction ratings.

use chrono::{DateTime, NaiveDateTime};
use crm_auth::Principal;
use crm_platform::paging::{decode_key, finish_page, page_size};
use crm_proto::servicedesk::v1::events as ev;
use crm_proto::servicedesk::v1::{self as pb, CaseChannel, CaseStatus, CaseType};
use crm_storage::{Conn, Tx};

use super::{ServiceDeskApi, case_view, is_customer, may_see, visible_case};
use crate::domain::priority::{Preferential, priority, sla_minutes};
use crate::domain::workflow::may_move;
use crate::error::{Error, Result, Violations, etag_version};
use crate::events;
use crate::staff_notices;
use crate::storage::cases::{self, CaseFilter, CaseRecord};
use crate::storage::org::AgentFilter;
use crate::storage::{assets, customers, notifications, org, sla, tiers};

const MAX_SUBJECT: usize = 200;
pub(super) const MAX_TEXT: usize = 20_000;

pub(super) fn naive(micros: i64) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .naive_utc()
}

pub(super) fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

pub(super) fn status_of(case: &CaseRecord) -> CaseStatus {
    CaseStatus::try_from(case.case.status).unwrap_or_default()
}

/// The agent of `queue_id` to route a case to: free capacity first, then the category among
/// the agent's skills, then the lowest load relative to capacity.
pub(super) async fn route(conn: &mut Conn, queue_id: &str, category: &str) -> Result<Option<String>> {
    let category = category.trim().to_lowercase();
    let mut candidates: Vec<pb::Agent> = org::agents(conn, AgentFilter::OfQueue(queue_id), i64::MAX)
        .await?
        .into_iter()
        .filter(|a| a.queue_ids.iter().any(|q| q == queue_id) && a.load < a.capacity)
        .collect();
    candidates.sort_by(|a, b| {
        let skilled = |x: &pb::Agent| !x.skills.contains(&category);
        (skilled(a), f64::from(a.load) / f64::from(a.capacity), &a.user_id)
            .partial_cmp(&(skilled(b), f64::from(b.load) / f64::from(b.capacity), &b.user_id))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(candidates.into_iter().next().map(|a| a.user_id))
}

/// The (response, resolution) minutes of a tier and priority: the configured policy, or the
/// built-in one.
pub(super) async fn sla_targets(
    conn: &mut Conn,
    tier: &str,
    priority: i32,
    preferential: &Preferential,
) -> Result<(i64, i64)> {
    Ok(sla::targets(conn, tier, priority)
        .await?
        .unwrap_or_else(|| sla_minutes(priority, preferential.includes(tier))))
}

/// Checks a new case's fields against the desk's queues and agents (paths prefixed `case.`);
/// trims its partner id.
pub(super) async fn check_new_case(conn: &mut Conn, c: &mut pb::Case) -> Result<Violations> {
    let queue_known = !org::existing_queues(conn, std::slice::from_ref(&c.queue_id))
        .await?
        .is_empty();
    let mut v = Violations::new();
    v.check(
        matches!(CaseType::try_from(c.r#type), Ok(CaseType::Unspecified) | Err(_)),
        "case.type",
        "required: inquiry, complaint, request or incident",
    );
    v.check(
        matches!(
            CaseChannel::try_from(c.channel),
            Ok(CaseChannel::Unspecified) | Err(_)
        ),
        "case.channel",
        "required: the channel the case came in through",
    );
    v.check(
        !(1..=4).contains(&c.severity),
        "case.severity",
        "1 (critical) to 4 (low)",
    );
    v.check(c.subject.is_empty(), "case.subject", "required");
    v.check(
        c.subject.chars().count() > MAX_SUBJECT,
        "case.subject",
        "at most 200 characters",
    );
    v.check(
        c.description.chars().count() > MAX_TEXT,
        "case.description",
        "at most 20000 characters",
    );
    v.check(
        c.party_id.is_empty(),
        "case.party_id",
        "required: the customer the case is about",
    );
    c.partner_id = c.partner_id.trim().to_string();
    v.check(
        c.partner_id.len() > 100,
        "case.partner_id",
        "at most 100 characters",
    );
    v.check(!queue_known, "case.queue_id", "no such queue");
    c.asset_id = c.asset_id.trim().to_string();
    c.warranty_end_date.clear();
    if !c.asset_id.is_empty() {
        match assets::get(conn, &c.asset_id).await? {
            Some(a) if a.asset.party_id == c.party_id => c.warranty_end_date = a.asset.warranty_end_date,
            _ => v.add("case.asset_id", "not an asset of the customer"),
        }
    }
    if !c.agent_id.is_empty() {
        let agent = org::agent(conn, &c.agent_id).await?;
        v.check(
            !agent.is_some_and(|a| a.queue_ids.contains(&c.queue_id)),
            "case.agent_id",
            "not an agent of the queue",
        );
    }
    Ok(v)
}

impl ServiceDeskApi {
    /// The tiers that get preferential service now (see [`tiers::preferential`]).
    pub(super) async fn preferential(&self, conn: &mut Conn) -> Result<Preferential> {
        Ok(tiers::preferential(conn, &self.config.preferential_tiers).await?)
    }

    /// The first-response and resolution due times of a case of `priority` for a customer of
    /// `tier` whose clock starts at `from` (business hours of the desk's calendar).
    pub(super) async fn due_times(
        &self,
        conn: &mut Conn,
        tier: &str,
        priority: i32,
        from: i64,
    ) -> Result<(i64, i64)> {
        let preferential = self.preferential(conn).await?;
        Ok(self.due_after(sla_targets(conn, tier, priority, &preferential).await?, from))
    }

    /// The (response, resolution) due times `minutes` of business time after `from`.
    pub(super) fn due_after(&self, (response, resolution): (i64, i64), from: i64) -> (i64, i64) {
        let calendar = &self.config.calendar;
        (
            micros(calendar.add_minutes(naive(from), response)),
            micros(calendar.add_minutes(naive(from), resolution)),
        )
    }

    /// Stores `record` (at its read version) or fails as stale; bumps the version.
    pub(super) async fn save(&self, tx: &mut Tx, record: &mut CaseRecord) -> Result<()> {
        if !cases::update(tx, record).await? {
            return Err(Error::Stale(format!(
                "case {} was changed by someone else; read it again",
                record.case.id
            )));
        }
        record.version += 1;
        Ok(())
    }

    /// Publishes a status change by `actor` and tells the customer and the customer's watchers.
    pub(super) async fn status_changed(
        &self,
        tx: &mut Tx,
        record: &CaseRecord,
        previous: CaseStatus,
        actor: &str,
    ) -> Result<()> {
        events::publish_about(
            tx,
            ev::CASE_STATUS_CHANGED,
            &record.case.id,
            &record.case.party_id,
            &pb::CaseStatusChanged {
                case: Some(record.to_proto(Vec::new())),
                previous_status: previous as i32,
            },
        )
        .await?;
        // The customer hears of every move of their case; the version keys the notice once.
        let status = status_of(record);
        let template = if status == CaseStatus::Resolved {
            "case_resolved"
        } else {
            "case_status_changed"
        };
        let payload = serde_json::json!({
            "case_id": record.case.id,
            "subject": record.case.subject,
            "status": status.as_str_name().trim_start_matches("CASE_STATUS_").to_lowercase(),
            "resolution": record.case.resolution,
        });
        let key = format!("case:{}:v{}", record.case.id, record.version);
        notifications::enqueue(tx, &key, template, &record.case.party_id, &payload, self.now()).await?;
        let detail = format!("{previous:?} -> {status:?}");
        staff_notices::tell_watchers(tx, record, "status_changed", &detail, actor, self.now()).await?;
        Ok(())
    }

    /// Moves a case to `to`, keeping the SLA clock: paused while waiting on the customer (the
    /// due times move out by the business minutes paused, and the escalation clock leaves them
    /// out), stopped when resolved.
    pub(super) fn transition(&self, record: &mut CaseRecord, to: CaseStatus) {
        let now = self.now();
        let calendar = &self.config.calendar;
        if let Some(paused) = record.paused_at.take() {
            let paused_minutes = calendar.minutes_between(naive(paused), naive(now));
            record.waited_minutes += paused_minutes;
            record.resolution_due_at =
                micros(calendar.add_minutes(naive(record.resolution_due_at), paused_minutes));
            if record.first_response_at.is_none() {
                record.response_due_at =
                    micros(calendar.add_minutes(naive(record.response_due_at), paused_minutes));
            }
        }
        match to {
            CaseStatus::WaitingOnCustomer => record.paused_at = Some(now),
            CaseStatus::Resolved => record.resolved_at = Some(now),
            CaseStatus::InProgress | CaseStatus::Assigned => record.resolved_at = None,
            _ => {}
        }
        record.case.status = to as i32;
    }

    /// Gives `agent_id` the most urgent unassigned cases of their queues while they have free
    /// capacity (after a case of theirs is resolved, or their capacity grew).
    pub(super) async fn pull_work(&self, tx: &mut Tx, agent_id: &str) -> Result<()> {
        let Some(agent) = org::agent(tx, agent_id).await? else {
            return Ok(());
        };
        let free = usize::try_from(agent.capacity - agent.load).unwrap_or(0);
        if free == 0 {
            return Ok(());
        }
        let mut waiting = Vec::new();
        for queue_id in &agent.queue_ids {
            let filter = CaseFilter {
                status: CaseStatus::New as i32,
                queue_id: queue_id.clone(),
                ..Default::default()
            };
            // The most urgent `free` of each queue are all the most urgent `free` can be.
            waiting.extend(cases::list(tx, &filter, None, free as i64).await?);
        }
        waiting.sort_by(|a, b| {
            (a.case.priority, a.resolution_due_at, &a.case.id).cmp(&(
                b.case.priority,
                b.resolution_due_at,
                &b.case.id,
            ))
        });
        for mut record in waiting.into_iter().take(free) {
            record.case.agent_id = agent.user_id.clone();
            self.transition(&mut record, CaseStatus::Assigned);
            self.save(tx, &mut record).await?;
            let text = format!("assigned to {}", agent.user_id);
            cases::add_timeline(tx, &record.case.id, self.now(), "system", "assigned", &text, true).await?;
            self.status_changed(tx, &record, CaseStatus::New, "system")
                .await?;
        }
        Ok(())
    }

    /// The queue customers' own requests go to when they name none.
    async fn self_service_queue(&self, tx: &mut Tx) -> Result<String> {
        let name = self.config.self_service_queue.trim();
        match org::queue_by_name(tx, name).await? {
            Some(queue) => Ok(queue.id),
            None => Err(Error::FailedPrecondition(format!(
                "no queue takes customers' own requests: create the queue {name:?} \
                 (or name another with --self-service-queue)"
            ))),
        }
    }

    pub(super) async fn handle_open_case(
        &self,
        p: &Principal,
        req: pb::OpenCaseRequest,
    ) -> Result<pb::OpenCaseResponse> {
        let mut c = req.case.unwrap_or_default();
        c.subject = c.subject.trim().to_string();
        c.category = c.category.trim().to_lowercase();
        if is_customer(p) {
            let own = p.customer_id.clone().unwrap_or_default();
            if !c.party_id.is_empty() && c.party_id != own {
                return Err(Error::PermissionDenied(
                    "a customer opens cases for themselves only".into(),
                ));
            }
            c.party_id = own;
            // Customers do not pick who works their case.
            c.agent_id.clear();
        }
        let mut tx = self.store.begin().await?;
        if is_customer(p) && c.queue_id.is_empty() {
            c.queue_id = self.self_service_queue(&mut tx).await?;
        }
        let v = check_new_case(&mut tx, &mut c).await?;
        v.finish()?;
        // No new case about a customer erased or merged away; held until commit, so that an
        // erasure arriving meanwhile waits and then wipes this case's texts too.
        customers::lock(&mut tx, &[&c.party_id]).await?;
        if let Some(ended) = customers::ended(&mut tx, &[&c.party_id])
            .await?
            .remove(&c.party_id)
        {
            return Err(Error::FailedPrecondition(format!(
                "party {} was {ended}: no new case about them",
                c.party_id
            )));
        }

        let now = self.now();
        let tier = customers::get(&mut tx, &c.party_id)
            .await?
            .map(|x| x.tier)
            .unwrap_or_default();
        c.id = uuid::Uuid::now_v7().to_string();
        c.customer_tier = tier.clone();
        let preferred = self.preferential(&mut tx).await?.includes(&tier);
        c.priority = priority(c.r#type, c.severity, preferred);
        if c.agent_id.is_empty() {
            c.agent_id = route(&mut tx, &c.queue_id, &c.category)
                .await?
                .unwrap_or_default();
        }
        c.status = if c.agent_id.is_empty() {
            CaseStatus::New
        } else {
            CaseStatus::Assigned
        } as i32;
        c.resolution.clear();
        c.satisfaction = 0;
        let (response_due_at, resolution_due_at) = self.due_times(&mut tx, &tier, c.priority, now).await?;
        let record = CaseRecord {
            opened_at: now,
            response_due_at,
            resolution_due_at,
            version: 1,
            case: c,
            ..Default::default()
        };
        cases::insert(&mut tx, &record).await?;
        let id = record.case.id.clone();
        cases::add_timeline(
            &mut tx,
            &id,
            now,
            &p.user_id,
            "opened",
            &record.case.subject,
            false,
        )
        .await?;
        if !record.case.agent_id.is_empty() {
            let text = format!("assigned to {}", record.case.agent_id);
            cases::add_timeline(&mut tx, &id, now, "system", "assigned", &text, true).await?;
        }
        staff_notices::tell_watchers(&mut tx, &record, "opened", &record.case.subject, &p.user_id, now)
            .await?;
        let case = case_view(&mut tx, p, &record).await?;
        events::publish_about(
            &mut tx,
            ev::CASE_OPENED,
            &id,
            &record.case.party_id,
            &pb::CaseOpened {
                case: Some(record.to_proto(Vec::new())),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::OpenCaseResponse { case: Some(case) })
    }

    pub(super) async fn handle_get_case(
        &self,
        p: &Principal,
        req: pb::GetCaseRequest,
    ) -> Result<pb::GetCaseResponse> {
        let mut conn = self.store.conn().await?;
        let record = visible_case(&mut conn, p, &req.id).await?;
        Ok(pb::GetCaseResponse {
            case: Some(case_view(&mut conn, p, &record).await?),
        })
    }

    pub(super) async fn handle_list_cases(
        &self,
        p: &Principal,
        req: pb::ListCasesRequest,
    ) -> Result<pb::ListCasesResponse> {
        if req.closed_only {
            return self.closed_cases(p, req).await;
        }
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let after = decode_key(&req.page_token, &mut v, urgency_key);
        v.finish()?;
        let mut filter = CaseFilter {
            status: req.status,
            queue_id: req.queue_id,
            agent_id: req.agent_id,
            party_id: req.party_id,
            open_only: req.open_only,
        };
        if is_customer(p) {
            filter.party_id = p.customer_id.clone().unwrap_or_default();
            if filter.party_id.is_empty() {
                return Ok(pb::ListCasesResponse::default());
            }
        }
        let mut conn = self.store.conn().await?;
        let records = cases::list(&mut conn, &filter, after.as_ref(), size + 1).await?;
        let (records, next_page_token) = finish_page(records, size, |last| {
            format!(
                "{}|{}|{}",
                last.case.priority, last.resolution_due_at, last.case.id
            )
        });
        let visible: Vec<&CaseRecord> = records.iter().filter(|r| may_see(p, r)).collect();
        let sla = if req.with_sla {
            self.sla_states(&mut conn, &visible).await?
        } else {
            Vec::new()
        };
        Ok(pb::ListCasesResponse {
            // Lists carry no timelines; GetCase has them.
            cases: visible.iter().map(|r| r.to_proto(Vec::new())).collect(),
            sla,
            next_page_token,
        })
    }

    /// A customer's resolved and closed cases, most recently resolved first.
    async fn closed_cases(&self, p: &Principal, req: pb::ListCasesRequest) -> Result<pb::ListCasesResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let before = decode_key(&req.page_token, &mut v, |t| {
            let (at, id) = t.split_once('|')?;
            Some((at.parse::<i64>().ok()?, id.to_string()))
        });
        let party_id = if is_customer(p) {
            p.customer_id.clone().unwrap_or_default()
        } else {
            req.party_id.trim().to_string()
        };
        v.check(party_id.is_empty(), "party_id", "required with closed_only");
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let records = cases::closed_of_party(&mut conn, &party_id, before.as_ref(), size + 1).await?;
        let (records, next_page_token) = finish_page(records, size, |last| {
            format!("{}|{}", last.resolved_at.unwrap_or_default(), last.case.id)
        });
        Ok(pb::ListCasesResponse {
            cases: records
                .iter()
                .filter(|r| may_see(p, r))
                .map(|r| r.to_proto(Vec::new()))
                .collect(),
            sla: Vec::new(),
            next_page_token,
        })
    }

    pub(super) async fn handle_assign_case(
        &self,
        p: &Principal,
        req: pb::AssignCaseRequest,
    ) -> Result<pb::AssignCaseResponse> {
        let mut v = Violations::new();
        let version = etag_version(&req.etag, "etag", true, &mut v);
        v.check(req.agent_id.trim().is_empty(), "agent_id", "required");
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut record = visible_case(&mut tx, p, &req.id).await?;
        let agent = org::agent(&mut tx, &req.agent_id).await?;
        let Some(agent) = agent else {
            return Err(crate::error::invalid("agent_id", "no such agent"));
        };
        if Some(record.version) != version {
            return Err(Error::Stale(format!(
                "case {} has changed since you read it",
                req.id
            )));
        }
        if !record.is_open() {
            return Err(Error::FailedPrecondition(format!(
                "case {} is {:?}",
                req.id,
                status_of(&record)
            )));
        }
        let previous = status_of(&record);
        record.case.agent_id = agent.user_id.clone();
        if agent.queue_ids.contains(&record.case.queue_id) {
            // Same queue.
        } else if let Some(q) = agent.queue_ids.first() {
            // Handing over to another team moves the case to that team's queue.
            record.case.queue_id = q.clone();
        }
        if previous == CaseStatus::New {
            self.transition(&mut record, CaseStatus::Assigned);
        }
        self.save(&mut tx, &mut record).await?;
        let text = format!("assigned to {} by {}", agent.user_id, p.user_id);
        cases::add_timeline(
            &mut tx,
            &record.case.id,
            self.now(),
            &p.user_id,
            "assigned",
            &text,
            true,
        )
        .await?;
        if previous != status_of(&record) {
            self.status_changed(&mut tx, &record, previous, &p.user_id)
                .await?;
        }
        let case = case_view(&mut tx, p, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::AssignCaseResponse { case: Some(case) })
    }

    pub(super) async fn handle_change_case_status(
        &self,
        p: &Principal,
        req: pb::ChangeCaseStatusRequest,
    ) -> Result<pb::ChangeCaseStatusResponse> {
        let to = CaseStatus::try_from(req.status).unwrap_or_default();
        let resolution = req.resolution.trim().to_string();
        let mut v = Violations::new();
        let version = etag_version(&req.etag, "etag", true, &mut v);
        v.check(
            matches!(to, CaseStatus::Unspecified | CaseStatus::New),
            "status",
            "a status to move to",
        );
        v.check(
            to == CaseStatus::Resolved && resolution.is_empty(),
            "resolution",
            "required to resolve a case",
        );
        v.check(
            resolution.chars().count() > MAX_TEXT,
            "resolution",
            "at most 20000 characters",
        );
        v.finish()?;
        if is_customer(p) && !matches!(to, CaseStatus::Closed | CaseStatus::InProgress) {
            return Err(Error::PermissionDenied(
                "a customer may only close or reopen a resolved case".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut record = visible_case(&mut tx, p, &req.id).await?;
        if Some(record.version) != version {
            return Err(Error::Stale(format!(
                "case {} has changed since you read it",
                req.id
            )));
        }
        let from = status_of(&record);
        if is_customer(p) && from != CaseStatus::Resolved {
            return Err(Error::PermissionDenied(
                "a customer may only close or reopen a resolved case".into(),
            ));
        }
        if !may_move(from, to) {
            return Err(Error::FailedPrecondition(format!(
                "a {from:?} case cannot move to {to:?}"
            )));
        }
        if to == CaseStatus::Resolved {
            record.case.resolution = resolution;
        }
        self.transition(&mut record, to);
        self.save(&mut tx, &mut record).await?;
        let text = format!("{from:?} -> {to:?}");
        cases::add_timeline(
            &mut tx,
            &record.case.id,
            self.now(),
            &p.user_id,
            "status",
            &text,
            false,
        )
        .await?;
        self.status_changed(&mut tx, &record, from, &p.user_id).await?;
        if matches!(to, CaseStatus::Resolved | CaseStatus::Closed) && !record.case.agent_id.is_empty() {
            let agent_id = record.case.agent_id.clone();
            self.pull_work(&mut tx, &agent_id).await?;
        }
        let case = case_view(&mut tx, p, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::ChangeCaseStatusResponse { case: Some(case) })
    }

    pub(super) async fn handle_add_comment(
        &self,
        p: &Principal,
        req: pb::AddCommentRequest,
    ) -> Result<pb::AddCommentResponse> {
        let text = req.text.trim().to_string();
        let mut v = Violations::new();
        v.check(text.is_empty(), "text", "required");
        v.check(
            text.chars().count() > MAX_TEXT,
            "text",
            "at most 20000 characters",
        );
        v.check(
            req.internal && is_customer(p),
            "internal",
            "customers cannot write internal notes",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut record = visible_case(&mut tx, p, &req.id).await?;
        if status_of(&record) == CaseStatus::Closed {
            return Err(Error::FailedPrecondition(format!("case {} is closed", req.id)));
        }
        let now = self.now();
        let previous = status_of(&record);
        let mut changed = false;
        if is_customer(p) {
            // The customer answered: the case is back with the desk.
            if previous == CaseStatus::WaitingOnCustomer {
                self.transition(&mut record, CaseStatus::InProgress);
                changed = true;
            }
        } else if !req.internal && record.first_response_at.is_none() {
            record.first_response_at = Some(now);
            changed = true;
        }
        if changed {
            self.save(&mut tx, &mut record).await?;
        }
        cases::add_timeline(
            &mut tx,
            &record.case.id,
            now,
            &p.user_id,
            "comment",
            &text,
            req.internal,
        )
        .await?;
        if previous != status_of(&record) {
            self.status_changed(&mut tx, &record, previous, &p.user_id)
                .await?;
        }
        let case = case_view(&mut tx, p, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::AddCommentResponse { case: Some(case) })
    }

    pub(super) async fn handle_rate_case(
        &self,
        p: &Principal,
        req: pb::RateCaseRequest,
    ) -> Result<pb::RateCaseResponse> {
        let mut v = Violations::new();
        v.check(
            !(1..=5).contains(&req.rating),
            "rating",
            "1 (very dissatisfied) to 5 (very satisfied)",
        );
        v.check(
            req.comment.chars().count() > MAX_TEXT,
            "comment",
            "at most 20000 characters",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut record = visible_case(&mut tx, p, &req.id).await?;
        if record.is_open() {
            return Err(Error::FailedPrecondition(format!(
                "case {} is not resolved yet",
                req.id
            )));
        }
        record.case.satisfaction = req.rating;
        self.save(&mut tx, &mut record).await?;
        let text = format!("rated {}/5 {}", req.rating, req.comment.trim())
            .trim()
            .to_string();
        cases::add_timeline(
            &mut tx,
            &record.case.id,
            self.now(),
            &p.user_id,
            "rating",
            &text,
            false,
        )
        .await?;
        let case = case_view(&mut tx, p, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::RateCaseResponse { case: Some(case) })
    }
}

/// The urgency key a page token carries: "priority|resolution due|id".
fn urgency_key(token: &str) -> Option<cases::UrgencyKey> {
    let mut parts = token.splitn(3, '|');
    let priority = parts.next()?.parse().ok()?;
    let due = parts.next()?.parse().ok()?;
    let id = parts.next()?.to_string();
    Some((priority, due, id))
}
