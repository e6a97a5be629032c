//! Fitted model parameters and the at-risk announcements made.

use crm_storage::{Arg, Conn, SqlBuilder, insert_chunks};
use futures::TryStreamExt as _;
use sqlx::Row as _;

use crate::domain::history::History;
use crate::domain::{bgnbd, gamma_gamma};

/// The latest fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Purchase and survival model.
    pub bg_nbd: bgnbd::Params,
    /// Spend model (None without enough repeat buyers).
    pub gamma_gamma: Option<gamma_gamma::Params>,
    /// The as-of time of the histories (µs).
    pub fitted_at: i64,
    /// Customers fitted on.
    pub customers: i64,
}

/// Keeps a fit as the latest.
pub async fn save(conn: &mut Conn, f: &Fit) -> sqlx::Result<()> {
    let gg = f.gamma_gamma.map(|g| [g.p, g.q, g.v]);
    let params = serde_json::json!({"bg_nbd": [f.bg_nbd.r, f.bg_nbd.alpha, f.bg_nbd.a, f.bg_nbd.b], "gamma_gamma": gg});
    sqlx::query(
        "INSERT INTO model_fits (name, params, fitted_at, customers) VALUES ('clv', $1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET params = excluded.params, fitted_at = excluded.fitted_at, customers = excluded.customers",
    )
    .bind(params.to_string())
    .bind(f.fitted_at)
    .bind(f.customers)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The latest fit, if any.
pub async fn latest(conn: &mut Conn) -> sqlx::Result<Option<Fit>> {
    let Some(row) = sqlx::query("SELECT params, fitted_at, customers FROM model_fits WHERE name = 'clv'")
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let params: serde_json::Value =
        serde_json::from_str(&row.try_get::<String, _>("params")?).unwrap_or_default();
    let numbers =
        |v: &serde_json::Value| -> Option<Vec<f64>> { v.as_array()?.iter().map(|x| x.as_f64()).collect() };
    let Some(bg) = numbers(&params["bg_nbd"]).filter(|v| v.len() == 4) else {
        return Ok(None);
    };
    let gg = numbers(&params["gamma_gamma"]).filter(|v| v.len() == 3);
    Ok(Some(Fit {
        bg_nbd: bgnbd::Params {
            r: bg[0],
            alpha: bg[1],
            a: bg[2],
            b: bg[3],
        },
        gamma_gamma: gg.map(|g| gamma_gamma::Params {
            p: g[0],
            q: g[1],
            v: g[2],
        }),
        fitted_at: row.try_get("fitted_at")?,
        customers: row.try_get("customers")?,
    }))
}

/// Every customer's history at day `as_of_day` from their purchases counted in `currency` and
/// placed before `end` (µs), by party id; added up in SQL, a row per customer read.
pub async fn histories(
    conn: &mut Conn,
    currency: &str,
    end: i64,
    as_of_day: i64,
) -> sqlx::Result<Vec<(String, History)>> {
    let mut rows = sqlx::query(
        "SELECT party_id, COUNT(*) AS days, MIN(day) AS first_day, MAX(day) AS last_day, \
         CAST(SUM(CASE WHEN day > first_day THEN amount ELSE 0 END) AS BIGINT) AS repeat_total \
         FROM (SELECT party_id, day, amount, MIN(day) OVER (PARTITION BY party_id) AS first_day FROM \
         (SELECT party_id, placed_at / 86400000000 AS day, CAST(SUM(amount_minor) AS BIGINT) AS amount \
         FROM purchases WHERE status IN ('placed', 'fulfilled') AND currency_code = $1 AND placed_at < $2 \
         GROUP BY party_id, placed_at / 86400000000) d) w GROUP BY party_id ORDER BY party_id",
    )
    .bind(currency)
    .bind(end)
    .fetch(&mut *conn);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        out.push((
            row.try_get("party_id")?,
            History::from_days(
                row.try_get("days")?,
                row.try_get("first_day")?,
                row.try_get("last_day")?,
                row.try_get("repeat_total")?,
                as_of_day,
            ),
        ));
    }
    Ok(out)
}

/// A customer as the latest fit sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCustomer {
    /// Customer.
    pub party_id: String,
    /// Their history at the fit.
    pub history: History,
    /// Probability they are still a customer, bps.
    pub alive_bps: i64,
    /// Expected value over 52 weeks, minor units.
    pub value_52w_minor: i64,
}

