//! Watch lists: the customers staff are told about.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::timestamp;

/// Puts `w.party_id` on `w.watcher_id`'s list (replacing the note of an existing watch).
pub async fn upsert(conn: &mut Conn, w: &pb::Watch, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO watches (party_id, watcher_id, note, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (party_id, watcher_id) DO UPDATE SET note = excluded.note",
    )
    .bind(&w.party_id)
    .bind(&w.watcher_id)
    .bind(&w.note)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes a customer off a watch list; false when it was not on it.
pub async fn delete(conn: &mut Conn, party_id: &str, watcher_id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM watches WHERE party_id = $1 AND watcher_id = $2")
        .bind(party_id)
        .bind(watcher_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::Watch> {
    Ok(pb::Watch {
        party_id: r.try_get("party_id")?,
        watcher_id: r.try_get("watcher_id")?,
        note: r.try_get("note")?,
        create_time: Some(timestamp(r.try_get("created_at")?)),
    })
}

/// One watch.
pub async fn get(conn: &mut Conn, party_id: &str, watcher_id: &str) -> sqlx::Result<Option<pb::Watch>> {
    sqlx::query(
        "SELECT party_id, watcher_id, note, created_at FROM watches WHERE party_id = $1 AND watcher_id = $2",
    )
    .bind(party_id)
    .bind(watcher_id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Up to `limit` watches of a customer and/or a watcher (empty: any), by watcher then customer
/// (or customer then watcher when listing a watcher's), after the key `after`.
pub async fn list(
    conn: &mut Conn,
    party_id: &str,
    watcher_id: &str,
    after: Option<Vec<String>>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Watch>> {
    let mut q = SqlBuilder::new("SELECT party_id, watcher_id, note, created_at FROM watches WHERE 1 = 1");
    if !party_id.is_empty() {
        q.and("party_id = {}", party_id.to_string());
    }
    if !watcher_id.is_empty() {
        q.and("watcher_id = {}", watcher_id.to_string());
    }
    // The order each index serves: a watcher's list through (watcher_id, party_id), the rest
    // through the primary key (party_id, watcher_id).
    let order = if !watcher_id.is_empty() && party_id.is_empty() {
        "watcher_id, party_id"
    } else {
        "party_id, watcher_id"
    };
    q.after(order, after);
    q.order_limit(order, limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}
