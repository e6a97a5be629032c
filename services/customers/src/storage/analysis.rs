//! Aggregates for the customer base analysis, each computed in SQL over the ledgers and the
//! tier history.

use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

/// Orders that count: placed or fulfilled.
const COUNTS: &str = "status IN ('placed', 'fulfilled')";

/// Records the tiers parties moved to at `at`, `(party, tier)` each ("" when out of the
/// ranking).
pub async fn record_tiers(conn: &mut Conn, moves: &[(String, String)], at: i64) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(moves, 500) {
        let mut q = SqlBuilder::insert_rows(
            "tier_history (party_id, from_at, tier)",
            chunk
                .iter()
                .map(|(party, tier)| [Arg::from(party.as_str()), Arg::Int(at), Arg::from(tier.as_str())]),
        );
        q.push(" ON CONFLICT (party_id, from_at) DO UPDATE SET tier = excluded.tier");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// (tier at `from`, tier at `to`, parties) over every party with a tier history by `to`; ""
/// when unranked. Each party's tier at a moment is read from the history's primary key.
pub async fn tier_moves(conn: &mut Conn, from: i64, to: i64) -> sqlx::Result<Vec<(String, String, i64)>> {
    let tier_at = |at: &str| {
        format!(
            "COALESCE((SELECT h.tier FROM tier_history h WHERE h.party_id = p.party_id AND h.from_at <= {at} \
             ORDER BY h.from_at DESC LIMIT 1), '')"
        )
    };
    let sql = format!(
        "SELECT from_tier, to_tier, COUNT(*) AS parties FROM (SELECT {} AS from_tier, {} AS to_tier \
         FROM (SELECT DISTINCT party_id FROM tier_history WHERE from_at <= $2) p) x GROUP BY from_tier, to_tier \
         ORDER BY from_tier, to_tier",
        tier_at("$1"),
        tier_at("$2")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("from_tier")?,
                r.try_get("to_tier")?,
                r.try_get("parties")?,
            ))
        })
        .collect()
}

/// `CASE` giving the index of the month of `column` among `bounds` (first instants of
/// consecutive months and of the one after), for values within them.
fn month_index(q: &mut SqlBuilder, column: &str, bounds: &[i64]) -> String {
    let mut case = String::from("CASE");
    for (i, bound) in bounds.iter().enumerate().skip(1) {
        let b = q.arg(*bound);
        case.push_str(&format!(" WHEN {column} < {b} THEN {}", i - 1));
    }
    case.push_str(" ELSE -1 END");
    case
}

/// (cohort month index, active month index, customers): the customers whose first purchase
/// fell in a month of `bounds`, by the months they bought in.
pub async fn cohorts(conn: &mut Conn, bounds: &[i64]) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    let (Some(first), Some(last)) = (bounds.first().copied(), bounds.last().copied()) else {
        return Ok(Vec::new());
    };
    let mut q = SqlBuilder::new("SELECT f.cohort, a.idx, COUNT(*) AS customers FROM (SELECT party_id, ");
    let cohort = month_index(&mut q, "first_at", bounds);
    let (f1, f2) = (q.arg(first), q.arg(last));
    q.push(&format!(
        "{cohort} AS cohort FROM (SELECT party_id, MIN(placed_at) AS first_at FROM party_orders WHERE {COUNTS} \
         GROUP BY party_id) firsts WHERE first_at >= {f1} AND first_at < {f2}) f JOIN (SELECT DISTINCT party_id, "
    ));
    let idx = month_index(&mut q, "placed_at", bounds);
    let (a1, a2) = (q.arg(first), q.arg(last));
    q.push(&format!(
        "{idx} AS idx FROM party_orders WHERE {COUNTS} AND placed_at >= {a1} AND placed_at < {a2}) a \
         ON a.party_id = f.party_id GROUP BY f.cohort, a.idx ORDER BY f.cohort, a.idx"
    ));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("cohort")?, r.try_get("idx")?, r.try_get("customers")?)))
        .collect()
}