/// Keeps what the fit of `fitted_at` sees of customers, with multi-row statements.
pub async fn save_customers(
    conn: &mut Conn,
    fitted_at: i64,
    customers: &[ModelCustomer],
) -> sqlx::Result<()> {
    for chunk in insert_chunks(customers, 500) {
        let mut q = SqlBuilder::insert_rows(
            "model_customers (party_id, fitted_at, x, t_x, t, repeat_mean_minor, alive_bps, value_52w_minor)",
            chunk.iter().map(|c| {
                [
                    Arg::from(c.party_id.as_str()),
                    Arg::Int(fitted_at),
                    Arg::Float(c.history.customer.x),
                    Arg::Float(c.history.customer.t_x),
                    Arg::Float(c.history.customer.t),
                    Arg::Float(c.history.repeat_mean_minor),
                    Arg::Int(c.alive_bps),
                    Arg::Int(c.value_52w_minor),
                ]
            }),
        );
        q.push(
            " ON CONFLICT (party_id) DO UPDATE SET fitted_at = excluded.fitted_at, x = excluded.x, \
             t_x = excluded.t_x, t = excluded.t, repeat_mean_minor = excluded.repeat_mean_minor, \
             alive_bps = excluded.alive_bps, value_52w_minor = excluded.value_52w_minor",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Forgets the customers an earlier fit saw and the latest did not.
pub async fn forget_other_fits(conn: &mut Conn, fitted_at: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM model_customers WHERE fitted_at <> $1")
        .bind(fitted_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const MODEL_COLUMNS: &str = "party_id, x, t_x, t, repeat_mean_minor";

fn to_histories(rows: &[sqlx::any::AnyRow]) -> sqlx::Result<Vec<(String, History)>> {
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("party_id")?,
                History {
                    customer: bgnbd::Customer {
                        x: row.try_get("x")?,
                        t_x: row.try_get("t_x")?,
                        t: row.try_get("t")?,
                    },
                    repeat_mean_minor: row.try_get("repeat_mean_minor")?,
                },
            ))
        })
        .collect()
}

/// A customer's history at the latest fit (None when they had no purchases then).
pub async fn customer(conn: &mut Conn, party_id: &str) -> sqlx::Result<Option<History>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MODEL_COLUMNS} FROM model_customers WHERE party_id = $1"
    )))
    .bind(party_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(to_histories(&rows)?.into_iter().next().map(|(_, h)| h))
}

/// Up to `limit` customers least likely to be alive, under `below_bps`, least likely first.
pub async fn least_alive(
    conn: &mut Conn,
    below_bps: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, History)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MODEL_COLUMNS} FROM model_customers WHERE alive_bps < $1 ORDER BY alive_bps, party_id LIMIT $2"
    )))
    .bind(below_bps)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    to_histories(&rows)
}

/// Up to `limit` customers of the highest expected 52-week value, highest first.
pub async fn most_valuable(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<(String, History)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MODEL_COLUMNS} FROM model_customers ORDER BY value_52w_minor DESC, party_id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    to_histories(&rows)
}

/// Up to `limit` customers of the latest fit after `after`, by id.
pub async fn customers_after(
    conn: &mut Conn,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<(String, History)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MODEL_COLUMNS} FROM model_customers WHERE party_id > $1 ORDER BY party_id LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    to_histories(&rows)
}

/// Notes customers announced as at risk; returns those not announced before.
pub async fn mark_many_at_risk(conn: &mut Conn, party_ids: &[String], now: i64) -> sqlx::Result<Vec<String>> {
    let mut newly = Vec::new();
    for chunk in insert_chunks(party_ids, 500) {
        let mut q = SqlBuilder::insert_rows(
            "at_risk (party_id, announced_at)",
            chunk.iter().map(|id| [Arg::from(id.as_str()), Arg::Int(now)]),
        );
        q.push(" ON CONFLICT (party_id) DO NOTHING RETURNING party_id");
        for row in q.build().fetch_all(&mut *conn).await? {
            newly.push(row.try_get("party_id")?);
        }
    }
    Ok(newly)
}

/// Forgets the announcements of customers who recovered, so a later lapse is announced again.
pub async fn clear_many_at_risk(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<()> {
    for chunk in party_ids.chunks(500) {
        let mut q = SqlBuilder::new("DELETE FROM at_risk WHERE party_id IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!("{list})"));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
