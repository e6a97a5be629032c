//! Re-rankings of every rank (see [`crate::ranking`]): the latest one's progress, kept in one
//! row, and the moves it stages.

use crm_proto::customers::v1 as pb;
use crm_storage::Conn;

use super::timestamp;

/// Where the latest re-ranking of every rank stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Ranking {
    /// Names the re-ranking (the tier moves it announces are one decision under it).
    pub run_id: String,
    /// Who started it.
    pub started_by: String,
    /// When it started (µs).
    pub started_at: i64,
    /// When the whole base was ranked and its moves staged (µs); 0 until then.
    pub staged_at: i64,
    /// When it ended (µs); 0 while under way.
    pub finished_at: i64,
    /// Parties ranked.
    pub ranked: i64,
    /// Parties whose rank or tier it moves.
    pub to_move: i64,
    /// Of those, the ones stored so far.
    pub moved: i64,
    /// Tier changes announced so far.
    pub tier_changes: i64,
    /// The last party gone through ('' before the first).
    #[sqlx(rename = "after_id")]
    pub after: String,
}

impl Ranking {
    /// Still storing its moves.
    pub fn under_way(&self) -> bool {
        self.finished_at == 0
    }

    /// Its moves are staged.
    pub fn staged(&self) -> bool {
        self.staged_at != 0
    }

    /// As the API shows it.
    pub fn to_proto(&self) -> pb::TierRanking {
        pb::TierRanking {
            ranked: self.ranked,
            to_move: self.to_move,
            moved: self.moved,
            tier_changes: self.tier_changes,
            started_by: self.started_by.clone(),
            start_time: Some(timestamp(self.started_at)),
            stage_time: self.staged().then(|| timestamp(self.staged_at)),
            finish_time: (!self.under_way()).then(|| timestamp(self.finished_at)),
        }
    }
}

/// The latest re-ranking, if there was one.
pub async fn latest(conn: &mut Conn) -> sqlx::Result<Option<Ranking>> {
    sqlx::query_as(
        "SELECT run_id, started_by, started_at, staged_at, finished_at, ranked, to_move, moved, \
         tier_changes, after_id FROM tier_ranking_run WHERE id = 1",
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Starts re-ranking `run_id` unless one is under way (then it does nothing). On PostgreSQL a
/// second start waits for the first to commit (the row's lock), then finds it under way.
pub async fn claim(conn: &mut Conn, run_id: &str, started_by: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tier_ranking_run (id, run_id, started_by, started_at) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, started_by = excluded.started_by, \
         started_at = excluded.started_at, staged_at = 0, finished_at = 0, ranked = 0, to_move = 0, \
         moved = 0, tier_changes = 0, after_id = '' WHERE tier_ranking_run.finished_at <> 0",
    )
    .bind(run_id)
    .bind(started_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the staging of ranking `run_id` for the caller's transaction and clears the moves of
/// the ranking before; false when it is staged already (or no longer the latest). On PostgreSQL
/// a second stager waits for the first to commit (the row's lock), then finds it staged.
pub async fn take_staging(conn: &mut Conn, run_id: &str) -> sqlx::Result<bool> {
    let taken = sqlx::query(
        "UPDATE tier_ranking_run SET staged_at = 0 WHERE id = 1 AND run_id = $1 AND staged_at = 0",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if taken {
        clear_moves(conn).await?;
    }
    Ok(taken)
}

/// Empties the staged moves (a ranking's last page, and a staging, in case). TRUNCATE drops a
/// million rows at once on PostgreSQL; SQLite empties a table on a DELETE without WHERE as fast.
/// Callers hold the ranking's row first, so no other transaction is reading them.
pub async fn clear_moves(conn: &mut Conn) -> sqlx::Result<()> {
    let clear = if conn.backend_name() == "PostgreSQL" {
        "TRUNCATE tier_ranking_moves"
    } else {
        "DELETE FROM tier_ranking_moves"
    };
    sqlx::query(clear).execute(&mut *conn).await?;
    Ok(())
}

/// Holds the ranking's row for the caller's transaction if `ranking` is still where it was
/// read; false otherwise (another replica stored that page, or it ended). A page holds it
/// before it writes, so that two replicas on one page take turns, and the second writes nothing.
pub async fn hold(conn: &mut Conn, ranking: &Ranking) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE tier_ranking_run SET after_id = after_id WHERE id = 1 AND run_id = $1 AND after_id = $2 \
         AND finished_at = 0",
    )
    .bind(&ranking.run_id)
    .bind(&ranking.after)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Holds the ranking's row for the caller's transaction unless a ranking is under way (false
/// then): the sweeper's re-ranking of tier moves holds it, so that it neither runs between a
/// ranking's staging and its pages (which would store older tiers over its own) nor announces a
/// tier move a page announces too.
pub async fn hold_unless_under_way(conn: &mut Conn) -> sqlx::Result<bool> {
    let held = sqlx::query(
        "UPDATE tier_ranking_run SET finished_at = finished_at WHERE id = 1 AND finished_at <> 0",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    // Without the row, nothing was ever ranked.
    Ok(held || latest(conn).await?.is_none())
}

/// Records that ranking `run_id` staged `to_move` moves of `ranked` parties at `now`.
pub async fn set_staged(
    conn: &mut Conn,
    run_id: &str,
    ranked: i64,
    to_move: i64,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tier_ranking_run SET ranked = $1, to_move = $2, staged_at = $3 WHERE id = 1 AND run_id = $4",
    )
    .bind(ranked)
    .bind(to_move)
    .bind(now)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` staged moves' parties after `after`, by id.
pub async fn moves_after(conn: &mut Conn, after: &str, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT party_id FROM tier_ranking_moves WHERE party_id > $1 ORDER BY party_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Moves `ranking` on to `to`, adding what a page stored, and ends it at `finished`. The page
/// holds the ranking's row ([`hold`]), so it is still where the page read it.
pub async fn advance(
    conn: &mut Conn,
    ranking: &Ranking,
    to: &str,
    moved: i64,
    tier_changes: i64,
    finished: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tier_ranking_run SET after_id = $1, moved = moved + $2, tier_changes = tier_changes + $3, \
         finished_at = $4 WHERE id = 1 AND run_id = $5",
    )
    .bind(to)
    .bind(moved)
    .bind(tier_changes)
    .bind(finished.unwrap_or(0))
    .bind(&ranking.run_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