/// One month of the base: (active at `start`, of them no longer active at `end`), where active
/// at a moment means a purchase within `lost_after` µs before it.
pub async fn churn(conn: &mut Conn, start: i64, end: i64, lost_after: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS active, CAST(COALESCE(SUM(CASE WHEN last_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS churned \
         FROM (SELECT party_id, MAX(placed_at) AS last_at FROM party_orders WHERE {COUNTS} \
         AND placed_at > $2 AND placed_at <= $3 GROUP BY party_id HAVING MIN(placed_at) <= $4) active"
    )))
    .bind(end - lost_after)
    .bind(start - lost_after)
    .bind(end)
    .bind(start)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("active")?, row.try_get("churned")?))
}

/// Each buyer of `[$1, $2)` with their revenue in currency `$3` and their first purchase ever:
/// `party_id, revenue, first_at` (the first purchase read from the ledger's party index).
const PERIOD_BUYERS: &str = "SELECT m.party_id, m.revenue, \
     (SELECT MIN(o.placed_at) FROM party_orders o WHERE o.party_id = m.party_id AND o.status IN ('placed', 'fulfilled')) AS first_at \
     FROM (SELECT party_id, SUM(CASE WHEN currency_code = $3 THEN amount_minor ELSE 0 END) AS revenue \
     FROM party_orders WHERE status IN ('placed', 'fulfilled') AND placed_at >= $1 AND placed_at < $2 GROUP BY party_id) m";

/// Buyers of `[start, end)`: (new ones, returning ones, revenue in `currency`).
pub async fn buyers(conn: &mut Conn, start: i64, end: i64, currency: &str) -> sqlx::Result<(i64, i64, i64)> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN first_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS new_buyers, \
         CAST(COALESCE(SUM(CASE WHEN first_at < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS returning_buyers, \
         CAST(COALESCE(SUM(revenue), 0) AS BIGINT) AS revenue FROM ({}) b",
        PERIOD_BUYERS
    )))
    .bind(start)
    .bind(end)
    .bind(currency)
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        row.try_get("new_buyers")?,
        row.try_get("returning_buyers")?,
        row.try_get("revenue")?,
    ))
}

/// Per acquisition source of the live parties: (source, parties, buyers in `[start, end)`, new
/// buyers, revenue in `currency`), most revenue first.
pub async fn by_source(
    conn: &mut Conn,
    start: i64,
    end: i64,
    currency: &str,
    active_status: i64,
) -> sqlx::Result<Vec<(String, i64, i64, i64, i64)>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT p.source, COUNT(*) AS parties, \
         CAST(COALESCE(SUM(CASE WHEN m.party_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS buyers, \
         CAST(COALESCE(SUM(CASE WHEN m.party_id IS NOT NULL AND m.first_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS new_buyers, \
         CAST(COALESCE(SUM(m.revenue), 0) AS BIGINT) AS revenue \
         FROM parties p LEFT JOIN ({}) m \
         ON m.party_id = p.id WHERE p.status = $4 GROUP BY p.source ORDER BY revenue DESC, p.source",
        PERIOD_BUYERS
    )))
    .bind(start)
    .bind(end)
    .bind(currency)
    .bind(active_status)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("source")?,
            r.try_get("parties")?,
            r.try_get("buyers")?,
            r.try_get("new_buyers")?,
            r.try_get("revenue")?,
        ))
    })
    .collect()
}

/// Per value of `column` (region_code or industry) of the live parties: (key, customers,
/// prospects, lost), customers being the customer, loyal and at-risk stages.
pub async fn penetration(
    conn: &mut Conn,
    column: &'static str,
    active_status: i64,
) -> sqlx::Result<Vec<(String, i64, i64, i64)>> {
    let count = |stages: &str| {
        format!("CAST(COALESCE(SUM(CASE WHEN lifecycle_stage IN ({stages}) THEN 1 ELSE 0 END), 0) AS BIGINT)")
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {column} AS grp, {} AS customers, {} AS prospects, {} AS lost FROM parties WHERE status = $1 \
         GROUP BY {column} ORDER BY {column}",
        count("2, 3, 4"),
        count("1"),
        count("5"),
    )))
    .bind(active_status)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("grp")?,
            r.try_get("customers")?,
            r.try_get("prospects")?,
            r.try_get("lost")?,
        ))
    })
    .collect()
}
