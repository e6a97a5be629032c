//! The ledger of orders learned from sales events.

use std::collections::HashMap;

use crm_proto::sales::v1 as sales;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::contribution::{Business, CaseCosts};
use crate::domain::lifecycle::{OrderSummary, trailing_start};

/// One order as the ledger keeps it.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// The order.
    pub order_id: String,
    /// Its (live) party.
    pub party_id: String,
    /// When it was placed, microseconds.
    pub placed_at: i64,
    /// Its total, minor units.
    pub amount_minor: i64,
    /// Currency of the total.
    pub currency_code: String,
    /// `placed`, `fulfilled`, `cancelled` or `returned`.
    pub status: &'static str,
    /// What its goods cost, minor units (0 when unknown).
    pub cost_minor: i64,
}

/// Records orders, or the new status of orders already known (only forward along the order's
/// life cycle: a late order.placed does not undo a cancellation), with multi-row inserts.
pub async fn record(conn: &mut Conn, entries: &[LedgerEntry]) -> sqlx::Result<()> {
    let unique = crm_storage::last_per_key(entries, |e| e.order_id.as_str());
    for chunk in crm_storage::insert_chunks(&unique, 500) {
        let mut q = SqlBuilder::insert_rows(
            "party_orders (order_id, party_id, placed_at, amount_minor, currency_code, status, cost_minor)",
            chunk.iter().map(|e| {
                [
                    Arg::from(e.order_id.as_str()),
                    Arg::from(e.party_id.as_str()),
                    Arg::Int(e.placed_at),
                    Arg::Int(e.amount_minor),
                    Arg::from(e.currency_code.as_str()),
                    Arg::from(e.status),
                    Arg::Int(e.cost_minor),
                ]
            }),
        );
        q.push(&format!(
            " ON CONFLICT (order_id) DO UPDATE SET status = excluded.status WHERE {} < {}",
            sales::OrderStatus::stage_sql("party_orders.status"),
            sales::OrderStatus::stage_sql("excluded.status")
        ));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// What the ledgers say of one party: the order summary the lifecycle rules read, and its
/// business over its whole history and within the value window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerFigures {
    /// Revenue, trailing twelve months, last and recent orders.
    pub summary: OrderSummary,
    /// Revenue, cost of goods and cost to serve over the whole history.
    pub lifetime: Business,
    /// The same within the value window.
    pub window: Business,
}

/// The figures of each of `party_ids` from its orders in `currency` (others cannot be added up
/// without exchange rates) at `now`, with the value window from `window_start`, and the cost to
/// serve of its cases under `costs`: one grouped query per 500 parties over each ledger.
pub async fn figures(
    conn: &mut Conn,
    party_ids: &[String],
    currency: &str,
    now: i64,
    window_start: i64,
    costs: &CaseCosts,
) -> sqlx::Result<HashMap<String, LedgerFigures>> {
    let mut found: HashMap<String, LedgerFigures> = HashMap::with_capacity(party_ids.len());
    let counts = "status IN ('placed', 'fulfilled')";
    for chunk in crm_storage::insert_chunks(party_ids, 500) {
        let mut q = SqlBuilder::new("SELECT party_id, ");
        let (since, since_again) = (q.arg(trailing_start(now)), q.arg(trailing_start(now)));
        let (window, window_again) = (q.arg(window_start), q.arg(window_start));
        q.push(&format!(
            "CAST(COALESCE(SUM(CASE WHEN {counts} THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS lifetime, \
             CAST(COALESCE(SUM(CASE WHEN {counts} AND placed_at > {since} THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS trailing, \
             MAX(CASE WHEN {counts} THEN placed_at END) AS last_placed_at, \
             COUNT(CASE WHEN {counts} AND placed_at > {since_again} THEN 1 END) AS recent, \
             CAST(COALESCE(SUM(CASE WHEN {counts} THEN cost_minor ELSE 0 END), 0) AS BIGINT) AS cost, \
             CAST(COALESCE(SUM(CASE WHEN {counts} AND placed_at > {window} THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS window_revenue, \
             CAST(COALESCE(SUM(CASE WHEN {counts} AND placed_at > {window_again} THEN cost_minor ELSE 0 END), 0) AS BIGINT) AS window_cost \
             FROM party_orders WHERE 1 = 1"
        ));
        q.and("currency_code = {}", currency);
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list}) GROUP BY party_id"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let entry = found.entry(row.try_get("party_id")?).or_default();
            entry.summary = OrderSummary {
                lifetime_minor: row.try_get("lifetime")?,
                trailing_minor: row.try_get("trailing")?,
                last_placed_at: row.try_get("last_placed_at")?,
                recent_orders: row.try_get("recent")?,
            };
            entry.lifetime.revenue = entry.summary.lifetime_minor;
            entry.lifetime.cost_of_goods = row.try_get("cost")?;
            entry.window.revenue = row.try_get("window_revenue")?;
            entry.window.cost_of_goods = row.try_get("window_cost")?;
        }
        if costs.is_empty() {
            continue;
        }
        // The cost of each case by its priority, as the settings say now.
        let mut q = SqlBuilder::new("SELECT party_id, ");
        let mut cost = String::from("CASE priority");
        for (priority, amount) in &costs.0 {
            let (p, a) = (q.arg(i64::from(*priority)), q.arg(*amount));
            cost.push_str(&format!(" WHEN {p} THEN {a}"));
        }
        cost.push_str(" ELSE 0 END");
        let since = q.arg(window_start);
        q.push(&format!(
            "CAST(COALESCE(SUM({cost}), 0) AS BIGINT) AS served, \
             CAST(COALESCE(SUM(CASE WHEN opened_at > {since} THEN {cost} ELSE 0 END), 0) AS BIGINT) AS window_served \
             FROM party_cases WHERE 1 = 1"
        ));
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list}) GROUP BY party_id"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let entry = found.entry(row.try_get("party_id")?).or_default();
            entry.lifetime.cost_to_serve = row.try_get("served")?;
            entry.window.cost_to_serve = row.try_get("window_served")?;
        }
    }
    Ok(found)
}

