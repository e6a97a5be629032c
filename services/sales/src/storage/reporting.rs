//! Reports in SQL: the funnel, forecast and win totals of the opportunities a report covers,
//! the open deals and new opportunities the alert rules look at, and the orders quota
//! attainment adds up.

use std::collections::{BTreeMap, HashMap};

use crm_proto::sales::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::alerts::{NewDealWindows, NewDeals};

/// Which opportunities and orders a report covers.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// One owner.
    pub owner_id: String,
    /// Some teams (None: any).
    pub team_ids: Option<Vec<String>>,
    /// One territory.
    pub territory_id: String,
}

/// The opportunities a report adds up: in scope, in the report's currency, created in
/// `[from, to)` when given.
#[derive(Debug, Clone, Copy)]
pub struct Covered<'a> {
    /// Whose.
    pub scope: &'a Scope,
    /// Amounts in this currency only.
    pub currency: &'a str,
    /// Created at or after (µs).
    pub created_from: Option<i64>,
    /// Created before (µs).
    pub created_to: Option<i64>,
}

/// Appends the conditions on `o` (opportunities) that `c` sets.
fn covered(q: &mut SqlBuilder, c: &Covered<'_>) {
    q.and("o.currency_code = {}", c.currency.to_string());
    if !c.scope.owner_id.is_empty() {
        q.and("o.owner_id = {}", c.scope.owner_id.clone());
    }
    if !c.scope.territory_id.is_empty() {
        q.and("o.territory_id = {}", c.scope.territory_id.clone());
    }
    match &c.scope.team_ids {
        Some(teams) if teams.is_empty() => {
            q.push(" AND 1 = 0");
        }
        Some(teams) => {
            let list = q.in_list(teams.iter().map(String::as_str));
            q.push(&format!(" AND o.team_id IN ({list})"));
        }
        None => {}
    }
    if let Some(from) = c.created_from {
        q.and("o.created_at >= {}", from);
    }
    if let Some(to) = c.created_to {
        q.and("o.created_at < {}", to);
    }
}

/// What the funnel adds up, per stage code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FunnelTotals {
    /// The covered opportunities now in the stage, and their amount.
    pub current: HashMap<String, (i64, i64)>,
    /// The visits of the stage in the covered opportunities' history, and the sum of their
    /// durations in whole seconds (each clamped at zero, an open visit counted to now).
    pub visits: HashMap<String, (i64, i64)>,
    /// The covered opportunities that visited the stage but whose current stage does not imply
    /// it: with those whose current stage does, they are the ones that reached it.
    pub visited_only: HashMap<String, i64>,
}

/// The funnel's totals in one statement: one pass over the covered opportunities and one over
/// their history. `implied_by` pairs each stage with the current stages that imply it, so that
/// an opportunity is counted once as having reached a stage, by its current stage or else by a
/// visit, without a distinct set of every (opportunity, stage) pair.
pub async fn funnel_totals(
    conn: &mut Conn,
    c: &Covered<'_>,
    implied_by: &[(String, Vec<String>)],
    now: i64,
) -> sqlx::Result<FunnelTotals> {
    let mut q = SqlBuilder::new(
        "SELECT 'now' AS part, o.stage_code AS stage, COUNT(*) AS n, CAST(SUM(o.amount_minor) AS BIGINT) AS amount, \
         0 AS visited_only FROM opportunities o WHERE 1 = 1",
    );
    covered(&mut q, c);
    let mut implied = Vec::new();
    for (stage, current) in implied_by {
        for now_in in current {
            let (now_in, stage) = (q.arg(now_in.as_str()), q.arg(stage.as_str()));
            implied.push(format!("SELECT {now_in} AS now_in, {stage} AS stage"));
        }
    }
    if implied.is_empty() {
        implied.push("SELECT '' AS now_in, '' AS stage".into());
    }
    let now = q.arg(now);
    q.push(&format!(
        " GROUP BY o.stage_code UNION ALL SELECT 'visits', h.stage_code, COUNT(*), \
         CAST(COALESCE(SUM(CASE WHEN COALESCE(h.left_at, {now}) > h.entered_at \
         THEN (COALESCE(h.left_at, {now}) - h.entered_at) / 1000000 ELSE 0 END), 0) AS BIGINT), \
         COUNT(DISTINCT CASE WHEN i.stage IS NULL THEN h.opportunity_id END) \
         FROM stage_history h JOIN opportunities o ON o.id = h.opportunity_id \
         LEFT JOIN ({}) i ON i.now_in = o.stage_code AND i.stage = h.stage_code WHERE 1 = 1",
        implied.join(" UNION ALL ")
    ));
    covered(&mut q, c);
    q.push(" GROUP BY h.stage_code");
    let mut totals = FunnelTotals::default();
    for row in q.build().fetch_all(&mut *conn).await? {
        let stage: String = row.try_get("stage")?;
        let figures = (row.try_get("n")?, row.try_get("amount")?);
        if row.try_get::<String, _>("part")? == "now" {
            totals.current.insert(stage, figures);
        } else {
            totals
                .visited_only
                .insert(stage.clone(), row.try_get("visited_only")?);
            totals.visits.insert(stage, figures);
        }
    }
    Ok(totals)
}

