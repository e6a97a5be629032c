//! Outbound call lists.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::timestamp;

/// A customer to call and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callee {
    /// Party id.
    pub party_id: String,
    /// Name.
    pub display_name: String,
    /// Phone number to dial (first known).
    pub phone: String,
    /// Why.
    pub reason: String,
}

/// Live customers with a case waiting on them or a resolved case not rated yet.
pub async fn follow_ups_due(conn: &mut Conn) -> sqlx::Result<Vec<Callee>> {
    callees(
        conn,
        "SELECT c.party_id, c.display_name, c.phones, \
         CASE WHEN MIN(k.status) = 4 THEN 'case waiting on the customer' ELSE 'satisfaction follow-up' END AS reason \
         FROM customers c JOIN cases k ON k.party_id = c.party_id \
         WHERE c.status = 'active' AND (k.status = 4 OR (k.status = 5 AND k.satisfaction = 0)) \
         GROUP BY c.party_id, c.display_name, c.phones ORDER BY c.party_id",
    )
    .await
}

/// Live customers marketing announced as at risk.
pub async fn at_risk(conn: &mut Conn) -> sqlx::Result<Vec<Callee>> {
    callees(
        conn,
        "SELECT party_id, display_name, phones, 'at risk of leaving' AS reason FROM customers \
         WHERE status = 'active' AND at_risk = 1 ORDER BY party_id",
    )
    .await
}

/// The live customers among `ids`.
pub async fn parties(conn: &mut Conn, ids: &[String]) -> sqlx::Result<Vec<Callee>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new(
        "SELECT party_id, display_name, phones, 'listed' AS reason FROM customers WHERE status = 'active'",
    );
    let placeholders = q.in_list(ids.iter().cloned());
    q.push(&format!(" AND party_id IN ({placeholders}) ORDER BY party_id"));
    rows_to_callees(&q.build().fetch_all(&mut *conn).await?)
}

async fn callees(conn: &mut Conn, sql: &'static str) -> sqlx::Result<Vec<Callee>> {
    rows_to_callees(&sqlx::query(sql).fetch_all(&mut *conn).await?)
}

fn rows_to_callees(rows: &[sqlx::any::AnyRow]) -> sqlx::Result<Vec<Callee>> {
    rows.iter()
        .map(|r| {
            let phones: Vec<String> =
                serde_json::from_str(&r.try_get::<String, _>("phones")?).unwrap_or_default();
            Ok(Callee {
                party_id: r.try_get("party_id")?,
                display_name: r.try_get("display_name")?,
                phone: phones.into_iter().next().unwrap_or_default(),
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}

/// Stores a list with its entries.
pub async fn insert(
    conn: &mut Conn,
    list: &pb::CallList,
    created_at: i64,
    callees: &[Callee],
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO call_lists (id, name, source, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&list.id)
        .bind(&list.name)
        .bind(i64::from(list.source))
        .bind(created_at)
        .execute(&mut *conn)
        .await?;
    for c in callees {
        sqlx::query(
            "INSERT INTO call_list_entries (call_list_id, party_id, display_name, phone, reason) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&list.id)
        .bind(&c.party_id)
        .bind(&c.display_name)
        .bind(&c.phone)
        .bind(&c.reason)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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

/// A list with its entries.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::CallList>> {
    let Some(row) = sqlx::query("SELECT id, name, source, created_at FROM call_lists WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let entries = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {ENTRY_COLUMNS} FROM call_list_entries WHERE call_list_id = $1 ORDER BY party_id"
    )))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(pb::CallList {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        source: row.try_get::<i64, _>("source")? as i32,
        create_time: Some(timestamp(row.try_get("created_at")?)),
        entries: entries.iter().map(entry).collect::<sqlx::Result<_>>()?,
    }))
}

/// Records a call; None when the customer is not on the list.
pub async fn record_outcome(
    conn: &mut Conn,
    list_id: &str,
    party_id: &str,
    outcome: i32,
    note: &str,
    agent_id: &str,
    at: i64,
) -> sqlx::Result<Option<pb::CallListEntry>> {
    sqlx::query(
        "UPDATE call_list_entries SET outcome = $1, note = $2, agent_id = $3, called_at = $4 \
         WHERE call_list_id = $5 AND party_id = $6",
    )
    .bind(i64::from(outcome))
    .bind(note)
    .bind(agent_id)
    .bind(at)
    .bind(list_id)
    .bind(party_id)
    .execute(&mut *conn)
    .await?;
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
