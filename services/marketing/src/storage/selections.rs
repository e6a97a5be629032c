//! A campaign's selection of members (SelectMembers), kept on the campaign's row: where it is in
//! the segment, its counts so far, and the scoring every page of it shares.

use crm_proto::marketing::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::timestamp;
use crate::domain::rfm::Cuts;

/// Where a campaign's selection has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// When it started (µs).
    pub started_at: i64,
    /// When it ended (µs); None while under way.
    pub finished_at: Option<i64>,
    /// The last customer it went through ('' before the first).
    pub after: String,
    /// Members selected so far.
    pub selected: i64,
    /// Customers left out so far for their consent on the campaign's channel.
    pub suppressed: i64,
    /// The RFM boundaries of its start, which every page scores against.
    pub cuts: Cuts,
    /// The day of its start (days since the epoch), which recency is counted to.
    pub today: i64,
}

impl Selection {
    /// Still going through the segment.
    pub fn under_way(&self) -> bool {
        self.finished_at.is_none()
    }

    /// As the API shows it.
    pub fn to_proto(&self) -> pb::MemberSelection {
        pb::MemberSelection {
            selected: self.selected,
            suppressed: self.suppressed,
            start_time: Some(timestamp(self.started_at)),
            finish_time: self.finished_at.map(timestamp),
        }
    }
}

/// The selection of a campaign row read with its columns ([`super::campaigns::SELECTION`]);
/// None before the first.
pub(super) fn from_row(r: &AnyRow) -> sqlx::Result<Option<Selection>> {
    let Some(started_at) = r.try_get::<Option<i64>, _>("sel_started_at")? else {
        return Ok(None);
    };
    let cuts: String = r.try_get("sel_cuts")?;
    Ok(Some(Selection {
        started_at,
        finished_at: r.try_get("sel_finished_at")?,
        after: r.try_get("sel_after")?,
        selected: r.try_get("sel_selected")?,
        suppressed: r.try_get("sel_suppressed")?,
        cuts: serde_json::from_str(&cuts).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        today: r.try_get("sel_today")?,
    }))
}

/// The campaign's selection (None for a campaign never selected, or none by that id).
pub async fn get(conn: &mut Conn, campaign_id: &str) -> sqlx::Result<Option<Selection>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM campaigns WHERE id = $1",
        super::campaigns::SELECTION
    )))
    .bind(campaign_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?.flatten())
}

/// Starts the selection of a draft campaign's members (replacing the one before, under way or
/// not), scoring against `cuts` on day `today`; false when the campaign is not a draft. In the
/// caller's transaction: it begins once the call that asks for it commits.
pub async fn start(
    conn: &mut Conn,
    campaign_id: &str,
    cuts: &Cuts,
    today: i64,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE campaigns SET sel_started_at = $1, sel_finished_at = NULL, sel_after = '', sel_selected = 0, \
         sel_suppressed = 0, sel_cuts = $2, sel_today = $3 WHERE id = $4 AND status = $5",
    )
    .bind(now)
    .bind(serde_json::to_string(cuts).expect("boundaries as JSON"))
    .bind(today)
    .bind(campaign_id)
    .bind(pb::CampaignStatus::Draft as i64)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a page of the selection `from` gone through up to `to`, with the members it
/// selected and the customers it left out, ended at `finished_at` when it was the last; false
/// when the selection is no longer where `from` was (the page done by another replica, the
/// selection started again) or the campaign is no longer a draft, and the page's work is to be
/// rolled back.
pub async fn advance(
    conn: &mut Conn,
    campaign_id: &str,
    from: &Selection,
    to: &str,
    selected: i64,
    suppressed: i64,
    finished_at: Option<i64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE campaigns SET sel_after = $1, sel_selected = sel_selected + $2, sel_suppressed = sel_suppressed + $3, \
         sel_finished_at = $4 WHERE id = $5 AND sel_started_at = $6 AND sel_after = $7 AND sel_finished_at IS NULL \
         AND status = $8",
    )
    .bind(to)
    .bind(selected)
    .bind(suppressed)
    .bind(finished_at)
    .bind(campaign_id)
    .bind(from.started_at)
    .bind(&from.after)
    .bind(pb::CampaignStatus::Draft as i64)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a campaign's selection under way where it is; false when none was under way.
pub async fn end(conn: &mut Conn, campaign_id: &str, now: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE campaigns SET sel_finished_at = $1 \
         WHERE id = $2 AND sel_started_at IS NOT NULL AND sel_finished_at IS NULL",
    )
    .bind(now)
    .bind(campaign_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Up to `limit` campaigns whose selections are under way, started at or before `started_by`
/// (µs), oldest first.
pub async fn under_way(conn: &mut Conn, started_by: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM campaigns WHERE sel_started_at IS NOT NULL AND sel_finished_at IS NULL \
         AND sel_started_at <= $1 ORDER BY sel_started_at, id LIMIT $2",
    )
    .bind(started_by)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}
