//! Targets.

use crm_proto::common::v1::Money;
use crm_proto::partners::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

/// Inserts or replaces a target.
pub async fn set(conn: &mut Conn, t: &pb::Target) -> sqlx::Result<()> {
    let amount = t.amount.clone().unwrap_or_default();
    sqlx::query(
        "INSERT INTO targets (partner_id, period, product_category, product_id, amount_minor, currency_code, quantity) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (partner_id, period, product_category, product_id) \
         DO UPDATE SET amount_minor = excluded.amount_minor, currency_code = excluded.currency_code, quantity = excluded.quantity",
    )
    .bind(&t.partner_id)
    .bind(&t.period)
    .bind(&t.product_category)
    .bind(&t.product_id)
    .bind(amount.amount_minor)
    .bind(&amount.currency_code)
    .bind(t.quantity)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const COLUMNS: &str =
    "partner_id, period, product_category, product_id, amount_minor, currency_code, quantity";

/// A target's key: partner, period, product category, product.
pub type TargetKey = (String, String, String, String);

/// Up to `limit` targets in key order after `after`, optionally of one partner / period, and of
/// partners `within` a partner's tree.
pub async fn list(
    conn: &mut Conn,
    partner_id: &str,
    within: Option<&str>,
    period: &str,
    after: Option<TargetKey>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Target>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM targets WHERE 1 = 1"));
    if !partner_id.is_empty() {
        q.and("partner_id = {}", partner_id);
    }
    if let Some(root) = within {
        let condition = super::partners::within(&mut q, "partner_id", root);
        q.push(&format!(" AND {condition}"));
    }
    if !period.is_empty() {
        q.and("period = {}", period);
    }
    q.after(
        "partner_id, period, product_category, product_id",
        after.map(|(a, b, c, d)| vec![a, b, c, d]),
    );
    q.order_limit("partner_id, period, product_category, product_id", limit);
    read(conn, q).await
}

/// The currencies targets are set in.
pub async fn currencies(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT currency_code FROM targets ORDER BY currency_code")
        .fetch_all(&mut *conn)
        .await
}

async fn read(conn: &mut Conn, q: SqlBuilder) -> sqlx::Result<Vec<pb::Target>> {
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(pb::Target {
                partner_id: r.try_get("partner_id")?,
                period: r.try_get("period")?,
                product_category: r.try_get("product_category")?,
                product_id: r.try_get("product_id")?,
                amount: Some(Money {
                    amount_minor: r.try_get("amount_minor")?,
                    currency_code: r.try_get("currency_code")?,
                }),
                quantity: r.try_get("quantity")?,
            })
        })
        .collect()
}
