//! The ledger of orders learned from sales events.

use std::collections::HashMap;

use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use crate::domain::lifecycle::{OrderSummary, trailing_start};

/// Records an order or its new status. Returns false for an order not seen placed (a status
/// event that overtook nothing we know of is ignored).
pub async fn record(
    conn: &mut Conn,
    order_id: &str,
    party_id: &str,
    placed_at: i64,
    amount_minor: i64,
    currency: &str,
    status: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO party_orders (order_id, party_id, placed_at, amount_minor, currency_code, status) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id) DO UPDATE SET status = excluded.status",
    )
    .bind(order_id)
    .bind(party_id)
    .bind(placed_at)
    .bind(amount_minor)
    .bind(currency)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The summary of the orders of each of `party_ids` that has orders in `currency` (others cannot
/// be added up without exchange rates) at `now`, computed in SQL: one grouped query per 500
/// parties.
pub async fn summaries(
    conn: &mut Conn,
    party_ids: &[String],
    currency: &str,
    now: i64,
) -> sqlx::Result<HashMap<String, OrderSummary>> {
    let mut found = HashMap::with_capacity(party_ids.len());
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT party_id, ");
        let since = q.arg(trailing_start(now));
        q.push(&format!(
            "CAST(COALESCE(SUM(CASE WHEN status IN ('placed', 'fulfilled') THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS lifetime, \
             CAST(COALESCE(SUM(CASE WHEN status IN ('placed', 'fulfilled') AND placed_at > {since} THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS trailing, \
             MAX(CASE WHEN status IN ('placed', 'fulfilled') THEN placed_at END) AS last_placed_at, \
             COUNT(CASE WHEN status IN ('placed', 'fulfilled') AND placed_at > {since} THEN 1 END) AS recent \
             FROM party_orders WHERE 1 = 1"
        ));
        q.and("currency_code = {}", currency);
        let list = q.list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list}) GROUP BY party_id"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(
                row.try_get("party_id")?,
                OrderSummary {
                    lifetime_minor: row.try_get("lifetime")?,
                    trailing_minor: row.try_get("trailing")?,
                    last_placed_at: row.try_get("last_placed_at")?,
                    recent_orders: row.try_get("recent")?,
                },
            );
        }
    }
    Ok(found)
}

/// Parties that have orders.
pub async fn parties_with_orders(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT party_id FROM party_orders ORDER BY party_id")
        .fetch_all(&mut *conn)
        .await
}

/// Moves the orders of merged parties to the survivor.
pub async fn rekey(conn: &mut Conn, from: &str, to: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE party_orders SET party_id = $1 WHERE party_id = $2")
        .bind(to)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Notes that `party_id`'s figures are to be refreshed when the current batch of events ends.
pub async fn mark_for_refresh(conn: &mut Conn, party_id: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO value_refresh_pending (party_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
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
