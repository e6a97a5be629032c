//! The competitor list, copied from the customers service's announcements.

use std::collections::HashMap;

use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

/// Records competitor `id` under `name`.
pub async fn upsert(conn: &mut Conn, id: &str, name: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO competitors (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    )
    .bind(id)
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Forgets competitor `id` (deleted in the customers service).
pub async fn delete(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM competitors WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The names of those of `ids` that are known.
pub async fn names(conn: &mut Conn, ids: &[&str]) -> sqlx::Result<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = SqlBuilder::new("SELECT id, name FROM competitors WHERE id IN (");
    let list = q.in_list(ids.iter().copied());
    q.push(&format!("{list})"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}
