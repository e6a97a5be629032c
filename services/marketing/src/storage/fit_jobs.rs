//! Model fit jobs: which one runs, how far it got, and how it ended.

use crm_storage::{Conn, is_unique_violation};
use sqlx::Row as _;

/// How long a running job's heartbeat may be silent before the job counts as interrupted (its
/// service stopped while it ran). Every stage of a fit reports well within it.
pub const LEASE_MICROS: i64 = 5 * 60 * 1_000_000;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Reading, fitting or scoring.
    Running,
    /// The fit is the latest.
    Succeeded,
    /// It failed or was interrupted.
    Failed,
}

impl State {
    fn parse(s: &str) -> Self {
        match s {
            "running" => State::Running,
            "succeeded" => State::Succeeded,
            _ => State::Failed,
        }
    }
}

/// A fit job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: String,
    /// Where it stands (a running job past its lease is reported failed).
    pub state: State,
    /// YYYY-MM-DD the histories end.
    pub as_of: String,
    /// Customers fitted on, once known.
    pub customers: i64,
    /// Customers scored so far.
    pub scored: i64,
    /// Customers newly announced at risk.
    pub newly_at_risk: i64,
    /// The BG/NBD log-likelihood at the optimum.
    pub log_likelihood: f64,
    /// The fitted parameters (see `models::params_json`), once it succeeded.
    pub params: String,
    /// Why it failed.
    pub error: String,
    /// When it started (µs).
    pub started_at: i64,
    /// When it ended (µs).
    pub finished_at: Option<i64>,
}

/// Why a job whose heartbeat stopped failed.
pub const INTERRUPTED: &str = "interrupted: the service stopped while the fit ran";

const COLUMNS: &str = "id, state, as_of, customers, scored, newly_at_risk, log_likelihood, params, error, \
                       started_at, heartbeat_at, finished_at";

fn to_job(row: &sqlx::any::AnyRow, now: i64) -> sqlx::Result<Job> {
    let mut job = Job {
        id: row.try_get("id")?,
        state: State::parse(&row.try_get::<String, _>("state")?),
        as_of: row.try_get("as_of")?,
        customers: row.try_get("customers")?,
        scored: row.try_get("scored")?,
        newly_at_risk: row.try_get("newly_at_risk")?,
        log_likelihood: row.try_get("log_likelihood")?,
        params: row.try_get("params")?,
        error: row.try_get("error")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    };
    let heartbeat: i64 = row.try_get("heartbeat_at")?;
    if job.state == State::Running && heartbeat < now - LEASE_MICROS {
        job.state = State::Failed;
        job.error = INTERRUPTED.into();
    }
    Ok(job)
}

/// The job `id`, or the latest started when `id` is empty.
pub async fn get(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<Option<Job>> {
    let row = if id.is_empty() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM model_fit_jobs ORDER BY started_at DESC, id DESC LIMIT 1"
        )))
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM model_fit_jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    };
    row.map(|r| to_job(&r, now)).transpose()
}

/// Starts job `id` for `as_of`, unless one is running: then that one (the caller joins it).
/// A running job past its lease is marked failed first.
pub async fn start(conn: &mut Conn, id: &str, as_of: &str, now: i64) -> sqlx::Result<Job> {
    sqlx::query(
        "UPDATE model_fit_jobs SET state = 'failed', error = $1, finished_at = $2 \
         WHERE state = 'running' AND heartbeat_at < $3",
    )
    .bind(INTERRUPTED)
    .bind(now)
    .bind(now - LEASE_MICROS)
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO model_fit_jobs (id, state, as_of, started_at, heartbeat_at) VALUES ($1, 'running', $2, $3, $3)",
    )
    .bind(id)
    .bind(as_of)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        // Another fit runs: join it.
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM model_fit_jobs WHERE state = 'running' OR id = $1 \
         ORDER BY CASE WHEN state = 'running' THEN 0 ELSE 1 END LIMIT 1"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    to_job(&row, now)
}

/// Reports progress of a running job: `customers` to score, `scored` so far.
pub async fn progress(conn: &mut Conn, id: &str, customers: i64, scored: i64, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE model_fit_jobs SET customers = $1, scored = $2, heartbeat_at = $3 WHERE id = $4 AND state = 'running'",
    )
    .bind(customers)
    .bind(scored)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a successful fit found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Customers fitted on and scored.
    pub customers: i64,
    /// Customers newly announced at risk.
    pub newly_at_risk: i64,
    /// The BG/NBD log-likelihood at the optimum.
    pub log_likelihood: f64,
    /// The parameters (`models::params_json`).
    pub params: String,
}

/// Ends a job as succeeded.
pub async fn succeed(conn: &mut Conn, id: &str, outcome: &Outcome, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE model_fit_jobs SET state = 'succeeded', customers = $1, scored = $1, newly_at_risk = $2, \
         log_likelihood = $3, params = $4, heartbeat_at = $5, finished_at = $5 WHERE id = $6",
    )
    .bind(outcome.customers)
    .bind(outcome.newly_at_risk)
    .bind(outcome.log_likelihood)
    .bind(&outcome.params)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends a job as failed with `error`.
pub async fn fail(conn: &mut Conn, id: &str, error: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE model_fit_jobs SET state = 'failed', error = $1, heartbeat_at = $2, finished_at = $2 WHERE id = $3",
    )
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Job {
    /// Whether the job is over.
    pub fn ended(&self) -> bool {
        self.state != State::Running
    }
}
