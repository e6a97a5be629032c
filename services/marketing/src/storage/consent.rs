//! Opt-outs and do-not-contact flags per channel.

use crm_proto::marketing::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;

use super::timestamp;

/// Sets a customer's consent for a channel.
pub async fn set(conn: &mut Conn, c: &pb::Consent, now: i64) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO consent (party_id, channel, opted_out, do_not_contact, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (party_id, channel) DO UPDATE SET opted_out = excluded.opted_out, do_not_contact = excluded.do_not_contact, \
         updated_at = excluded.updated_at",
    )
    .bind(&c.party_id)
    .bind(i64::from(c.channel))
    .bind(i64::from(c.opted_out))
    .bind(i64::from(c.do_not_contact))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(now)
}

/// A customer's consents.
pub async fn of(conn: &mut Conn, party_id: &str) -> sqlx::Result<Vec<pb::Consent>> {
    let rows = sqlx::query("SELECT party_id, channel, opted_out, do_not_contact, updated_at FROM consent WHERE party_id = $1 ORDER BY channel")
        .bind(party_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Consent {
                party_id: r.try_get("party_id")?,
                channel: r.try_get::<i64, _>("channel")? as i32,
                opted_out: r.try_get::<i64, _>("opted_out")? != 0,
                do_not_contact: r.try_get::<i64, _>("do_not_contact")? != 0,
                update_time: Some(timestamp(r.try_get("updated_at")?)),
            })
        })
        .collect()
}
