//! Cases, their timelines and escalations.

use std::collections::BTreeMap;

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::report::Totals;

use super::timestamp;

/// A case as stored; times in µs since the epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseRecord {
    /// The case as the API shows it (times and timeline filled by [`CaseRecord::to_proto`]).
    pub case: pb::Case,
    /// Opened.
    pub opened_at: i64,
    /// First response due.
    pub response_due_at: i64,
    /// Resolution due (moved out while the case waits on the customer).
    pub resolution_due_at: i64,
    /// First response by staff.
    pub first_response_at: Option<i64>,
    /// Resolved.
    pub resolved_at: Option<i64>,
    /// Since when the SLA clock is paused (waiting on the customer).
    pub paused_at: Option<i64>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// When the escalation clock started, if not at opening (an imported open case: its import).
    pub clock_from: Option<i64>,
    /// Business minutes spent waiting on the customer before the current wait, if any; the
    /// escalation clock leaves them out.
    pub waited_minutes: i64,
}

impl CaseRecord {
    /// The API form with `timeline`.
    pub fn to_proto(&self, timeline: Vec<pb::TimelineEntry>) -> pb::Case {
        pb::Case {
            open_time: Some(timestamp(self.opened_at)),
            response_due_time: Some(timestamp(self.response_due_at)),
            resolution_due_time: Some(timestamp(self.resolution_due_at)),
            first_response_time: self.first_response_at.map(timestamp),
            resolve_time: self.resolved_at.map(timestamp),
            timeline,
            etag: self.version.to_string(),
            under_warranty: self.under_warranty(),
            ..self.case.clone()
        }
    }

    /// Whether the case's asset was under warranty on the day the case was opened.
    pub fn under_warranty(&self) -> bool {
        let opened = chrono::DateTime::from_timestamp_micros(self.opened_at)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string();
        !self.case.warranty_end_date.is_empty() && self.case.warranty_end_date >= opened
    }

    /// Whether the case is still being worked on.
    pub fn is_open(&self) -> bool {
        !matches!(
            pb::CaseStatus::try_from(self.case.status),
            Ok(pb::CaseStatus::Resolved | pb::CaseStatus::Closed)
        )
    }
}

const COLUMNS: &str = "id, type, channel, category, severity, subject, description, party_id, contact, queue_id, \
     agent_id, priority, customer_tier, status, resolution, satisfaction, opened_at, response_due_at, \
     resolution_due_at, first_response_at, resolved_at, paused_at, version, partner_id, external_id, clock_from, waited_minutes, asset_id, warranty_end_date";

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<CaseRecord> {
    let int = |c: &str| -> sqlx::Result<i32> { Ok(r.try_get::<i64, _>(c)? as i32) };
    Ok(CaseRecord {
        case: pb::Case {
            id: r.try_get("id")?,
            r#type: int("type")?,
            channel: int("channel")?,
            category: r.try_get("category")?,
            severity: int("severity")?,
            subject: r.try_get("subject")?,
            description: r.try_get("description")?,
            party_id: r.try_get("party_id")?,
            contact: r.try_get("contact")?,
            queue_id: r.try_get("queue_id")?,
            agent_id: r.try_get("agent_id")?,
            priority: int("priority")?,
            customer_tier: r.try_get("customer_tier")?,
            status: int("status")?,
            resolution: r.try_get("resolution")?,
            satisfaction: int("satisfaction")?,
            partner_id: r.try_get("partner_id")?,
            external_id: r.try_get("external_id")?,
            asset_id: r.try_get("asset_id")?,
            warranty_end_date: r.try_get("warranty_end_date")?,
            ..Default::default()
        },
        opened_at: r.try_get("opened_at")?,
        response_due_at: r.try_get("response_due_at")?,
        resolution_due_at: r.try_get("resolution_due_at")?,
        first_response_at: r.try_get("first_response_at")?,
        resolved_at: r.try_get("resolved_at")?,
        paused_at: r.try_get("paused_at")?,
        version: r.try_get("version")?,
        clock_from: r.try_get("clock_from")?,
        waited_minutes: r.try_get("waited_minutes")?,
    })
}

/// Inserts a new case (version 1).
pub async fn insert(conn: &mut Conn, c: &CaseRecord) -> sqlx::Result<()> {
    insert_many(conn, std::slice::from_ref(c)).await
}

