//! The `crm_call_audit` table.

use crm_proto::audit::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use super::Entry;

/// Writes `entries` (the table assigns their sequence).
pub(crate) async fn insert(conn: &mut Conn, entries: &[Entry]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(entries, 200) {
        SqlBuilder::insert_rows(
            "crm_call_audit (at, method, actor_id, roles, record_id, outcome, message, request_id, trace_id, peer)",
            chunk.iter().map(|Entry { at, record: r }| {
                [
                    Arg::Int(*at),
                    Arg::from(r.method.as_str()),
                    Arg::from(r.actor_id.as_str()),
                    Arg::from(r.roles.join(",")),
                    Arg::from(r.record_id.as_str()),
                    Arg::from(r.outcome.as_str()),
                    Arg::from(r.message.as_str()),
                    Arg::from(r.request_id.as_str()),
                    Arg::from(r.trace_id.as_str()),
                    Arg::from(r.peer.as_str()),
                ]
            }),
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What a listing asks for.
#[derive(Debug, Default)]
pub(crate) struct Filter<'a> {
    pub actor_id: &'a str,
    pub record_id: &'a str,
    pub refused_only: bool,
    /// Only records older than this sequence (the page token).
    pub before: Option<i64>,
}

/// Records newest first, at most `limit`.
pub(crate) async fn list(
    conn: &mut Conn,
    filter: &Filter<'_>,
    limit: i64,
) -> sqlx::Result<Vec<pb::CallRecord>> {
    let mut q = SqlBuilder::new(
        "SELECT seq, at, method, actor_id, roles, record_id, outcome, message, request_id, trace_id, peer \
         FROM crm_call_audit WHERE 1 = 1",
    );
    if !filter.actor_id.is_empty() {
        q.and("actor_id = {}", filter.actor_id);
    }
    if !filter.record_id.is_empty() {
        q.and("record_id = {}", filter.record_id);
    }
    if filter.refused_only {
        q.push(" AND outcome IN ('UNAUTHENTICATED', 'PERMISSION_DENIED')");
    }
    if let Some(before) = filter.before {
        q.and("seq < {}", before);
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY seq DESC LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let roles: String = r.try_get("roles")?;
            Ok(pb::CallRecord {
                sequence: r.try_get("seq")?,
                time: Some(crate::time::timestamp(r.try_get("at")?)),
                service: String::new(),
                method: r.try_get("method")?,
                actor_id: r.try_get("actor_id")?,
                roles: roles
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                record_id: r.try_get("record_id")?,
                outcome: r.try_get("outcome")?,
                message: r.try_get("message")?,
                request_id: r.try_get("request_id")?,
                trace_id: r.try_get("trace_id")?,
                peer: r.try_get("peer")?,
            })
        })
        .collect()
}

/// Deletes up to `limit` records older than `cutoff`; returns how many went.
pub(crate) async fn purge(conn: &mut Conn, cutoff: i64, limit: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM crm_call_audit WHERE seq IN (SELECT seq FROM crm_call_audit WHERE at < $1 ORDER BY at LIMIT $2)",
    )
    .bind(cutoff)
    .bind(limit)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