/// Records service cases of live parties, (case id, party id, opened at, priority) each; a case
/// seen again (a re-imported one) keeps what was recorded first.
pub async fn record_cases(conn: &mut Conn, cases: &[(String, String, i64, i32)]) -> sqlx::Result<()> {
    let unique = crm_storage::last_per_key(cases, |c| c.0.as_str());
    for chunk in crm_storage::insert_chunks(&unique, 500) {
        let mut q = SqlBuilder::insert_rows(
            "party_cases (case_id, party_id, opened_at, priority)",
            chunk.iter().map(|(case, party, at, priority)| {
                [
                    Arg::from(case.as_str()),
                    Arg::from(party.as_str()),
                    Arg::Int(*at),
                    Arg::Int(i64::from(*priority)),
                ]
            }),
        );
        q.push(" ON CONFLICT (case_id) DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Up to `limit` parties with orders or service cases, by id, after `after`: read from the
/// ledgers' party indexes a page at a time.
///
/// Each ledger's first `limit` parties are taken before the two are merged: a union of the two
/// whole ranges removes its duplicates before the limit applies, so each page read every ledger
/// entry after it (PostgreSQL 15 hashes the union, SQLite fills a temporary table), and the
/// sweep of a million customers read the ledger ten thousand times.
pub async fn parties_with_orders(conn: &mut Conn, after: &str, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT party_id FROM (\
         SELECT party_id FROM (SELECT DISTINCT party_id FROM party_orders WHERE party_id > $1 \
         ORDER BY party_id LIMIT $2) o \
         UNION SELECT party_id FROM (SELECT DISTINCT party_id FROM party_cases WHERE party_id > $1 \
         ORDER BY party_id LIMIT $2) c) p \
         ORDER BY party_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Moves the orders and cases of merged parties to the survivor.
pub async fn rekey(conn: &mut Conn, from: &str, to: &str) -> sqlx::Result<()> {
    for sql in [
        "UPDATE party_orders SET party_id = $1 WHERE party_id = $2",
        "UPDATE party_cases SET party_id = $1 WHERE party_id = $2",
    ] {
        sqlx::query(sql).bind(to).bind(from).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Notes that the figures of `party_ids` are due for a refresh once the import naming them goes
/// quiet; a party already noted keeps its first time.
pub async fn defer_refresh(conn: &mut Conn, party_ids: &[String], now: i64) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(party_ids, 500) {
        let mut q = SqlBuilder::insert_rows(
            "value_refresh_due (party_id, marked_at)",
            chunk.iter().map(|id| [Arg::from(id.as_str()), Arg::Int(now)]),
        );
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// When the longest-waiting party of [`defer_refresh`] was noted, if any is.
pub async fn oldest_deferred(conn: &mut Conn) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(marked_at) FROM value_refresh_due")
        .fetch_one(&mut *conn)
        .await
}

/// Up to `limit` parties noted by [`defer_refresh`] after `after` in id order, only those noted
/// at or before `noted_by` when given.
pub async fn deferred(
    conn: &mut Conn,
    after: &str,
    noted_by: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let mut q = SqlBuilder::new("SELECT party_id FROM value_refresh_due WHERE 1 = 1");
    q.and("party_id > {}", after);
    if let Some(at) = noted_by {
        q.and("marked_at <= {}", at);
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY party_id LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("party_id"))
        .collect()
}

/// Forgets the deferred refresh of `party_ids` (they were just refreshed).
pub async fn clear_deferred(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<()> {
    for chunk in party_ids.chunks(1000) {
        let mut q = SqlBuilder::new("DELETE FROM value_refresh_due WHERE 1 = 1");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Notes that the figures of `party_ids` are to be refreshed when the current batch of events
/// ends.
pub async fn mark_for_refresh(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(party_ids, 500) {
        let mut q = SqlBuilder::insert_rows(
            "value_refresh_pending (party_id)",
            chunk.iter().map(|id| [Arg::from(id.as_str())]),
        );
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The parties noted by [`mark_for_refresh`], removed from the list.
pub async fn take_marked_for_refresh(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT party_id FROM value_refresh_pending ORDER BY party_id")
        .fetch_all(&mut *conn)
        .await?;
    if !ids.is_empty() {
        sqlx::query("DELETE FROM value_refresh_pending")
            .execute(&mut *conn)
            .await?;
    }
    Ok(ids)
}
