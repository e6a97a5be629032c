//! SLA policies.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

/// Inserts or replaces a policy.
pub async fn upsert(conn: &mut Conn, p: &pb::SlaPolicy) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sla_policies (tier, priority, response_minutes, resolution_minutes) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tier, priority) DO UPDATE SET response_minutes = excluded.response_minutes, \
         resolution_minutes = excluded.resolution_minutes",
    )
    .bind(&p.tier)
    .bind(i64::from(p.priority))
    .bind(p.response_minutes)
    .bind(p.resolution_minutes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` policies by tier and priority, after `after`.
pub async fn page(
    conn: &mut Conn,
    after: Option<(String, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::SlaPolicy>> {
    let mut q = SqlBuilder::new(
        "SELECT tier, priority, response_minutes, resolution_minutes FROM sla_policies WHERE 1 = 1",
    );
    q.after(
        "tier, priority",
        after.map(|(tier, priority)| vec![Arg::from(tier), Arg::from(priority)]),
    );
    q.order_limit("tier, priority", limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(pb::SlaPolicy {
                tier: r.try_get("tier")?,
                priority: r.try_get::<i64, _>("priority")? as i32,
                response_minutes: r.try_get("response_minutes")?,
                resolution_minutes: r.try_get("resolution_minutes")?,
            })
        })
        .collect()
}

/// The targets for `tier` and `priority`: the tier's own policy, else the any-tier policy.
pub async fn targets(conn: &mut Conn, tier: &str, priority: i32) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query(
        "SELECT response_minutes, resolution_minutes FROM sla_policies WHERE priority = $1 AND tier IN ($2, '') \
         ORDER BY tier DESC LIMIT 1",
    )
    .bind(i64::from(priority))
    .bind(tier)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("response_minutes")?, r.try_get("resolution_minutes")?)))
        .transpose()
}
