//! Orders.

use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;
use crm_storage::imports::{NewRowKey, RowKeys};
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{lines, micros as micros_of, new_id, timestamp};
use crate::domain::rules::ReadScope;

const COLUMNS: &str = "id, party_id, quote_id, opportunity_id, partner_id, external_ref, lines, currency_code, \
    total_minor, status, status_reason, owner_id, team_id, placed_at, version, status_at, external_id, campaign_code, \
    cost_minor";

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
        status_time: Some(timestamp(match row.try_get::<i64, _>("status_at")? {
            0 => row.try_get("placed_at")?,
            at => at,
        })),
        external_id: row.try_get("external_id")?,
        campaign_code: row.try_get("campaign_code")?,
        cost: Some(Money {
            amount_minor: row.try_get("cost_minor")?,
            currency_code: currency.clone(),
        }),
    })
}

/// Inserts an order (id and time set here). A repeated (partner, external_ref) is a unique
/// violation.
pub async fn insert(conn: &mut Conn, o: &mut pb::Order, now: i64) -> sqlx::Result<()> {
    o.place_time = Some(timestamp(now));
    o.status_time = o.place_time;
    insert_many(conn, std::slice::from_mut(o), &[]).await
}

/// The import keys of orders (kept on their rows).
pub const IMPORT_KEYS: RowKeys = RowKeys::new("orders");

