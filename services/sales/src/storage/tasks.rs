//! Tasks: follow-up work with a due time and a reminder.

use crm_proto::sales::v1::{self as pb, TaskStatus};
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::{micros, timestamp};

/// A task as stored; times in µs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRecord {
    /// The task (times, status and etag filled by [`TaskRecord::to_proto`]).
    pub task: pb::Task,
    /// Due.
    pub due_at: i64,
    /// When to remind the owner, if at all.
    pub remind_at: Option<i64>,
    /// The reminder still to send: `remind_at` while the task is open and not yet reminded.
    pub reminder_due_at: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// Done or cancelled.
    pub completed_at: Option<i64>,
    /// Optimistic-concurrency version.
    pub version: i64,
}

impl TaskRecord {
    /// The API form at `now`.
    pub fn to_proto(&self, now: i64) -> pb::Task {
        let open = self.task.status == TaskStatus::Open as i32;
        pb::Task {
            due_time: Some(timestamp(self.due_at)),
            remind_time: self.remind_at.map(timestamp),
            create_time: Some(timestamp(self.created_at)),
            complete_time: self.completed_at.map(timestamp),
            overdue: open && now > self.due_at,
            etag: self.version.to_string(),
            ..self.task.clone()
        }
    }
}

const COLUMNS: &str = "id, title, notes, owner_id, party_id, opportunity_id, case_id, due_at, remind_at, \
     reminder_due_at, status, created_by, created_at, completed_at, version FROM tasks";

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<TaskRecord> {
    Ok(TaskRecord {
        task: pb::Task {
            id: r.try_get("id")?,
            title: r.try_get("title")?,
            notes: r.try_get("notes")?,
            owner_id: r.try_get("owner_id")?,
            party_id: r.try_get("party_id")?,
            opportunity_id: r.try_get("opportunity_id")?,
            case_id: r.try_get("case_id")?,
            status: r.try_get::<i64, _>("status")? as i32,
            created_by: r.try_get("created_by")?,
            ..Default::default()
        },
        due_at: r.try_get("due_at")?,
        remind_at: r.try_get("remind_at")?,
        reminder_due_at: r.try_get("reminder_due_at")?,
        created_at: r.try_get("created_at")?,
        completed_at: r.try_get("completed_at")?,
        version: r.try_get("version")?,
    })
}

/// Stores a new task at version 1.
pub async fn insert(conn: &mut Conn, t: &TaskRecord) -> sqlx::Result<()> {
    let k = &t.task;
    sqlx::query(
        "INSERT INTO tasks (id, title, notes, owner_id, party_id, opportunity_id, case_id, due_at, remind_at, \
         reminder_due_at, status, created_by, created_at, completed_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)",
    )
    .bind(&k.id)
    .bind(&k.title)
    .bind(&k.notes)
    .bind(&k.owner_id)
    .bind(&k.party_id)
    .bind(&k.opportunity_id)
    .bind(&k.case_id)
    .bind(t.due_at)
    .bind(t.remind_at)
    .bind(t.reminder_due_at)
    .bind(i64::from(k.status))
    .bind(&k.created_by)
    .bind(t.created_at)
    .bind(t.completed_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable fields if the task is still at `t.version`; false when someone else
/// changed it first.
pub async fn update(conn: &mut Conn, t: &TaskRecord) -> sqlx::Result<bool> {
    let k = &t.task;
    let done = sqlx::query(
        "UPDATE tasks SET notes = $1, owner_id = $2, due_at = $3, remind_at = $4, reminder_due_at = $5, status = $6, \
         completed_at = $7, version = version + 1 WHERE id = $8 AND version = $9",
    )
    .bind(&k.notes)
    .bind(&k.owner_id)
    .bind(t.due_at)
    .bind(t.remind_at)
    .bind(t.reminder_due_at)
    .bind(i64::from(k.status))
    .bind(t.completed_at)
    .bind(&k.id)
    .bind(t.version)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One task.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<TaskRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Whose tasks a list reads.
#[derive(Debug, Clone, Copy)]
pub enum TasksOf<'a> {
    /// A person's.
    Owner(&'a str),
    /// A customer's.
    Party(&'a str),
}

/// The key of a task in list order: (status, due, id).
pub type TaskKey = (i64, i64, String);

/// Up to `limit` tasks of an owner or a customer, open first and by due time, after `after`.
pub async fn list(
    conn: &mut Conn,
    of: TasksOf<'_>,
    open_only: bool,
    after: Option<&TaskKey>,
    limit: i64,
) -> sqlx::Result<Vec<TaskRecord>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} WHERE 1 = 1"));
    match of {
        TasksOf::Owner(owner) => q.and("owner_id = {}", owner.to_string()),
        TasksOf::Party(party) => q.and("party_id = {}", party.to_string()),
    };
    if open_only {
        q.and("status = {}", TaskStatus::Open as i64);
    }
    if let Some((status, due, id)) = after {
        q.after(
            "status, due_at, id",
            Some(vec![
                crm_storage::Arg::from(*status),
                crm_storage::Arg::from(*due),
                crm_storage::Arg::from(id.as_str()),
            ]),
        );
    }
    q.order_limit("status, due_at, id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Up to `limit` open tasks whose reminder is due at `now`, earliest first (from the reminder
/// index: a run reads the reminders it sends).
pub async fn reminders_due(conn: &mut Conn, now: i64, limit: i64) -> sqlx::Result<Vec<TaskRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE reminder_due_at IS NOT NULL AND reminder_due_at <= $1 \
         ORDER BY reminder_due_at, id LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Marks a task's reminder sent (not a change of the task: its version stays).
pub async fn reminded(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE tasks SET reminder_due_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The µs of an optional timestamp.
pub fn micros_of(t: &Option<prost_types::Timestamp>) -> Option<i64> {
    t.as_ref().map(micros)
}