/// Open covered opportunities by expected-close month ("YYYY-MM"): (month, count, pipeline,
/// weighted), each opportunity's weight rounded on its own, half away from zero.
pub async fn forecast_by_month(
    conn: &mut Conn,
    c: &Covered<'_>,
) -> sqlx::Result<Vec<(String, i64, i64, i64)>> {
    let mut q = SqlBuilder::new(
        "SELECT SUBSTR(o.expected_close_date, 1, 7) AS month, COUNT(*) AS n, CAST(SUM(o.amount_minor) AS BIGINT) AS pipeline, \
         CAST(SUM(CASE WHEN o.amount_minor * s.win_probability_bps >= 0 \
         THEN (o.amount_minor * s.win_probability_bps + 5000) / 10000 \
         ELSE -((5000 - o.amount_minor * s.win_probability_bps) / 10000) END) AS BIGINT) AS weighted \
         FROM opportunities o JOIN pipeline_stages s ON s.code = o.stage_code WHERE s.is_won = 0 AND s.is_lost = 0",
    );
    covered(&mut q, c);
    q.push(" GROUP BY SUBSTR(o.expected_close_date, 1, 7) ORDER BY month");
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("month")?,
                r.try_get("n")?,
                r.try_get("pipeline")?,
                r.try_get("weighted")?,
            ))
        })
        .collect()
}

/// Covered opportunities closed in `[from, to)` (µs): (won, lost, won amount, the won ones'
/// whole seconds from creation to close).
pub async fn closed_totals(
    conn: &mut Conn,
    c: &Covered<'_>,
    from: i64,
    to: i64,
) -> sqlx::Result<(i64, i64, i64, i64)> {
    let mut q = SqlBuilder::new(
        "SELECT CAST(COALESCE(SUM(CASE WHEN s.is_won = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS won, \
         CAST(COALESCE(SUM(CASE WHEN s.is_lost = 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS lost, \
         CAST(COALESCE(SUM(CASE WHEN s.is_won = 1 THEN o.amount_minor ELSE 0 END), 0) AS BIGINT) AS won_amount, \
         CAST(COALESCE(SUM(CASE WHEN s.is_won = 1 THEN (o.closed_at - o.created_at) / 1000000 ELSE 0 END), 0) AS BIGINT) AS cycle \
         FROM opportunities o JOIN pipeline_stages s ON s.code = o.stage_code WHERE o.closed_at IS NOT NULL",
    );
    q.and("o.closed_at >= {}", from).and("o.closed_at < {}", to);
    covered(&mut q, c);
    let r = q.build().fetch_one(&mut *conn).await?;
    Ok((
        r.try_get("won")?,
        r.try_get("lost")?,
        r.try_get("won_amount")?,
        r.try_get("cycle")?,
    ))
}

/// An open opportunity as the alert rules see it: (id, name, owner, stage, expected close date,
/// when it entered its stage (µs, None without history), the planned leave date of that stage).
pub type OpenDealRow = (String, String, String, String, String, Option<i64>, String);