/// Inserts orders with multi-row statements, keeping their place and status times (an import's
/// history), each with its import key when `keys` (one per order) are given. Ids and versions
/// are set here.
pub async fn insert_many(
    conn: &mut Conn,
    orders: &mut [pb::Order],
    keys: &[NewRowKey<'_>],
) -> sqlx::Result<()> {
    for o in orders.iter_mut() {
        o.id = new_id();
        o.etag = "1".into();
    }
    let mut offset = 0;
    for chunk in crm_storage::insert_chunks(orders, 500) {
        let keys = keys.get(offset..).unwrap_or_default();
        offset += chunk.len();
        SqlBuilder::insert_rows(
            &format!(
                "orders (id, party_id, quote_id, opportunity_id, partner_id, external_ref, lines, currency_code, \
                 total_minor, status, status_reason, owner_id, team_id, placed_at, version, status_at, external_id, \
                 campaign_code, cost_minor, {})",
                RowKeys::COLUMNS
            ),
            chunk.iter().enumerate().map(|(i, o)| {
                let (total, currency) = o
                    .total
                    .as_ref()
                    .map(|m| (m.amount_minor, m.currency_code.clone()))
                    .unwrap_or_default();
                let placed_at = o.place_time.as_ref().map_or(0, micros_of);
                [
                    Arg::from(o.id.as_str()),
                    Arg::from(o.party_id.as_str()),
                    Arg::from(o.quote_id.as_str()),
                    Arg::from(o.opportunity_id.as_str()),
                    Arg::from(o.channel.as_ref().map(|c| c.partner_id.clone()).unwrap_or_default()),
                    Arg::from(o.external_ref.as_str()),
                    Arg::from(lines::to_json(&o.lines)),
                    Arg::from(currency),
                    Arg::Int(total),
                    Arg::Int(i64::from(o.status)),
                    Arg::from(o.status_reason.as_str()),
                    Arg::from(o.owner_id.as_str()),
                    Arg::from(o.team_id.as_str()),
                    Arg::Int(placed_at),
                    Arg::Int(1),
                    Arg::Int(o.status_time.as_ref().map_or(placed_at, micros_of)),
                    Arg::from(o.external_id.as_str()),
                    Arg::from(o.campaign_code.as_str()),
                    // Priced lines know their cost; an import may give the order's own.
                    Arg::Int(match &o.cost {
                        Some(cost) if cost.amount_minor > 0 => cost.amount_minor,
                        _ => lines::cost_minor(&o.lines),
                    }),
                ]
                .into_iter()
                .chain(RowKeys::args(keys.get(i)))
            }),
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Moves an imported order to a later status with its historical time, if the version is still
/// `expected`.
pub async fn set_imported_status(
    conn: &mut Conn,
    id: &str,
    status: i32,
    reason: &str,
    status_at: i64,
    expected: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE orders SET status = $1, status_reason = $2, status_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(i64::from(status))
    .bind(reason)
    .bind(status_at)
    .bind(id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
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
        .and("external_ref = {}", external_ref)
        // Spelled out for the partial index on references: SQLite uses one only when the query
        // states its condition (without it, each lookup read every order), as does a generic
        // plan on PostgreSQL.
        .push(" AND external_ref <> ''");
    b.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Up to `limit` orders in `scope` after `after` by id, optionally of one party, status or
/// partner (see [`super::visible_page`]: a manager's page reads their own orders and their
/// team's from the (owner, id) and (team, id) indexes).
pub async fn list(
    conn: &mut Conn,
    scope: &ReadScope,
    party_id: &str,
    status: i32,
    partner_id: &str,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Order>> {
    let filters: Vec<(&str, Arg)> = [("party_id", party_id), ("partner_id", partner_id)]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(column, value)| (column, Arg::from(value)))
        .chain((status != 0).then(|| ("status", Arg::Int(i64::from(status)))))
        .collect();
    // The partial index of partner orders serves only a query that states its condition.
    let conditions: &[&str] = if partner_id.is_empty() {
        &[]
    } else {
        &["partner_id <> ''"]
    };
    let visible = scope.visible();
    let Some(q) = super::visible_page(COLUMNS, "orders", &filters, conditions, &visible, after, limit) else {
        return Ok(Vec::new());
    };
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Appends the filter of `scope` on the orders' owner and team.
fn scoped(q: &mut SqlBuilder, scope: &ReadScope) {
    if let ReadScope::Owned { user_id, team_id } = scope {
        let user = q.arg(user_id.as_str());
        match team_id {
            Some(team) => {
                let team = q.arg(team.as_str());
                q.push(&format!(" AND (owner_id = {user} OR team_id = {team})"));
            }
            None => {
                q.push(&format!(" AND owner_id = {user}"));
            }
        }
    }
}

/// What [`summary`] gives of a party's orders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The most recent orders, newest first.
    pub recent: Vec<pb::Order>,
    /// (currency, placed and fulfilled orders, their total), by currency.
    pub totals: Vec<(String, i64, i64)>,
    /// The owner of the newest placed or fulfilled order that has one.
    pub latest_owner: String,
    /// The partners sold through, most recently first.
    pub partners: Vec<String>,
}

/// A party's orders in `scope` at a glance: the `recent` newest, the totals of those that count
/// (placed, fulfilled) per currency, the latest owner and up to `partners` partners, each read
/// from the party's index on placing time or added up in SQL.
pub async fn summary(
    conn: &mut Conn,
    party_id: &str,
    scope: &ReadScope,
    recent: i64,
    partners: i64,
) -> sqlx::Result<Summary> {
    if *scope == ReadScope::Nothing {
        return Ok(Summary::default());
    }
    let counted = format!(
        "status IN ({}, {})",
        pb::OrderStatus::Placed as i32,
        pb::OrderStatus::Fulfilled as i32
    );
    let of_party = |head: &str| {
        let mut q = SqlBuilder::new(head);
        q.and("party_id = {}", party_id);
        scoped(&mut q, scope);
        q
    };
    let mut q = of_party(&format!("SELECT {COLUMNS} FROM orders WHERE 1 = 1"));
    q.order_limit("placed_at DESC, id DESC", recent);
    let recent = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect::<sqlx::Result<_>>()?;
    let mut q = of_party(
        "SELECT currency_code, COUNT(*) AS n, CAST(SUM(total_minor) AS BIGINT) AS total FROM orders WHERE 1 = 1",
    );
    q.push(&format!(
        " AND {counted} GROUP BY currency_code ORDER BY currency_code"
    ));
    let totals = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("currency_code")?, r.try_get("n")?, r.try_get("total")?)))
        .collect::<sqlx::Result<_>>()?;
    let mut q = of_party("SELECT owner_id FROM orders WHERE owner_id <> ''");
    q.push(&format!(" AND {counted}"));
    q.order_limit("placed_at DESC, id DESC", 1);
    let latest_owner = match q.build().fetch_optional(&mut *conn).await? {
        Some(row) => row.try_get("owner_id")?,
        None => String::new(),
    };
    let mut q = of_party("SELECT partner_id, MAX(placed_at) AS last_at FROM orders WHERE partner_id <> ''");
    q.push(" GROUP BY partner_id");
    q.order_limit("last_at DESC, partner_id", partners);
    let partners = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("partner_id"))
        .collect::<sqlx::Result<_>>()?;
    Ok(Summary {
        recent,
        totals,
        latest_owner,
        partners,
    })
}

/// Sets the status if the version is still `expected`.
pub async fn set_status(
    conn: &mut Conn,
    id: &str,
    status: i32,
    reason: &str,
    expected: i64,
    now: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE orders SET status = $1, status_reason = $2, status_at = $3, version = version + 1 \
         WHERE id = $4 AND version = $5",
    )
    .bind(i64::from(status))
    .bind(reason)
    .bind(now)
    .bind(id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
