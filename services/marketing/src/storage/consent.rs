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

/// Which of `party_ids` opted out of `channel` or may not be contacted on it (one query per
/// 500 parties).
pub async fn blocked(
    conn: &mut Conn,
    party_ids: &[String],
    channel: i32,
) -> sqlx::Result<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    for chunk in party_ids.chunks(500) {
        let mut q = crm_storage::SqlBuilder::new(
            "SELECT party_id FROM consent WHERE (opted_out = 1 OR do_not_contact = 1)",
        );
        q.and("channel = {}", i64::from(channel));
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            out.insert(row.try_get("party_id")?);
        }
    }
    Ok(out)
}

/// One customer's consent on one channel (none stored: free to contact).
pub async fn on_channel(conn: &mut Conn, party_id: &str, channel: i32) -> sqlx::Result<pb::Consent> {
    Ok(of(conn, party_id)
        .await?
        .into_iter()
        .find(|c| c.channel == channel)
        .unwrap_or(pb::Consent {
            party_id: party_id.to_string(),
            channel,
            ..Default::default()
        }))
}

/// Records a contact feedback once; false when its id was recorded before.
pub async fn record_feedback(
    conn: &mut Conn,
    req: &pb::RecordContactFeedbackRequest,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO contact_feedback (feedback_id, party_id, channel, kind, campaign_id, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (feedback_id) DO NOTHING",
    )
    .bind(&req.feedback_id)
    .bind(&req.party_id)
    .bind(i64::from(req.channel))
    .bind(i64::from(req.kind))
    .bind(&req.campaign_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
