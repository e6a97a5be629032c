//! Tasks: follow-up work with a due time, an optional reminder and the record it is about, for
//! reps, service agents and marketers; listed per person with the overdue ones first.

use crm_auth::{Principal, Role};
use crm_platform::Violations;
use crm_platform::errors::etag_version;
use crm_platform::paging::{decode_key, finish_page, key_of, page_size, parts};
use crm_proto::sales::v1::{self as pb, TaskStatus};

use super::SalesApi;
use crate::domain::rules;
use crate::error::{Error, Result};
use crate::storage::new_id;
use crate::storage::tasks::{self, TaskKey, TaskRecord, TasksOf, micros_of};

/// Longest title, and longest notes.
const MAX_TITLE: usize = 200;
const MAX_NOTES: usize = 20_000;

/// Roles that give tasks to other people.
const ASSIGNERS: &[Role] = &[Role::SalesManager, Role::ServiceManager, Role::Service];

fn may_assign(p: &Principal) -> bool {
    p.is_admin() || p.has_any_role(ASSIGNERS)
}

impl SalesApi {
    /// A task `p` may see and change: its owner and creator, and those who assign tasks.
    async fn task_for(&self, conn: &mut crm_storage::Conn, p: &Principal, id: &str) -> Result<TaskRecord> {
        let record = tasks::get(conn, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {id}")))?;
        if record.task.owner_id != p.user_id && record.task.created_by != p.user_id && !may_assign(p) {
            return Err(Error::PermissionDenied(format!("task {id} is not yours")));
        }
        Ok(record)
    }

    pub(super) async fn handle_create_task(
        &self,
        p: &Principal,
        req: pb::CreateTaskRequest,
    ) -> Result<pb::CreateTaskResponse> {
        let mut t = req.task.unwrap_or_default();
        for field in [
            &mut t.title,
            &mut t.owner_id,
            &mut t.party_id,
            &mut t.opportunity_id,
            &mut t.case_id,
        ] {
            *field = field.trim().to_string();
        }
        let (due_at, remind_at) = (micros_of(&t.due_time), micros_of(&t.remind_time));
        let mut v = Violations::new();
        v.check(t.title.is_empty(), "task.title", "required");
        v.check(
            t.title.chars().count() > MAX_TITLE,
            "task.title",
            "at most 200 characters",
        );
        v.check(
            t.notes.chars().count() > MAX_NOTES,
            "task.notes",
            "at most 20000 characters",
        );
        v.check(due_at.is_none(), "task.due_time", "required");
        v.check(
            remind_at.is_some_and(|r| due_at.is_some_and(|d| r > d)),
            "task.remind_time",
            "not after the due time",
        );
        v.check(
            t.party_id.is_empty() && t.opportunity_id.is_empty() && t.case_id.is_empty(),
            "task.party_id",
            "name the customer, opportunity or case it is about",
        );
        for (value, field) in [(&t.owner_id, "task.owner_id"), (&t.case_id, "task.case_id")] {
            v.check(value.chars().count() > 100, field, "at most 100 characters");
        }
        v.finish()?;
        if t.owner_id.is_empty() {
            t.owner_id = p.user_id.clone();
        } else if t.owner_id != p.user_id && !may_assign(p) {
            return Err(Error::PermissionDenied(
                "tasks for other people are given by managers".into(),
            ));
        }
        // The customer must be one the caller can read; an opportunity one they may work.
        self.fetch_party(p, &t.party_id, "task.party_id").await?;
        let mut tx = self.store.begin().await?;
        if !t.opportunity_id.is_empty() {
            let o = self.opportunity(&mut tx, &t.opportunity_id).await?;
            if !rules::may_read(p, &o.owner_id, &o.team_id, &o.territory_id) {
                return Err(Error::PermissionDenied(format!(
                    "{} may not work opportunity {}",
                    p.user_id, o.id
                )));
            }
            if t.party_id.is_empty() {
                t.party_id = o.party_id;
            } else if t.party_id != o.party_id {
                return Err(crate::error::invalid(
                    "task.party_id",
                    "not the opportunity's party",
                ));
            }
        }
        if !t.party_id.is_empty() {
            self.ensure_party(&mut tx, &t.party_id, "task.party_id").await?;
        }
        let now = self.store.now_micros();
        t.id = new_id();
        t.status = TaskStatus::Open as i32;
        t.created_by = p.user_id.clone();
        let record = TaskRecord {
            task: t,
            due_at: due_at.unwrap_or_default(),
            remind_at,
            reminder_due_at: remind_at,
            created_at: now,
            version: 1,
            ..Default::default()
        };
        tasks::insert(&mut tx, &record).await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateTaskResponse {
            task: Some(record.to_proto(now)),
        })
    }

