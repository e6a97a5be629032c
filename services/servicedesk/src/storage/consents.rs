//! Marketing's consent, as last announced: checked before each campaign message is sent.

use crm_storage::Conn;

/// Stores a customer's consent on a channel unless a newer one is stored.
pub async fn set(
    conn: &mut Conn,
    party_id: &str,
    channel: i32,
    (opted_out, do_not_contact): (bool, bool),
    updated_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO consents (party_id, channel, opted_out, do_not_contact, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (party_id, channel) DO UPDATE SET opted_out = excluded.opted_out, \
         do_not_contact = excluded.do_not_contact, updated_at = excluded.updated_at \
         WHERE consents.updated_at <= excluded.updated_at",
    )
    .bind(party_id)
    .bind(i64::from(channel))
    .bind(i64::from(opted_out))
    .bind(i64::from(do_not_contact))
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether the customer opted out of `channel` or may not be contacted on it.
pub async fn blocks(conn: &mut Conn, party_id: &str, channel: i32) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM consents WHERE party_id = $1 AND channel = $2 AND (opted_out = 1 OR do_not_contact = 1)",
    )
    .bind(party_id)
    .bind(i64::from(channel))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}
