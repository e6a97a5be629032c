//! Quotes, one row per revision.

use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{lines, new_id, timestamp};

const COLUMNS: &str = "id, number, revision, opportunity_id, party_id, price_book_id, currency_code, lines, discount_bps, \
    subtotal_minor, discount_minor, total_minor, valid_until, status, order_id, version, created_at";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Quote> {
    let currency: String = row.try_get("currency_code")?;
    let money = |amount_minor| {
        Some(Money {
            amount_minor,
            currency_code: currency.clone(),
        })
    };
    Ok(pb::Quote {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        revision: row.try_get::<i64, _>("revision")? as i32,
        opportunity_id: row.try_get("opportunity_id")?,
        party_id: row.try_get("party_id")?,
        price_book_id: row.try_get("price_book_id")?,
        lines: lines::from_json(&row.try_get::<String, _>("lines")?, &currency),
        discount_bps: row.try_get::<i64, _>("discount_bps")? as i32,
        subtotal: money(row.try_get("subtotal_minor")?),
        discount: money(row.try_get("discount_minor")?),
        total: money(row.try_get("total_minor")?),
        valid_until: row.try_get("valid_until")?,
        status: row.try_get::<i64, _>("status")? as i32,
        order_id: row.try_get("order_id")?,
        create_time: Some(timestamp(row.try_get("created_at")?)),
        etag: row.try_get::<i64, _>("version")?.to_string(),
    })
}

fn minor(m: &Option<Money>) -> i64 {
    m.as_ref().map(|m| m.amount_minor).unwrap_or_default()
}

/// Inserts a quote revision (id set here; a new quote also gets the next quote number).
pub async fn insert(conn: &mut Conn, q: &mut pb::Quote, currency: &str, now: i64) -> sqlx::Result<()> {
    q.id = new_id();
    if q.number.is_empty() {
        q.number = format!("Q-{:06}", next_number(conn, "quote").await?);
    }
    sqlx::query(
        "INSERT INTO quotes (id, number, revision, opportunity_id, party_id, price_book_id, currency_code, lines, \
         discount_bps, subtotal_minor, discount_minor, total_minor, valid_until, status, version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15)",
    )
    .bind(&q.id)
    .bind(&q.number)
    .bind(i64::from(q.revision))
    .bind(&q.opportunity_id)
    .bind(&q.party_id)
    .bind(&q.price_book_id)
    .bind(currency)
    .bind(lines::to_json(&q.lines))
    .bind(i64::from(q.discount_bps))
    .bind(minor(&q.subtotal))
    .bind(minor(&q.discount))
    .bind(minor(&q.total))
    .bind(&q.valid_until)
    .bind(i64::from(q.status))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One quote revision.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Quote>> {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM quotes WHERE 1 = 1"));
    b.and("id = {}", id);
    b.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Whose quotes a list reads.
#[derive(Debug, Clone, Copy)]
pub enum QuotesOf<'a> {
    /// Every revision of every quote of an opportunity.
    Opportunity(&'a str),
    /// A customer's, only drafts and presented ones when `open_only`.
    Party {
        /// The customer.
        party_id: &'a str,
        /// Drafts and presented quotes only.
        open_only: bool,
    },
}

/// Up to `limit` quotes by number and revision, after the key (number, revision) `after`.
pub async fn list(
    conn: &mut Conn,
    of: QuotesOf<'_>,
    after: Option<(String, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Quote>> {
    let mut b = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM quotes WHERE 1 = 1"));
    match of {
        QuotesOf::Opportunity(id) => {
            b.and("opportunity_id = {}", id);
        }
        QuotesOf::Party { party_id, open_only } => {
            b.and("party_id = {}", party_id);
            if open_only {
                b.push(" AND status IN (1, 2)");
            }
        }
    }
    b.after(
        "number, revision",
        after.map(|(number, revision)| vec![Arg::from(number), Arg::from(revision)]),
    );
    b.order_limit("number, revision", limit);
    b.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The next number of the sequence `name` (1 first). The counter row is locked until the
/// transaction ends, so numbers are unique and, among committed documents, without reuse.
pub async fn next_number(conn: &mut Conn, name: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO number_sequences (name, value) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET value = number_sequences.value + 1 RETURNING value",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await
}

/// Sets status (and order) if the version is still `expected`.
pub async fn set_status(
    conn: &mut Conn,
    id: &str,
    status: i32,
    order_id: &str,
    expected: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE quotes SET status = $1, order_id = $2, version = version + 1 WHERE id = $3 AND version = $4",
    )
    .bind(i64::from(status))
    .bind(order_id)
    .bind(id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
