//! Outbound call lists. A list's entries are selected and stored by one statement, so a list of
//! a hundred thousand customers never passes through the service; they are read a page at a
//! time, and the list keeps its size and progress.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Backend, Conn, SqlBuilder};
use sqlx::Row as _;

use super::timestamp;

/// Which customers a new list takes.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Live customers with a case waiting on them or a resolved case not rated yet.
    FollowUpsDue,
    /// Live customers marketing announced as at risk.
    AtRisk,
    /// The live customers among these ids.
    Parties(&'a [String]),
}

/// The first phone number of a customer's `phones` (a JSON array), or "".
fn first_phone(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "COALESCE((c.phones::jsonb) ->> 0, '')",
        Backend::Sqlite => "COALESCE(json_extract(c.phones, '$[0]'), '')",
    }
}

/// Stores `list` and the entries `selection` takes; returns how many.
pub async fn create(
    conn: &mut Conn,
    backend: Backend,
    list: &pb::CallList,
    created_at: i64,
    selection: Selection<'_>,
) -> sqlx::Result<i64> {
    sqlx::query("INSERT INTO call_lists (id, name, source, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&list.id)
        .bind(&list.name)
        .bind(i64::from(list.source))
        .bind(created_at)
        .execute(&mut *conn)
        .await?;
    let phone = first_phone(backend);
    let mut q = SqlBuilder::new(
        "INSERT INTO call_list_entries (call_list_id, party_id, display_name, phone, reason) ",
    );
    let id = q.arg(list.id.clone());
    match selection {
        Selection::FollowUpsDue => {
            q.push(&format!(
                "SELECT CAST({id} AS TEXT), c.party_id, c.display_name, {phone}, \
                 CASE WHEN MIN(k.status) = 4 THEN 'case waiting on the customer' ELSE 'satisfaction follow-up' END \
                 FROM customers c JOIN cases k ON k.party_id = c.party_id \
                 WHERE c.status = 'active' AND (k.status = 4 OR (k.status = 5 AND k.satisfaction = 0)) \
                 GROUP BY c.party_id, c.display_name, c.phones"
            ));
        }
        Selection::AtRisk => {
            q.push(&format!(
                "SELECT CAST({id} AS TEXT), c.party_id, c.display_name, {phone}, 'at risk of leaving' \
                 FROM customers c WHERE c.status = 'active' AND c.at_risk = 1"
            ));
        }
        Selection::Parties(ids) => {
            if ids.is_empty() {
                return Ok(0);
            }
            let placeholders = q.in_list(ids.iter().cloned());
            q.push(&format!(
                "SELECT CAST({id} AS TEXT), c.party_id, c.display_name, {phone}, 'listed' \
                 FROM customers c WHERE c.status = 'active' AND c.party_id IN ({placeholders})"
            ));
        }
    }
    let added = q.build().execute(&mut *conn).await?.rows_affected();
    let added = i64::try_from(added).unwrap_or(i64::MAX);
    sqlx::query("UPDATE call_lists SET entry_count = $1 WHERE id = $2")
        .bind(added)
        .bind(&list.id)
        .execute(&mut *conn)
        .await?;
    Ok(added)
}

fn entry(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::CallListEntry> {
    Ok(pb::CallListEntry {
        party_id: r.try_get("party_id")?,
        display_name: r.try_get("display_name")?,
        phone: r.try_get("phone")?,
        reason: r.try_get("reason")?,
        outcome: r.try_get::<i64, _>("outcome")? as i32,
        note: r.try_get("note")?,
        agent_id: r.try_get("agent_id")?,
        call_time: r.try_get::<Option<i64>, _>("called_at")?.map(timestamp),
    })
}

const ENTRY_COLUMNS: &str = "party_id, display_name, phone, reason, outcome, note, agent_id, called_at";
const LIST_COLUMNS: &str = "id, name, source, created_at, entry_count, called_count";

fn list(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::CallList> {
    Ok(pb::CallList {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        source: r.try_get::<i64, _>("source")? as i32,
        create_time: Some(timestamp(r.try_get("created_at")?)),
        entries: Vec::new(),
        entry_count: r.try_get("entry_count")?,
        called_count: r.try_get("called_count")?,
    })
}

/// A list, without its entries.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::CallList>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {LIST_COLUMNS} FROM call_lists WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(list)
    .transpose()
}

/// Up to `limit` entries of a list by party id, after `after`; only those not called yet when
/// `uncalled_only`.
pub async fn entries(
    conn: &mut Conn,
    list_id: &str,
    uncalled_only: bool,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<pb::CallListEntry>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {ENTRY_COLUMNS} FROM call_list_entries WHERE call_list_id = "
    ));
    let id = q.arg(list_id.to_string());
    q.push(&id);
    if uncalled_only {
        q.push(" AND outcome = 0");
    }
    if let Some(after) = after {
        let after = q.arg(after.to_string());
        q.push(&format!(" AND party_id > {after}"));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY party_id LIMIT {limit}"));
    q.build().fetch_all(&mut *conn).await?.iter().map(entry).collect()
}

/// Up to `limit` lists, newest first, after the list at `before` (created, id).
pub async fn list_page(
    conn: &mut Conn,
    before: Option<&(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::CallList>> {
    let mut q = SqlBuilder::new(&format!("SELECT {LIST_COLUMNS} FROM call_lists"));
    if let Some((at, id)) = before {
        let (at, id) = (q.arg(*at), q.arg(id.clone()));
        q.push(&format!(
            " WHERE created_at < {at} OR (created_at = {at} AND id < {id})"
        ));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
    q.build().fetch_all(&mut *conn).await?.iter().map(list).collect()
}

/// Records a call; None when the customer is not on the list. The list counts a customer as
/// called once, however many times their outcome is recorded.
pub async fn record_outcome(
    conn: &mut Conn,
    list_id: &str,
    party_id: &str,
    outcome: i32,
    note: &str,
    agent_id: &str,
    at: i64,
) -> sqlx::Result<Option<pb::CallListEntry>> {
    const SET: &str = "UPDATE call_list_entries SET outcome = $1, note = $2, agent_id = $3, called_at = $4 \
                       WHERE call_list_id = $5 AND party_id = $6";
    const SET_FIRST: &str = "UPDATE call_list_entries SET outcome = $1, note = $2, agent_id = $3, called_at = $4 \
                             WHERE call_list_id = $5 AND party_id = $6 AND outcome = 0";
    let update = |sql: &'static str| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(outcome))
            .bind(note.to_string())
            .bind(agent_id.to_string())
            .bind(at)
            .bind(list_id.to_string())
            .bind(party_id.to_string())
    };
    // The first outcome of an entry: a concurrent first recording finds it taken and falls to
    // the plain update below, so the progress counts it once.
    let first = update(SET_FIRST).execute(&mut *conn).await?.rows_affected();
    if first == 1 {
        sqlx::query("UPDATE call_lists SET called_count = called_count + 1 WHERE id = $1")
            .bind(list_id)
            .execute(&mut *conn)
            .await?;
    } else {
        update(SET).execute(&mut *conn).await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM call_list_entries WHERE call_list_id = $1 AND party_id = $2"
    )))
    .bind(list_id)
    .bind(party_id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(entry)
    .transpose()
}
