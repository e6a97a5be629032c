//! Sell-through records and received partner reports.

use crm_proto::common::v1::Money;
use crm_proto::partners::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

/// Records a sale once per `source_key` (an order line or a report line).
pub async fn record(conn: &mut Conn, source_key: &str, s: &pb::SellThrough) -> sqlx::Result<bool> {
    let amount = s.amount.clone().unwrap_or_default();
    Ok(sqlx::query(
        "INSERT INTO sell_through (source_key, partner_id, product_id, product_category, region_code, quantity, \
         amount_minor, currency_code, sold_on, source, source_ref) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (source_key) DO NOTHING",
    )
    .bind(source_key)
    .bind(&s.partner_id)
    .bind(&s.product_id)
    .bind(&s.product_category)
    .bind(&s.region_code)
    .bind(s.quantity)
    .bind(amount.amount_minor)
    .bind(&amount.currency_code)
    .bind(&s.sold_on)
    .bind(i64::from(s.source))
    .bind(&s.source_ref)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records sales, each once per its source key as [`record`] does, 500 to a statement.
pub async fn record_many(conn: &mut Conn, sales: &[(String, pb::SellThrough)]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(sales, 500) {
        let mut q = SqlBuilder::insert_rows(
            "sell_through (source_key, partner_id, product_id, product_category, region_code, quantity, \
             amount_minor, currency_code, sold_on, source, source_ref)",
            chunk.iter().map(|(key, s)| {
                let amount = s.amount.clone().unwrap_or_default();
                [
                    Arg::from(key.as_str()),
                    Arg::from(s.partner_id.as_str()),
                    Arg::from(s.product_id.as_str()),
                    Arg::from(s.product_category.as_str()),
                    Arg::from(s.region_code.as_str()),
                    Arg::Int(s.quantity),
                    Arg::Int(amount.amount_minor),
                    Arg::from(amount.currency_code),
                    Arg::from(s.sold_on.as_str()),
                    Arg::Int(i64::from(s.source)),
                    Arg::from(s.source_ref.as_str()),
                ]
            }),
        );
        q.push(" ON CONFLICT (source_key) DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Ends orders on partner channels (cancelled or returned), (order id, status) each: their
/// sell-through is removed and they are remembered, so that an order.placed arriving late for one
/// of them counts nothing. 500 to a statement.
pub async fn end_orders(conn: &mut Conn, ended: &[(&str, &str)]) -> sqlx::Result<()> {
    for chunk in ended.chunks(500) {
        let mut q = SqlBuilder::new("DELETE FROM sell_through WHERE 1 = 1");
        q.and("source = {}", pb::SaleSource::Order as i64);
        let list = q.in_list(chunk.iter().map(|(id, _)| *id));
        q.push(&format!(" AND source_ref IN ({list})"));
        q.build().execute(&mut *conn).await?;
        let mut q = SqlBuilder::insert_rows(
            "ended_orders (order_id, status)",
            chunk
                .iter()
                .map(|(id, status)| [Arg::from(*id), Arg::from(*status)]),
        );
        q.push(" ON CONFLICT (order_id) DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Which of `order_ids` have ended (see [`end_orders`]).
pub async fn ended_among(
    conn: &mut Conn,
    order_ids: &[&str],
) -> sqlx::Result<std::collections::HashSet<String>> {
    let mut ended = std::collections::HashSet::new();
    for chunk in order_ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT order_id FROM ended_orders WHERE 1 = 1");
        let list = q.in_list(chunk.iter().copied());
        q.push(&format!(" AND order_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            ended.insert(row.try_get("order_id")?);
        }
    }
    Ok(ended)
}

/// Records a report id; false when it was received before.
pub async fn receive_report(
    conn: &mut Conn,
    report_id: &str,
    partner_id: &str,
    lines: i64,
    now: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO sales_reports (report_id, partner_id, lines, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (report_id) DO NOTHING",
    )
    .bind(report_id)
    .bind(partner_id)
    .bind(lines)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Up to `limit` sales of a partner in `[from, to)` (days), by day sold then record, after
/// `after` (day, record key) in that order; each with its record key.
pub async fn page(
    conn: &mut Conn,
    partner_id: &str,
    from: &str,
    to: &str,
    after: Option<&(String, String)>,
    limit: i64,
) -> sqlx::Result<Vec<(String, pb::SellThrough)>> {
    let mut q = SqlBuilder::new(
        "SELECT source_key, partner_id, product_id, product_category, region_code, quantity, amount_minor, \
         currency_code, sold_on, source, source_ref FROM sell_through WHERE 1 = 1",
    );
    q.and("partner_id = {}", partner_id);
    q.and("sold_on >= {}", from).and("sold_on < {}", to);
    if let Some((day, key)) = after {
        let (day, key) = (q.arg(day.as_str()), q.arg(key.as_str()));
        q.push(&format!(" AND (sold_on, source_key) > ({day}, {key})"));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY sold_on, source_key LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("source_key")?, sale(r)?)))
        .collect()
}

fn sale(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::SellThrough> {
    Ok(pb::SellThrough {
        partner_id: r.try_get("partner_id")?,
        product_id: r.try_get("product_id")?,
        product_category: r.try_get("product_category")?,
        region_code: r.try_get("region_code")?,
        quantity: r.try_get("quantity")?,
        amount: Some(Money {
            amount_minor: r.try_get("amount_minor")?,
            currency_code: r.try_get("currency_code")?,
        }),
        sold_on: r.try_get("sold_on")?,
        source: r.try_get::<i64, _>("source")? as i32,
        source_ref: r.try_get("source_ref")?,
    })
}

/// Marks exception cells announced, returning those not announced before.
pub async fn mark_exceptions(
    conn: &mut Conn,
    keys: &[String],
    now: i64,
) -> sqlx::Result<std::collections::HashSet<String>> {
    let mut new = std::collections::HashSet::new();
    for chunk in crm_storage::insert_chunks(keys, 500) {
        let mut q = SqlBuilder::insert_rows(
            "exceptions_raised (cell_key, raised_at)",
            chunk.iter().map(|key| [Arg::from(key.as_str()), Arg::Int(now)]),
        );
        q.push(" ON CONFLICT (cell_key) DO NOTHING RETURNING cell_key");
        for row in q.build().fetch_all(&mut *conn).await? {
            new.insert(row.try_get("cell_key")?);
        }
    }
    Ok(new)
}
