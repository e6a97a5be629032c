//! RFM scores of the whole base in SQL: today's from each customer's figures against the stored
//! boundaries, a past date's by ranking the purchases up to it. Both give the columns
//! `party_id, orders, total_minor, last_at, last_day, r, f, m` for the customers scored (active,
//! with counted purchases in the currency).

use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::rfm::Cuts;

/// How scores are computed.
#[derive(Debug, Clone, Copy)]
pub enum Scoring<'a> {
    /// Now: each customer's figures compared with the stored boundaries (the same score a
    /// profile read gives).
    Current(&'a Cuts),
    /// At the end of a past day (µs): the purchases placed before it, ranked.
    Before(i64),
}

/// Customers with an active profile.
const ACTIVE: &str = "SELECT party_id FROM profiles WHERE status = 'active'";

/// Appends the arguments of the scored customers and returns their subquery (to be aliased).
pub fn scored(q: &mut SqlBuilder, currency: &str, scoring: Scoring<'_>) -> String {
    match scoring {
        Scoring::Current(cuts) => {
            let mut score = |column: &str, cuts: &[(u8, i64, String)]| {
                let mut expr = String::from("1");
                for (_, value, id) in cuts {
                    let (value, id) = (q.arg(*value), q.arg(id.as_str()));
                    expr.push_str(&format!(
                        " + CASE WHEN (f.{column}, f.party_id) >= ({value}, {id}) THEN 1 ELSE 0 END"
                    ));
                }
                expr
            };
            let (r, f, m) = (
                score("last_day", &cuts.r),
                score("orders", &cuts.f),
                score("total_minor", &cuts.m),
            );
            let currency = q.arg(currency);
            format!(
                "SELECT f.party_id, f.orders, f.total_minor, f.last_at, f.last_day, {r} AS r, {f} AS f, {m} AS m \
                 FROM customer_figures f WHERE f.currency_code = {currency} AND f.party_id IN ({ACTIVE})"
            )
        }
        Scoring::Before(end) => {
            let (currency, end) = (q.arg(currency), q.arg(end));
            let rank = |column: &str| {
                format!(
                    "1 + (ROW_NUMBER() OVER (ORDER BY a.{column}, a.party_id) - 1) * 5 / COUNT(*) OVER ()"
                )
            };
            format!(
                "SELECT a.party_id, a.orders, a.total_minor, a.last_at, a.last_day, {} AS r, {} AS f, {} AS m \
                 FROM (SELECT party_id, COUNT(*) AS orders, CAST(SUM(amount_minor) AS BIGINT) AS total_minor, \
                 MAX(placed_at) AS last_at, MAX(placed_at) / 86400000000 AS last_day FROM purchases \
                 WHERE status IN ('placed', 'fulfilled') AND currency_code = {currency} AND placed_at < {end} \
                 AND party_id IN ({ACTIVE}) GROUP BY party_id) a",
                rank("last_day"),
                rank("orders"),
                rank("total_minor"),
            )
        }
    }
}

/// One scored customer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScoredRow {
    /// Customer.
    pub party_id: String,
    /// Counted orders.
    pub orders: i64,
    /// Their total.
    pub total_minor: i64,
    /// The last (µs).
    pub last_at: i64,
    /// Recency score 1-5.
    pub r: i64,
    /// Frequency score 1-5.
    pub f: i64,
    /// Monetary score 1-5.
    pub m: i64,
}

/// Customers and revenue per cell, as ((r, f, m), customers, revenue).
pub async fn cells(
    conn: &mut Conn,
    currency: &str,
    scoring: Scoring<'_>,
) -> sqlx::Result<Vec<((i64, i64, i64), i64, i64)>> {
    let mut q = SqlBuilder::new("");
    let scored = scored(&mut q, currency, scoring);
    q.push(&format!(
        "SELECT r, f, m, COUNT(*) AS customers, CAST(SUM(total_minor) AS BIGINT) AS revenue FROM ({scored}) s \
         GROUP BY r, f, m"
    ));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            Ok((
                (row.try_get("r")?, row.try_get("f")?, row.try_get("m")?),
                row.try_get("customers")?,
                row.try_get("revenue")?,
            ))
        })
        .collect()
}

/// Up to `limit` scored customers after `after` by id, only those of `cell` when given.
pub async fn page(
    conn: &mut Conn,
    currency: &str,
    scoring: Scoring<'_>,
    cell: Option<(i64, i64, i64)>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<ScoredRow>> {
    let mut q = SqlBuilder::new("");
    let scored = scored(&mut q, currency, scoring);
    q.push(&format!(
        "SELECT party_id, orders, total_minor, last_at, r, f, m FROM ({scored}) s WHERE 1 = 1"
    ));
    q.and("s.party_id > {}", after);
    if let Some((r, f, m)) = cell {
        q.and("s.r = {}", r).and("s.f = {}", f).and("s.m = {}", m);
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY s.party_id LIMIT {limit}"));
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter().map(sqlx::FromRow::from_row).collect()
}
