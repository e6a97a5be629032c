//! Orders.

use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{lines, new_id, now_micros, timestamp};

const COLUMNS: &str = "id, party_id, quote_id, opportunity_id, partner_id, external_ref, lines, currency_code, \
    total_minor, status, status_reason, owner_id, team_id, placed_at, version";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Order> {
    let currency: String = row.try_get("currency_code")?;
    Ok(pb::Order {
        id: row.try_get("id")?,
        party_id: row.try_get("party_id")?,
        quote_id: row.try_get("quote_id")?,
        opportunity_id: row.try_get("opportunity_id")?,
        channel: Some(pb::Channel {
            partner_id: row.try_get("partner_id")?,
        }),
        lines: lines::from_json(&row.try_get::<String, _>("lines")?, &currency),
        total: Some(Money {
            amount_minor: row.try_get("total_minor")?,
            currency_code: currency.clone(),
        }),
        status: row.try_get::<i64, _>("status")? as i32,
        external_ref: row.try_get("external_ref")?,
        owner_id: row.try_get("owner_id")?,
        team_id: row.try_get("team_id")?,
        place_time: Some(timestamp(row.try_get("placed_at")?)),
        status_reason: row.try_get("status_reason")?,
        etag: row.try_get::<i64, _>("version")?.to_string(),
    })
}

/// Inserts an order (id and time set here). A repeated (partner, external_ref) is a unique
/// violation.
pub async fn insert(conn: &mut Conn, o: &mut pb::Order) -> sqlx::Result<()> {
    o.id = new_id();
    let now = now_micros();
    o.place_time = Some(timestamp(now));
    let (total, currency) = o
        .total
        .as_ref()
        .map(|m| (m.amount_minor, m.currency_code.clone()))
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO orders (id, party_id, quote_id, opportunity_id, partner_id, external_ref, lines, currency_code, \
         total_minor, status, owner_id, team_id, placed_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1)",
    )
    .bind(&o.id)
    .bind(&o.party_id)
    .bind(&o.quote_id)
    .bind(&o.opportunity_id)
    .bind(o.channel.as_ref().map(|c| c.partner_id.clone()).unwrap_or_default())
    .bind(&o.external_ref)
    .bind(lines::to_json(&o.lines))
    .bind(currency)
    .bind(total)
    .bind(i64::from(o.status))
    .bind(&o.owner_id)
    .bind(&o.team_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    o.etag = "1".into();
    Ok(())
}

/// One order.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Order>> {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM orders WHERE 1 = 1"));
    b.and("id = {}", id);
    b.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The order placed with an external reference on a channel.
pub async fn by_external_ref(
    conn: &mut Conn,
    partner_id: &str,
    external_ref: &str,
) -> sqlx::Result<Option<pb::Order>> {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM orders WHERE 1 = 1"));
    b.and("partner_id = {}", partner_id)
        .and("external_ref = {}", external_ref);
    b.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Orders after `after` by id.
pub async fn list(
    conn: &mut Conn,
    party_id: &str,
    status: i32,
    partner_id: &str,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Order>> {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM orders WHERE 1 = 1"));
    b.and("id > {}", after);
    if !party_id.is_empty() {
        b.and("party_id = {}", party_id);
    }
    if status != 0 {
        b.and("status = {}", i64::from(status));
    }
    if !partner_id.is_empty() {
        b.and("partner_id = {}", partner_id);
    }
    let limit = b.arg(limit);
    b.push(&format!(" ORDER BY id LIMIT {limit}"));
    b.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Sets the status if the version is still `expected`.
pub async fn set_status(
    conn: &mut Conn,
    id: &str,
    status: i32,
    reason: &str,
    expected: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE orders SET status = $1, status_reason = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(i64::from(status))
    .bind(reason)
    .bind(id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