/// The open opportunities that may be stalled or overdue at `today` (YYYY-MM-DD): past their
/// expected close date, past the planned end of their stage, or (no plan) in their stage since
/// before `stalled_before` (µs), each with its current stage visit (the last of its history), by
/// id. The rules decide; this reads only the deals they can flag with an alert not raised before
/// (matched on the dedupe keys `domain::alerts` gives: `stalled:{id}:{stage}`,
/// `overdue:{id}:{close}`), each found in a range of an index of the open deals
/// (`opportunities_overdue`, `opportunities_stalled`), so that a run reads the late deals, not
/// every open one.
pub async fn alert_candidates(
    conn: &mut Conn,
    today: &str,
    stalled_before: i64,
) -> sqlx::Result<Vec<OpenDealRow>> {
    // The status is written out, not bound: SQLite uses a partial index only for a query that
    // names its condition, and PostgreSQL's generic plans only for a constant.
    let open = pb::OpportunityStatus::Open as i64;
    let not_stalled_before =
        "NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dedupe_key = 'stalled:' || o.id || ':' || o.stage_code)";
    // The visit is read from the history, not from the copy on the opportunity the ranges are
    // on: a replica of the release before the copy, still running during an upgrade, changes a
    // stage or a plan without it. Such a deal may be read too early (the rules then raise
    // nothing) or too late, until its next change of stage, but is judged by its history.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT o.id, o.name, o.owner_id, o.stage_code, o.expected_close_date, h.entered_at, h.planned_leave_date \
         FROM (SELECT o.id FROM opportunities o WHERE o.status = {open} AND o.expected_close_date < $1 \
         AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dedupe_key = 'overdue:' || o.id || ':' || o.expected_close_date) \
         UNION SELECT o.id FROM opportunities o WHERE o.status = {open} AND o.stage_plan > '' AND o.stage_plan < $1 \
         AND {not_stalled_before} \
         UNION SELECT o.id FROM opportunities o WHERE o.status = {open} AND o.stage_plan = '' \
         AND o.stage_entered_at < $2 AND {not_stalled_before}) late \
         JOIN opportunities o ON o.id = late.id LEFT JOIN stage_history h ON h.opportunity_id = o.id \
         AND h.seq = (SELECT MAX(s.seq) FROM stage_history s WHERE s.opportunity_id = o.id) \
         ORDER BY o.id"
    )))
    .bind(today)
    .bind(stalled_before)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("name")?,
            r.try_get("owner_id")?,
            r.try_get("stage_code")?,
            r.try_get("expected_close_date")?,
            r.try_get("entered_at")?,
            r.try_get::<Option<String>, _>("planned_leave_date")?
                .unwrap_or_default(),
        ))
    })
    .collect()
}

/// Each rep's open opportunities in one of `early_stages`, of the reps with more than
/// `threshold`: a grouped count.
pub async fn early_stage_counts(
    conn: &mut Conn,
    early_stages: &[String],
    threshold: i64,
) -> sqlx::Result<Vec<(String, i64)>> {
    if early_stages.is_empty() {
        return Ok(Vec::new());
    }
    let mut q =
        crm_storage::SqlBuilder::new("SELECT owner_id, COUNT(*) AS deals FROM opportunities WHERE 1 = 1");
    q.and("status = {}", pb::OpportunityStatus::Open as i64);
    let list = q.in_list(early_stages.iter().map(String::as_str));
    q.push(&format!(
        " AND stage_code IN ({list}) GROUP BY owner_id HAVING COUNT(*) > "
    ));
    let threshold = q.arg(threshold);
    q.push(&threshold);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("owner_id")?, r.try_get("deals")?)))
        .collect()
}

/// Each rep's opportunities created in the falling-rate rule's two windows, counted in SQL (the
/// rows of `windows`' span, read by `opportunities_created`): reps with none in either are left out.
pub async fn new_deal_counts(
    conn: &mut Conn,
    windows: &NewDealWindows,
) -> sqlx::Result<BTreeMap<String, NewDeals>> {
    sqlx::query(
        "SELECT owner_id, \
         CAST(SUM(CASE WHEN created_at > $2 THEN 1 ELSE 0 END) AS BIGINT) AS recent, \
         CAST(SUM(CASE WHEN created_at > $2 THEN 0 ELSE 1 END) AS BIGINT) AS baseline \
         FROM opportunities WHERE created_at > $1 AND created_at <= $3 GROUP BY owner_id",
    )
    .bind(windows.from)
    .bind(windows.recent_from)
    .bind(windows.to)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("owner_id")?,
            NewDeals {
                recent: r.try_get("recent")?,
                baseline: r.try_get("baseline")?,
            },
        ))
    })
    .collect()
}

