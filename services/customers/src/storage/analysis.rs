//! Aggregates for the customer base analysis, each computed in SQL over the ledgers and the
//! tier history.

use crm_storage::{Arg, Conn, SqlBuilder};

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
/// when unranked. Each party's latest move by each moment comes from one grouped pass over the
/// history, its tiers then from the primary key.
pub async fn tier_moves(conn: &mut Conn, from: i64, to: i64) -> sqlx::Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT COALESCE(a.tier, '') AS from_tier, b.tier AS to_tier, COUNT(*) AS parties FROM (SELECT party_id, \
         MAX(CASE WHEN from_at <= $1 THEN from_at END) AS from_move, MAX(from_at) AS to_move FROM tier_history \
         WHERE from_at <= $2 GROUP BY party_id) x \
         LEFT JOIN tier_history a ON a.party_id = x.party_id AND a.from_at = x.from_move \
         JOIN tier_history b ON b.party_id = x.party_id AND b.from_at = x.to_move \
         GROUP BY COALESCE(a.tier, ''), b.tier ORDER BY from_tier, to_tier",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
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
    q.build().fetch_all_as(&mut *conn).await
}

/// One pass over the ledger up to the end of a period of months (`bounds`: the first instant
/// of each month and of the month after), each counted order with its party's previous and next
/// order, grouped by what the order means to the period: [`crate::domain::analysis::trend_key`]
/// says how the key encodes its month as a purchase, as the start of a spell of activity and as
/// the end of one (a spell lasts while purchases are less than `lost_after` µs apart, and ends
/// `lost_after` after the last). `(key, orders, first orders ever, revenue in currency)` per key.
pub async fn trend_rows(
    conn: &mut Conn,
    bounds: &[i64],
    lost_after: i64,
    currency: &str,
) -> sqlx::Result<Vec<(i64, i64, i64, i64)>> {
    use crate::domain::analysis::{CHURNED, FIRST_IN_MONTH, trend_key};
    let (Some(first), Some(last)) = (bounds.first().copied(), bounds.last().copied()) else {
        return Ok(Vec::new());
    };
    let months = bounds.len() - 1;
    let mut q =
        SqlBuilder::new("SELECT k, COUNT(*) AS orders, COUNT(CASE WHEN px IS NULL THEN 1 END) AS firsts, ");
    let cur = q.arg(currency);
    q.push(&format!(
        "CAST(COALESCE(SUM(CASE WHEN {cur} = currency_code AND k >= {} THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS revenue FROM (SELECT px, amount_minor, currency_code, ",
        trend_key(1, 0, 0)
    ));
    let l = |q: &mut SqlBuilder| q.arg(lost_after);
    // The month of the purchase, [start, end), flagged when it is the party's first in it.
    let (f, t) = (q.arg(first), q.arg(last));
    let mut bought = format!("(CASE WHEN x >= {f} AND x < {t} THEN CASE");
    for i in 1..=months {
        let (end, start) = (q.arg(bounds[i]), q.arg(bounds[i - 1]));
        bought.push_str(&format!(
            " WHEN x < {end} THEN CASE WHEN px IS NULL OR px < {start} THEN {} ELSE {i} END",
            i as i64 + FIRST_IN_MONTH
        ));
    }
    bought.push_str(" END ELSE 0 END)");
    // A spell starts with a purchase more than lost_after after the one before: at or before the
    // period's start (1), or within month i, (start, end] (i + 1).
    let (l1, f1) = (l(&mut q), q.arg(first));
    let mut starts = format!("(CASE WHEN px IS NOT NULL AND px + {l1} >= x THEN 0 WHEN x <= {f1} THEN 1");
    for (i, end) in bounds.iter().enumerate().skip(1) {
        let end = q.arg(*end);
        starts.push_str(&format!(" WHEN x <= {end} THEN {}", i + 1));
    }
    starts.push_str(" ELSE 0 END)");
    // A spell ends lost_after after a purchase with no other within it: at or before the
    // period's start (1), or within month i (i + 1), flagged when no purchase follows by the
    // month's end (the customer is churned then).
    let (l2, l3, f2) = (l(&mut q), l(&mut q), q.arg(first));
    let mut ends =
        format!("(CASE WHEN nx IS NOT NULL AND nx <= x + {l2} THEN 0 WHEN x + {l3} <= {f2} THEN 1");
    for (i, bound) in bounds.iter().enumerate().skip(1) {
        let (end, end_again) = (q.arg(*bound), q.arg(*bound));
        let l4 = l(&mut q);
        ends.push_str(&format!(
            " WHEN x + {l4} <= {end} THEN CASE WHEN nx IS NULL OR nx > {end_again} THEN {} ELSE {} END",
            i as i64 + 1 + CHURNED,
            i + 1
        ));
    }
    ends.push_str(" ELSE 0 END)");
    let key = trend_key(1, 0, 0);
    let start_unit = trend_key(0, 1, 0);
    let upto = q.arg(last);
    // Purchases at the same instant may come in either order: each then has the other as its
    // neighbour, and the counts come out the same.
    // OFFSET 0 keeps the key a column of its own on PostgreSQL, so the planner hashes the few
    // keys instead of sorting every order by an expression it cannot estimate (SQLite wants a
    // LIMIT before an OFFSET, and hashes anyway).
    let fence = if conn.backend_name() == "PostgreSQL" {
        "OFFSET 0"
    } else {
        "LIMIT -1"
    };
    q.push(&format!(
        "{bought} * {key} + {starts} * {start_unit} + {ends} AS k FROM (SELECT placed_at AS x, amount_minor, currency_code, \
         LAG(placed_at) OVER w AS px, LEAD(placed_at) OVER w AS nx FROM party_orders WHERE {COUNTS} AND placed_at <= {upto} \
         WINDOW w AS (PARTITION BY party_id ORDER BY placed_at)) o {fence}) r GROUP BY k"
    ));
    q.build().fetch_all_as(&mut *conn).await
}

/// Each buyer of `[$1, $2)` with their revenue in currency `$3` and their first purchase ever:
/// `party_id, revenue, first_at` (the first purchase read from the ledger's party index).
const PERIOD_BUYERS: &str = "SELECT m.party_id, m.revenue, \
     (SELECT MIN(o.placed_at) FROM party_orders o WHERE o.party_id = m.party_id AND o.status IN ('placed', 'fulfilled')) AS first_at \
     FROM (SELECT party_id, SUM(CASE WHEN currency_code = $3 THEN amount_minor ELSE 0 END) AS revenue \
     FROM party_orders WHERE status IN ('placed', 'fulfilled') AND placed_at >= $1 AND placed_at < $2 GROUP BY party_id) m";

/// Per acquisition source of the live parties: (source, parties, buyers in `[start, end)`, new
/// buyers, revenue in `currency`), most revenue first.
pub async fn by_source(
    conn: &mut Conn,
    start: i64,
    end: i64,
    currency: &str,
    active_status: i64,
) -> sqlx::Result<Vec<(String, i64, i64, i64, i64)>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
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
    .await
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
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {column} AS grp, {} AS customers, {} AS prospects, {} AS lost FROM parties WHERE status = $1 \
         GROUP BY {column} ORDER BY {column}",
        count("2, 3, 4"),
        count("1"),
        count("5"),
    )))
    .bind(active_status)
    .fetch_all(&mut *conn)
    .await
}