/// Stores new cases, each at version 1, with multi-row statements (a bulk import).
pub async fn insert_many(conn: &mut Conn, records: &[CaseRecord]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(records, 500) {
        let rows = chunk.iter().map(|c| {
            let k = &c.case;
            [
                Arg::from(k.id.as_str()),
                Arg::from(i64::from(k.r#type)),
                Arg::from(i64::from(k.channel)),
                Arg::from(k.category.as_str()),
                Arg::from(i64::from(k.severity)),
                Arg::from(k.subject.as_str()),
                Arg::from(k.description.as_str()),
                Arg::from(k.party_id.as_str()),
                Arg::from(k.contact.as_str()),
                Arg::from(k.queue_id.as_str()),
                Arg::from(k.agent_id.as_str()),
                Arg::from(i64::from(k.priority)),
                Arg::from(k.customer_tier.as_str()),
                Arg::from(i64::from(k.status)),
                Arg::from(k.resolution.as_str()),
                Arg::from(i64::from(k.satisfaction)),
                Arg::from(c.opened_at),
                Arg::from(c.response_due_at),
                Arg::from(c.resolution_due_at),
                Arg::from(c.first_response_at),
                Arg::from(c.resolved_at),
                Arg::from(c.paused_at),
                Arg::from(1i64),
                Arg::from(k.partner_id.as_str()),
                Arg::from(k.external_id.as_str()),
                Arg::from(c.clock_from),
                Arg::from(c.waited_minutes),
                Arg::from(k.asset_id.as_str()),
                Arg::from(k.warranty_end_date.as_str()),
                Arg::from(escalation_check(c)),
            ]
        });
        SqlBuilder::insert_rows(&format!("cases ({COLUMNS}, escalation_check_at)"), rows)
            .build()
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The escalation check time of a case just written: now (0) while it is open, since what it
/// was written with may bring a level due; never once it is resolved or closed, nor while it
/// waits on the customer (its clock is stopped, and the write that resumes it sets now again).
/// A waiting case checked "now" stayed at the head of the check-time index: every run read
/// every waiting case, to pass over it.
fn escalation_check(c: &CaseRecord) -> i64 {
    let done = [pb::CaseStatus::Resolved as i32, pb::CaseStatus::Closed as i32];
    if done.contains(&c.case.status) || c.paused_at.is_some() {
        i64::MAX
    } else {
        0
    }
}

/// Writes the mutable fields if the case is still at `c.version`; bumps the version. False when
/// someone else changed it first.
pub async fn update(conn: &mut Conn, c: &CaseRecord) -> sqlx::Result<bool> {
    let k = &c.case;
    let done = sqlx::query(
        "UPDATE cases SET agent_id = $1, priority = $2, customer_tier = $3, status = $4, resolution = $5, \
         satisfaction = $6, response_due_at = $7, resolution_due_at = $8, first_response_at = $9, resolved_at = $10, \
         paused_at = $11, party_id = $12, queue_id = $13, escalation_check_at = $14, type = $15, category = $16, \
         severity = $17, waited_minutes = $18, version = version + 1 WHERE id = $19 AND version = $20",
    )
    .bind(&k.agent_id)
    .bind(i64::from(k.priority))
    .bind(&k.customer_tier)
    .bind(i64::from(k.status))
    .bind(&k.resolution)
    .bind(i64::from(k.satisfaction))
    .bind(c.response_due_at)
    .bind(c.resolution_due_at)
    .bind(c.first_response_at)
    .bind(c.resolved_at)
    .bind(c.paused_at)
    .bind(&k.party_id)
    .bind(&k.queue_id)
    .bind(escalation_check(c))
    .bind(i64::from(k.r#type))
    .bind(&k.category)
    .bind(i64::from(k.severity))
    .bind(c.waited_minutes)
    .bind(&k.id)
    .bind(c.version)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A case's new tier and priority, for [`set_priorities`].
#[derive(Debug, Clone)]
pub struct Reprioritised<'a> {
    /// The case.
    pub id: &'a str,
    /// The version it was read at.
    pub version: i64,
    /// Its customer's tier.
    pub customer_tier: &'a str,
    /// Its priority under that tier.
    pub priority: i32,
}

/// Sets the customer tier and priority of cases still at the version read, bumping it, with
/// one statement per 500 cases; returns how many were written (fewer when someone else changed
/// one first).
pub async fn set_priorities(conn: &mut Conn, changes: &[Reprioritised<'_>]) -> sqlx::Result<u64> {
    let mut written = 0;
    for chunk in crm_storage::insert_chunks(changes, 500) {
        let mut q = SqlBuilder::new(
            "UPDATE cases SET customer_tier = v.column3, priority = v.column4, version = cases.version + 1 \
             FROM (VALUES ",
        );
        q.rows(chunk.iter().map(|c| {
            [
                Arg::from(c.id),
                Arg::from(c.version),
                Arg::from(c.customer_tier),
                Arg::from(i64::from(c.priority)),
            ]
        }))
        .push(") AS v WHERE cases.id = v.column1 AND cases.version = v.column2");
        written += q.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(written)
}

/// One case.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<CaseRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cases WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Filters of [`list`]; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Status (0: any).
    pub status: i32,
    /// Queue.
    pub queue_id: String,
    /// Assigned agent.
    pub agent_id: String,
    /// Customer.
    pub party_id: String,
    /// Only cases not resolved or closed.
    pub open_only: bool,
}

/// Up to `limit` cases with ids after `after` matching `f` (status and queue), by id: a queue's
/// from its (queue, id) index, so that each page of an export reads its own rows.
pub async fn list_after(
    conn: &mut Conn,
    f: &CaseFilter,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<CaseRecord>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM cases WHERE 1 = 1"));
    q.and("id > {}", after);
    if f.status != 0 {
        q.and("status = {}", i64::from(f.status));
    }
    if !f.queue_id.is_empty() {
        q.and("queue_id = {}", f.queue_id.clone());
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY id LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// A case's place in urgency order: (priority, resolution due, id).
pub type UrgencyKey = (i64, i64, String);

/// Up to `limit` cases matching `f`, most urgent first (priority, then resolution due, then
/// id), after `after` in that order.
pub async fn list(
    conn: &mut Conn,
    f: &CaseFilter,
    after: Option<&UrgencyKey>,
    limit: i64,
) -> sqlx::Result<Vec<CaseRecord>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM cases WHERE 1 = 1"));
    if f.status != 0 {
        q.and("status = {}", i64::from(f.status));
    }
    if !f.queue_id.is_empty() {
        q.and("queue_id = {}", f.queue_id.clone());
    }
    if !f.agent_id.is_empty() {
        q.and("agent_id = {}", f.agent_id.clone());
    }
    if !f.party_id.is_empty() {
        q.and("party_id = {}", f.party_id.clone());
    }
    // Open cases are read from the partial indexes of open cases (by queue, by agent, or all):
    // the condition is spelled out whenever the filter implies it, as SQLite uses a partial index
    // only when the query states its condition. Without them, a queue's or an agent's open cases
    // were found by walking their closed ones too, which come first in urgency order.
    let done = [pb::CaseStatus::Resolved as i32, pb::CaseStatus::Closed as i32];
    let open_status = f.status != 0 && !done.contains(&f.status);
    if f.open_only || open_status {
        q.push(" AND status NOT IN (5, 6)");
    }
    if let Some((priority, due, id)) = after {
        let (priority, due, id) = (q.arg(*priority), q.arg(*due), q.arg(id.as_str()));
        q.push(&format!(
            " AND (priority, resolution_due_at, id) > ({priority}, {due}, {id})"
        ));
    }
    let limit = q.arg(limit);
    q.push(&format!(
        " ORDER BY priority, resolution_due_at, id LIMIT {limit}"
    ));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Up to `limit` resolved or closed cases of a customer, most recently resolved first, before
/// the key (resolved at, id) `before`.
pub async fn closed_of_party(
    conn: &mut Conn,
    party_id: &str,
    before: Option<&(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<CaseRecord>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {COLUMNS} FROM cases WHERE resolved_at IS NOT NULL AND status IN (5, 6)"
    ));
    q.and("party_id = {}", party_id.to_string());
    q.before(
        "resolved_at, id",
        before.map(|(at, id)| vec![Arg::from(*at), Arg::from(id.as_str())]),
    );
    q.order_limit("resolved_at DESC, id DESC", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Up to `limit` open cases, not waiting on the customer, whose escalation check time has come
/// by `now`, earliest first: read from the check-time index, so a run reads the cases it has to
/// look at, not the open backlog.
pub async fn escalation_due(conn: &mut Conn, now: i64, limit: i64) -> sqlx::Result<Vec<CaseRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cases WHERE escalation_check_at <= $1 AND status NOT IN (5, 6) \
         AND paused_at IS NULL ORDER BY escalation_check_at, id LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Makes the check times follow `chain` (its [`Chain::spec`]): when they were computed with
/// another chain, every open case not waiting on the customer is looked at again by the next
/// run. While replicas with two different chains run side by side (a rolling change of the
/// chain), each run of either does this again, until the last replica with the old chain is gone.
///
/// [`Chain::spec`]: crate::domain::escalation::Chain::spec
pub async fn schedule_for(conn: &mut Conn, chain: &str) -> sqlx::Result<()> {
    let current: Option<String> = sqlx::query_scalar("SELECT chain FROM escalation_schedule")
        .fetch_optional(&mut *conn)
        .await?;
    if current.as_deref() == Some(chain) {
        return Ok(());
    }
    sqlx::query(
        "UPDATE cases SET escalation_check_at = 0 WHERE status NOT IN (5, 6) AND paused_at IS NULL \
         AND escalation_check_at > 0",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM escalation_schedule")
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO escalation_schedule (chain) VALUES ($1)")
        .bind(chain)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets when the escalation job next looks at a case (see [`escalation_due`]) if the case is
/// still at `version`: a case changed since it was read keeps its check now (0), as the change
/// may bring a level due sooner. Not a change of the case, so its version stays.
pub async fn set_escalation_check(conn: &mut Conn, id: &str, version: i64, at: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE cases SET escalation_check_at = $1 WHERE id = $2 AND version = $3")
        .bind(at)
        .bind(id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The cases not resolved or closed of any of `party_ids`.
pub async fn open_of_parties(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<Vec<CaseRecord>> {
    let mut open = Vec::new();
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM cases WHERE status NOT IN (5, 6)"));
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list}) ORDER BY id"));
        for row in q.build().fetch_all(&mut *conn).await? {
            open.push(from_row(&row)?);
        }
    }
    Ok(open)
}

/// The timeline of a case, oldest first.
pub async fn timeline(conn: &mut Conn, case_id: &str) -> sqlx::Result<Vec<pb::TimelineEntry>> {
    let rows = sqlx::query(
        "SELECT at, actor_id, kind, text, internal FROM case_timeline WHERE case_id = $1 ORDER BY seq",
    )
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::TimelineEntry {
                time: Some(timestamp(r.try_get("at")?)),
                actor_id: r.try_get("actor_id")?,
                kind: r.try_get("kind")?,
                text: r.try_get("text")?,
                internal: r.try_get::<i64, _>("internal")? != 0,
            })
        })
        .collect()
}

/// Appends to the timeline of a case.
pub async fn add_timeline(
    conn: &mut Conn,
    case_id: &str,
    at: i64,
    actor_id: &str,
    kind: &str,
    text: &str,
    internal: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO case_timeline (case_id, seq, at, actor_id, kind, text, internal) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM case_timeline WHERE case_id = $1",
    )
    .bind(case_id)
    .bind(at)
    .bind(actor_id)
    .bind(kind)
    .bind(text)
    .bind(i64::from(internal))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The last timeline number of each of `case_ids` that has entries, read with one statement per
/// 500 cases from the timeline's key: appends to many cases number their entries from it.
pub async fn last_timeline_seqs(
    conn: &mut Conn,
    case_ids: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, i64>> {
    let mut last = std::collections::HashMap::new();
    for chunk in case_ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT case_id, MAX(seq) AS seq FROM case_timeline WHERE case_id IN (");
        let list = q.in_list(chunk.iter().copied());
        q.push(&format!("{list}) GROUP BY case_id"));
        for row in q.build().fetch_all(&mut *conn).await? {
            last.insert(row.try_get("case_id")?, row.try_get("seq")?);
        }
    }
    Ok(last)
}

/// A timeline entry numbered by its writer: the entries of a case created in the same
/// transaction, whose numbers are known without reading the timeline.
#[derive(Debug, Clone)]
pub struct NumberedEntry {
    /// The case.
    pub case_id: String,
    /// Its place in the case's timeline, from 1.
    pub seq: i64,
    /// When it happened.
    pub at: i64,
    /// Who did it.
    pub actor_id: String,
    /// What happened (`opened`, `comment`, `resolved`, ...).
    pub kind: &'static str,
    /// Its text.
    pub text: String,
    /// Staff only.
    pub internal: bool,
}

/// Adds numbered entries with multi-row statements.
pub async fn add_numbered_timeline(conn: &mut Conn, entries: &[NumberedEntry]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(entries, 500) {
        let rows = chunk.iter().map(|e| {
            [
                Arg::from(e.case_id.as_str()),
                Arg::from(e.seq),
                Arg::from(e.at),
                Arg::from(e.actor_id.as_str()),
                Arg::from(e.kind),
                Arg::from(e.text.as_str()),
                Arg::from(i64::from(e.internal)),
            ]
        });
        SqlBuilder::insert_rows(
            "case_timeline (case_id, seq, at, actor_id, kind, text, internal)",
            rows,
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records an escalation level of a case; false when that level was raised before.
pub async fn insert_escalation(conn: &mut Conn, e: &pb::Escalation, at: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO escalations (case_id, level, raised_at, reason, notified, overdue_minutes) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id, level) DO NOTHING",
    )
    .bind(&e.case_id)
    .bind(&e.level)
    .bind(at)
    .bind(&e.reason)
    .bind(serde_json::to_string(&e.notified).unwrap_or_default())
    .bind(e.overdue_minutes)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The levels raised for each of `case_ids`, in the order they were raised (one query).
pub async fn escalation_levels(
    conn: &mut Conn,
    case_ids: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, Vec<String>>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    if case_ids.is_empty() {
        return Ok(out);
    }
    let mut q = crm_storage::SqlBuilder::new("SELECT case_id, level FROM escalations WHERE case_id IN (");
    let list = q.in_list(case_ids.iter().map(|id| id.to_string()));
    q.push(&list).push(") ORDER BY raised_at, level DESC");
    for row in q.build().fetch_all(&mut *conn).await? {
        out.entry(row.try_get("case_id")?)
            .or_default()
            .push(row.try_get("level")?);
    }
    Ok(out)
}

/// Escalations, of one case or (empty id) of all, newest first.
pub async fn escalations(
    conn: &mut Conn,
    case_id: &str,
    after: Option<&(i64, String, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Escalation>> {
    let mut q = SqlBuilder::new(
        "SELECT case_id, level, raised_at, reason, notified, overdue_minutes FROM escalations WHERE 1 = 1",
    );
    if !case_id.is_empty() {
        q.and("case_id = {}", case_id.to_string());
    }
    if let Some((at, case, level)) = after {
        let (at0, at1, at2, case, level) = (
            q.arg(*at),
            q.arg(*at),
            q.arg(*at),
            q.arg(case.as_str()),
            q.arg(level.as_str()),
        );
        // The first bound, implied by the second, is the one an index range can start from.
        q.push(&format!(
            " AND raised_at <= {at0} AND (raised_at < {at1} OR (raised_at = {at2} AND (case_id, level) > ({case}, {level})))"
        ));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY raised_at DESC, case_id, level LIMIT {limit}"));
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Escalation {
                case_id: r.try_get("case_id")?,
                level: r.try_get("level")?,
                raise_time: Some(timestamp(r.try_get("raised_at")?)),
                reason: r.try_get("reason")?,
                notified: serde_json::from_str(&r.try_get::<String, _>("notified")?).unwrap_or_default(),
                overdue_minutes: r.try_get("overdue_minutes")?,
            })
        })
        .collect()
}

/// Appends `AND queue_id = ..` when a queue is given.
fn in_queue(q: &mut SqlBuilder, queue_id: &str) {
    if !queue_id.is_empty() {
        q.and("queue_id = {}", queue_id.to_string());
    }
}

/// What the service report adds up, in SQL: over the cases of `queue_id` (any when empty) opened
/// in `[start, end)`, and over those open at `now`. A target counts once it is met or missed:
/// responded (resolved) or past due; it is met when that happened by its due time.
///
/// Two statements, each one pass: the period's cases grouped by channel, type and agent (a few
/// hundred groups at most, added up here), and the open cases grouped by agent with their ages.
pub async fn report_totals(
    conn: &mut Conn,
    queue_id: &str,
    start: i64,
    end: i64,
    now: i64,
) -> sqlx::Result<Totals> {
    let count = |condition: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)")
    };
    let mut q = SqlBuilder::new("SELECT channel, type, agent_id, COUNT(*) AS opened, ");
    let (response_now, resolution_now) = (q.arg(now), q.arg(now));
    q.push(&format!(
        "{} AS resolved, {} AS response_due, {} AS response_met, {} AS resolution_due, {} AS resolution_met, \
         CAST(COALESCE(SUM(first_response_at - opened_at), 0) AS BIGINT) AS response_total, COUNT(first_response_at) AS responses, \
         CAST(COALESCE(SUM(resolved_at - opened_at), 0) AS BIGINT) AS resolution_total, COUNT(resolved_at) AS resolutions, \
         CAST(COALESCE(SUM(CASE WHEN satisfaction > 0 THEN satisfaction ELSE 0 END), 0) AS BIGINT) AS rating_total, \
         {} AS rated FROM cases WHERE 1 = 1",
        count("resolved_at IS NOT NULL"),
        count(&format!("first_response_at IS NOT NULL OR {response_now} > response_due_at")),
        count("first_response_at <= response_due_at"),
        count(&format!("resolved_at IS NOT NULL OR {resolution_now} > resolution_due_at")),
        count("resolved_at <= resolution_due_at"),
        count("satisfaction > 0"),
    ));
    q.and("opened_at >= {}", start).and("opened_at < {}", end);
    in_queue(&mut q, queue_id);
    q.push(" GROUP BY channel, type, agent_id");
    let mut totals = Totals::default();
    let (mut by_channel, mut by_type) = (BTreeMap::<i32, i64>::new(), BTreeMap::<i32, i64>::new());
    let mut resolved_by_agent = BTreeMap::<String, i64>::new();
    for row in q.build().fetch_all(&mut *conn).await? {
        let get = |column: &str| row.try_get::<i64, _>(column);
        let opened = get("opened")?;
        totals.opened += opened;
        totals.resolved += get("resolved")?;
        totals.response_due += get("response_due")?;
        totals.response_met += get("response_met")?;
        totals.resolution_due += get("resolution_due")?;
        totals.resolution_met += get("resolution_met")?;
        totals.response_time.0 += get("response_total")?;
        totals.response_time.1 += get("responses")?;
        totals.resolution_time.0 += get("resolution_total")?;
        totals.resolution_time.1 += get("resolutions")?;
        totals.ratings.0 += get("rating_total")?;
        totals.ratings.1 += get("rated")?;
        *by_channel
            .entry(i32::try_from(get("channel")?).unwrap_or_default())
            .or_default() += opened;
        *by_type
            .entry(i32::try_from(get("type")?).unwrap_or_default())
            .or_default() += opened;
        let agent: String = row.try_get("agent_id")?;
        let resolved = get("resolved")?;
        if !agent.is_empty() && resolved > 0 {
            *resolved_by_agent.entry(agent).or_default() += resolved;
        }
    }
    totals.by_channel = by_channel.into_iter().collect();
    totals.by_type = by_type.into_iter().collect();
    totals.resolved_by_agent = resolved_by_agent.into_iter().collect();

    let mut q = SqlBuilder::new("SELECT agent_id, ");
    let ages: Vec<String> = crate::domain::report::BACKLOG_ENDS
        .iter()
        .map(|end| {
            let now = q.arg(now);
            count(&format!("{now} - opened_at < {end}"))
        })
        .collect();
    q.push(&format!(
        "{} AS under_1d, {} AS under_3d, {} AS under_7d, COUNT(*) AS open FROM cases WHERE status NOT IN (5, 6)",
        ages[0], ages[1], ages[2]
    ));
    in_queue(&mut q, queue_id);
    q.push(" GROUP BY agent_id");
    let mut under = [0i64; 4];
    for row in q.build().fetch_all(&mut *conn).await? {
        let get = |column: &str| row.try_get::<i64, _>(column);
        let open = get("open")?;
        for (i, column) in ["under_1d", "under_3d", "under_7d"].into_iter().enumerate() {
            under[i] += get(column)?;
        }
        under[3] += open;
        let agent: String = row.try_get("agent_id")?;
        if !agent.is_empty() {
            totals.open_by_agent.push((agent, open));
        }
    }
    totals.open_by_agent.sort();
    totals.backlog = [
        under[0],
        under[1] - under[0],
        under[2] - under[1],
        under[3] - under[2],
    ];
    Ok(totals)
}