    pub(super) async fn handle_update_task(
        &self,
        p: &Principal,
        req: pb::UpdateTaskRequest,
    ) -> Result<pb::UpdateTaskResponse> {
        let mut v = Violations::new();
        let version = etag_version(&req.etag, "etag", true, &mut v);
        let status = TaskStatus::try_from(req.status);
        v.check(status.is_err(), "status", "open, done or cancelled");
        v.check(
            req.notes.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTES),
            "notes",
            "at most 20000 characters",
        );
        let owner = req.owner_id.trim().to_string();
        v.check(owner.chars().count() > 100, "owner_id", "at most 100 characters");
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let mut record = self.task_for(&mut tx, p, req.id.trim()).await?;
        if Some(record.version) != version {
            return Err(Error::Stale(format!(
                "task {} has changed since you read it",
                record.task.id
            )));
        }
        let now = self.store.now_micros();
        let was_open = record.task.status == TaskStatus::Open as i32;
        if let Some(status) = status.ok().filter(|s| *s != TaskStatus::Unspecified) {
            record.task.status = status as i32;
            record.completed_at = (status != TaskStatus::Open).then_some(now);
        }
        if let Some(due) = micros_of(&req.due_time) {
            // A rescheduled task is reminded as long before its new due time as before.
            if req.remind_time.is_none() {
                record.remind_at = record.remind_at.map(|r| r + (due - record.due_at));
            }
            record.due_at = due;
        }
        if let Some(remind) = micros_of(&req.remind_time) {
            record.remind_at = Some(remind);
        }
        if record.remind_at.is_some_and(|r| r > record.due_at) {
            return Err(crate::error::invalid("remind_time", "not after the due time"));
        }
        if !owner.is_empty() && owner != record.task.owner_id {
            // The owner hands a task to a colleague; managers to anyone.
            if record.task.owner_id != p.user_id && !may_assign(p) {
                return Err(Error::PermissionDenied(
                    "a task is handed over by its owner or a manager".into(),
                ));
            }
            record.task.owner_id = owner;
        }
        if let Some(notes) = req.notes {
            record.task.notes = notes;
        }
        // Closed tasks remind nobody; a moved time reminds (again) at the new time; a reopened
        // task reminds if its time is still ahead; otherwise a reminder already sent stays sent.
        let rescheduled = req.due_time.is_some() || req.remind_time.is_some();
        record.reminder_due_at = if record.task.status != TaskStatus::Open as i32 {
            None
        } else if rescheduled {
            record.remind_at
        } else if !was_open {
            record.remind_at.filter(|r| *r > now)
        } else {
            record.reminder_due_at
        };
        if !tasks::update(&mut tx, &record).await? {
            return Err(Error::Stale(format!(
                "task {} has changed since you read it",
                record.task.id
            )));
        }
        record.version += 1;
        self.store.commit(tx).await?;
        Ok(pb::UpdateTaskResponse {
            task: Some(record.to_proto(now)),
        })
    }

    pub(super) async fn handle_list_tasks(
        &self,
        p: &Principal,
        req: pb::ListTasksRequest,
    ) -> Result<pb::ListTasksResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 50, 500, &mut v);
        let after: Option<TaskKey> = decode_key(&req.page_token, &mut v, |t| {
            let k = parts(t, 3)?;
            Some((k[0].parse().ok()?, k[1].parse().ok()?, k[2].clone()))
        });
        let (owner, party) = (req.owner_id.trim(), req.party_id.trim());
        v.check(
            !owner.is_empty() && !party.is_empty(),
            "party_id",
            "list a person's tasks or a customer's, not both",
        );
        v.finish()?;
        let of = if !party.is_empty() {
            TasksOf::Party(party)
        } else if owner.is_empty() || owner == p.user_id {
            TasksOf::Owner(&p.user_id)
        } else if may_assign(p) || p.has_role(Role::Auditor) {
            TasksOf::Owner(owner)
        } else {
            return Err(Error::PermissionDenied(
                "another person's tasks are for managers".into(),
            ));
        };
        let mut conn = self.store.conn().await?;
        let rows = tasks::list(&mut conn, of, req.open_only, after.as_ref(), size + 1).await?;
        let (rows, next_page_token) = finish_page(rows, size, |t| {
            key_of(&[t.task.status.to_string(), t.due_at.to_string(), t.task.id.clone()])
        });
        let now = self.store.now_micros();
        Ok(pb::ListTasksResponse {
            tasks: rows.iter().map(|t| t.to_proto(now)).collect(),
            next_page_token,
        })
    }
}

impl SalesApi {
    pub(super) async fn handle_send_task_reminders(
        &self,
        _p: &Principal,
        _req: pb::SendTaskRemindersRequest,
    ) -> Result<pb::SendTaskRemindersResponse> {
        let sent = crate::reminders::run_once(&self.store)
            .await
            .map_err(Error::Internal)?;
        Ok(pb::SendTaskRemindersResponse {
            sent: i32::try_from(sent).unwrap_or(i32::MAX),
        })
    }
}
