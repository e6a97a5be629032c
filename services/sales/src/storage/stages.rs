//! The configurable pipeline stages.

use crm_proto::sales::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;

/// The stages in order.
pub async fn list(conn: &mut Conn) -> sqlx::Result<Vec<pb::PipelineStage>> {
    let rows = sqlx::query(
        "SELECT code, name, win_probability_bps, is_won, is_lost FROM pipeline_stages ORDER BY position",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::PipelineStage {
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                win_probability_bps: r.try_get::<i64, _>("win_probability_bps")? as i32,
                is_won: r.try_get::<i64, _>("is_won")? != 0,
                is_lost: r.try_get::<i64, _>("is_lost")? != 0,
            })
        })
        .collect()
}

/// Replaces the stages.
pub async fn replace(conn: &mut Conn, stages: &[pb::PipelineStage]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM pipeline_stages")
        .execute(&mut *conn)
        .await?;
    for (position, s) in stages.iter().enumerate() {
        sqlx::query(
            "INSERT INTO pipeline_stages (code, name, position, win_probability_bps, is_won, is_lost) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.code)
        .bind(&s.name)
        .bind(position as i64 + 1)
        .bind(i64::from(s.win_probability_bps))
        .bind(i64::from(s.is_won))
        .bind(i64::from(s.is_lost))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
