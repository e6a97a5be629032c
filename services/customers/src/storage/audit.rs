//! The audit trail, written in the same transaction as each change.

use crm_proto::customers::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use super::timestamp;

/// Records that `actor` did `action` to an entity; `changes` is a JSON object.
pub async fn record(
    conn: &mut Conn,
    actor: &str,
    entity_type: &str,
    entity_id: &str,
    action: &str,
    changes: serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (entity_type, entity_id, action, actor_id, at, changes) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(action)
    .bind(actor)
    .bind(now)
    .bind(changes.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records one entry per `(entity id, action, changes)` of `entity_type` by `actor`, with
/// multi-row inserts (bulk imports).
pub async fn record_many(
    conn: &mut Conn,
    actor: &str,
    entity_type: &str,
    entries: &[(String, String, serde_json::Value)],
    now: i64,
) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(entries, 500) {
        SqlBuilder::insert_rows(
            "audit_log (entity_type, entity_id, action, actor_id, at, changes)",
            chunk.iter().map(|(id, action, changes)| {
                [
                    Arg::from(entity_type),
                    Arg::from(id.as_str()),
                    Arg::from(action.as_str()),
                    Arg::from(actor),
                    Arg::Int(now),
                    Arg::from(changes.to_string()),
                ]
            }),
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Entries after sequence `after`, optionally for one entity.
pub async fn list(
    conn: &mut Conn,
    entity_id: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<pb::AuditEntry>> {
    let mut q = SqlBuilder::new(
        "SELECT seq, entity_type, entity_id, action, actor_id, at, changes FROM audit_log WHERE 1 = 1",
    );
    q.and("seq > {}", after);
    if !entity_id.is_empty() {
        q.and("entity_id = {}", entity_id);
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY seq LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(pb::AuditEntry {
                sequence: r.try_get("seq")?,
                entity_type: r.try_get("entity_type")?,
                entity_id: r.try_get("entity_id")?,
                action: r.try_get("action")?,
                actor_id: r.try_get("actor_id")?,
                time: Some(timestamp(r.try_get("at")?)),
                changes_json: r.try_get("changes")?,
            })
        })
        .collect()
}

/// Replaces the recorded changes of an entity (erasure: the trail keeps who and when, not the
/// personal data).
pub async fn scrub(conn: &mut Conn, entity_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_log SET changes = '{\"erased\":true}' WHERE entity_id = $1")
        .bind(entity_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
