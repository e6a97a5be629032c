//! Activities.

use crm_proto::sales::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use super::{micros, new_id, timestamp};

/// Inserts an activity (id set here).
pub async fn insert(conn: &mut Conn, a: &mut pb::Activity) -> sqlx::Result<()> {
    a.id = new_id();
    sqlx::query(
        "INSERT INTO activities (id, kind, subject, notes, party_id, opportunity_id, owner_id, occurred_at, \
         duration_minutes, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&a.id)
    .bind(i64::from(a.kind))
    .bind(&a.subject)
    .bind(&a.notes)
    .bind(&a.party_id)
    .bind(&a.opportunity_id)
    .bind(&a.owner_id)
    .bind(a.occur_time.as_ref().map(micros).unwrap_or_default())
    .bind(i64::from(a.duration_minutes))
    .bind(&a.outcome)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rewrites an activity (an import's changed row).
pub async fn replace(conn: &mut Conn, a: &pb::Activity) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE activities SET kind = $1, subject = $2, notes = $3, party_id = $4, opportunity_id = $5, owner_id = $6, \
         occurred_at = $7, duration_minutes = $8, outcome = $9 WHERE id = $10",
    )
    .bind(i64::from(a.kind))
    .bind(&a.subject)
    .bind(&a.notes)
    .bind(&a.party_id)
    .bind(&a.opportunity_id)
    .bind(&a.owner_id)
    .bind(a.occur_time.as_ref().map(micros).unwrap_or_default())
    .bind(i64::from(a.duration_minutes))
    .bind(&a.outcome)
    .bind(&a.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Activities of a party and/or opportunity, newest first, after the (time, id) key.
pub async fn list(
    conn: &mut Conn,
    party_id: &str,
    opportunity_id: &str,
    after: Option<(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Activity>> {
    let mut q = SqlBuilder::new(
        "SELECT id, kind, subject, notes, party_id, opportunity_id, owner_id, occurred_at, duration_minutes, outcome \
         FROM activities WHERE 1 = 1",
    );
    if !party_id.is_empty() {
        q.and("party_id = {}", party_id);
    }
    if !opportunity_id.is_empty() {
        q.and("opportunity_id = {}", opportunity_id);
    }
    // A row-value position: both backends read it as a range of the (party or opportunity,
    // time, id) index. (`occurred_at < a OR (occurred_at = a AND id < b)` gave neither a start.)
    q.before(
        "occurred_at, id",
        after.map(|(at, id)| vec![Arg::from(at), Arg::from(id)]),
    );
    q.order_limit("occurred_at DESC, id DESC", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(pb::Activity {
                id: r.try_get("id")?,
                kind: r.try_get::<i64, _>("kind")? as i32,
                subject: r.try_get("subject")?,
                notes: r.try_get("notes")?,
                party_id: r.try_get("party_id")?,
                opportunity_id: r.try_get("opportunity_id")?,
                owner_id: r.try_get("owner_id")?,
                occur_time: Some(timestamp(r.try_get("occurred_at")?)),
                duration_minutes: r.try_get::<i64, _>("duration_minutes")? as i32,
                outcome: r.try_get("outcome")?,
            })
        })
        .collect()
}