/// Whom counted orders are added up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credit {
    /// The selling rep.
    Rep,
    /// The order's team, or its rep's team when it has none.
    Team,
}

/// Amounts per (rep or team, currency, product line).
pub type Attained = HashMap<(String, String, String), i64>;

/// Whose orders [`attained`] adds up, when not everyone's.
#[derive(Debug, Clone, Copy)]
pub struct Credited<'a> {
    /// The reps (rep credit) or teams (team credit) credited.
    pub owners: &'a [String],
    /// With team credit, the reps of those teams: an order without a team counts for its rep's.
    pub reps: &'a [String],
}

/// Counted orders (placed or fulfilled) placed in `[from, to)` (µs), added up in SQL per
/// (rep or team, currency, product line): the line nets per product line when `by_line`, the
/// order totals under the product line "" otherwise. With `credited`, only their orders
/// are read (from the owner and team indexes) and added up.
pub async fn attained(
    conn: &mut Conn,
    backend: crm_storage::Backend,
    credit: Credit,
    by_line: bool,
    from: i64,
    to: i64,
    credited: Option<Credited<'_>>,
) -> sqlx::Result<Attained> {
    let who = match credit {
        Credit::Rep => "o.owner_id",
        Credit::Team => "CASE WHEN o.team_id <> '' THEN o.team_id ELSE COALESCE(r.team_id, '') END",
    };
    let (lines, line, amount) = match (by_line, backend) {
        (false, _) => ("", "''", "o.total_minor"),
        (true, crm_storage::Backend::Postgres) => (
            " CROSS JOIN LATERAL jsonb_array_elements(o.lines::jsonb) AS l(v)",
            "(l.v ->> 'product_line')",
            "CAST(l.v ->> 'net_minor' AS BIGINT)",
        ),
        (true, crm_storage::Backend::Sqlite) => (
            ", json_each(o.lines) AS l",
            "json_extract(l.value, '$.product_line')",
            "json_extract(l.value, '$.net_minor')",
        ),
    };
    let mut q = SqlBuilder::new(&format!(
        "SELECT {who} AS who, o.currency_code, {line} AS line, CAST(SUM({amount}) AS BIGINT) AS amount \
         FROM orders o LEFT JOIN reps r ON r.user_id = o.owner_id{lines} WHERE 1 = 1"
    ));
    q.and("o.placed_at >= {}", from).and("o.placed_at < {}", to);
    if let Some(scope) = credited {
        // The same owners the grouping credits, spelled so that indexes on the order's owner
        // and team serve them.
        let mut whose = Vec::new();
        if !scope.owners.is_empty() {
            let column = match credit {
                Credit::Rep => "o.owner_id",
                Credit::Team => "o.team_id",
            };
            whose.push(format!(
                "{column} IN ({})",
                q.in_list(scope.owners.iter().map(String::as_str))
            ));
        }
        if credit == Credit::Team && !scope.reps.is_empty() {
            let reps = q.in_list(scope.reps.iter().map(String::as_str));
            // `|| ''` keeps SQLite from reading every order without a team by the team index.
            whose.push(format!("(o.owner_id IN ({reps}) AND o.team_id || '' = '')"));
        }
        if whose.is_empty() {
            return Ok(Attained::new());
        }
        q.push(&format!(" AND ({})", whose.join(" OR ")));
    }
    let (placed, fulfilled) = (
        q.arg(pb::OrderStatus::Placed as i64),
        q.arg(pb::OrderStatus::Fulfilled as i64),
    );
    // A constant is no grouping key on PostgreSQL: totals group by rep or team and currency.
    let by_line = if by_line {
        format!(", {line}")
    } else {
        String::new()
    };
    q.push(&format!(
        " AND o.status IN ({placed}, {fulfilled}) GROUP BY {who}, o.currency_code{by_line}"
    ));
    // The period is a third of the table for a year of three, or one owner's few orders.
    q.build()
        .planned_per_run()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                (
                    r.try_get("who")?,
                    r.try_get("currency_code")?,
                    r.try_get::<Option<String>, _>("line")?.unwrap_or_default(),
                ),
                r.try_get::<Option<i64>, _>("amount")?.unwrap_or_default(),
            ))
        })
        .collect()
}
