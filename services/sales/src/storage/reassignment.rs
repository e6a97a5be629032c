//! The progress of the background reassignment of accounts to territories: one row.

use crm_proto::sales::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;

use super::timestamp;

/// Where a run has got to.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Counts the runs started.
    pub generation: i64,
    /// The last account evaluated ('' before the first).
    pub after: String,
    /// Accounts evaluated so far.
    pub evaluated: i64,
    /// Accounts moved so far.
    pub reassigned: i64,
    /// When the run was asked for (µs).
    pub requested_at: i64,
    /// When it finished (µs); None while it runs.
    pub finished_at: Option<i64>,
}

impl Progress {
    /// As the API shows it.
    pub fn to_proto(&self) -> pb::AccountReassignment {
        pb::AccountReassignment {
            generation: self.generation,
            done: self.finished_at.is_some(),
            evaluated: self.evaluated,
            reassigned: self.reassigned,
            request_time: Some(timestamp(self.requested_at)),
            finish_time: self.finished_at.map(timestamp),
        }
    }
}

/// The current run's progress.
pub async fn get(conn: &mut Conn) -> sqlx::Result<Progress> {
    let r = sqlx::query(
        "SELECT generation, after_party, evaluated, reassigned, requested_at, finished_at \
         FROM account_reassignment WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Progress {
        generation: r.try_get("generation")?,
        after: r.try_get("after_party")?,
        evaluated: r.try_get("evaluated")?,
        reassigned: r.try_get("reassigned")?,
        requested_at: r.try_get("requested_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Starts a new run from the first account (a run under way starts over), in the caller's
/// transaction: it begins once the change of the rules that asks for it commits.
pub async fn request(conn: &mut Conn, now: i64) -> sqlx::Result<Progress> {
    sqlx::query(
        "UPDATE account_reassignment SET generation = generation + 1, after_party = '', evaluated = 0, \
         reassigned = 0, requested_at = $1, finished_at = NULL WHERE id = 1",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    get(conn).await
}

/// Records a page of run `from` evaluated up to `after`, `finished_at` when it was the last;
/// false when the run is no longer where `from` was (started over, or the page done by another
/// replica), and the page's work is to be rolled back.
pub async fn advance(
    conn: &mut Conn,
    from: &Progress,
    after: &str,
    (evaluated, reassigned): (i64, i64),
    finished_at: Option<i64>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE account_reassignment SET after_party = $1, evaluated = evaluated + $2, \
         reassigned = reassigned + $3, finished_at = $4 \
         WHERE id = 1 AND generation = $5 AND after_party = $6 AND finished_at IS NULL",
    )
    .bind(after)
    .bind(evaluated)
    .bind(reassigned)
    .bind(finished_at)
    .bind(from.generation)
    .bind(&from.after)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
