//! The ledger of orders learned from sales events.

use crm_storage::Conn;
use sqlx::Row as _;

use crate::domain::lifecycle::OrderFact;

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

/// The orders of a party in `currency` (others cannot be added up without exchange rates).
pub async fn facts(conn: &mut Conn, party_id: &str, currency: &str) -> sqlx::Result<Vec<OrderFact>> {
    let rows = sqlx::query(
        "SELECT placed_at, amount_minor, status FROM party_orders WHERE party_id = $1 AND currency_code = $2",
    )
    .bind(party_id)
    .bind(currency)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get("status")?;
            Ok(OrderFact {
                placed_at: r.try_get("placed_at")?,
                amount_minor: r.try_get("amount_minor")?,
                counts: status == "placed" || status == "fulfilled",
            })
        })
        .collect()
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
