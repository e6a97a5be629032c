//! Idempotency keys of party creation.

use crm_storage::Conn;
use sqlx::Row as _;

/// The party created by the request `request_id`, if one was.
pub async fn party_of(conn: &mut Conn, request_id: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query("SELECT party_id FROM party_requests WHERE request_id = $1")
        .bind(request_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("party_id")).transpose()
}

/// Records that `request_id` created `party_id` (a unique violation means a concurrent request
/// with the same id won).
pub async fn record(conn: &mut Conn, request_id: &str, party_id: &str, now_micros: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO party_requests (request_id, party_id, created_at) VALUES ($1, $2, $3)")
        .bind(request_id)
        .bind(party_id)
        .bind(now_micros)
        .execute(conn)
        .await?;
    Ok(())
}
