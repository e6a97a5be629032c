//! Fitted model parameters and the at-risk announcements made.

use crm_storage::{Arg, Conn, SqlBuilder, insert_chunks};
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

/// The parameters of a fit as JSON text: `{"bg_nbd": [r, alpha, a, b], "gamma_gamma": [p, q, v] | null}`.
pub fn params_json(bg_nbd: &bgnbd::Params, gamma_gamma: Option<&gamma_gamma::Params>) -> String {
    let gg = gamma_gamma.map(|g| [g.p, g.q, g.v]);
    serde_json::json!({"bg_nbd": [bg_nbd.r, bg_nbd.alpha, bg_nbd.a, bg_nbd.b], "gamma_gamma": gg}).to_string()
}

/// The parameters [`params_json`] wrote; None when they are not there.
pub fn parse_params(text: &str) -> Option<(bgnbd::Params, Option<gamma_gamma::Params>)> {
    let params: serde_json::Value = serde_json::from_str(text).ok()?;
    let numbers =
        |v: &serde_json::Value| -> Option<Vec<f64>> { v.as_array()?.iter().map(|x| x.as_f64()).collect() };
    let bg = numbers(&params["bg_nbd"]).filter(|v| v.len() == 4)?;
    let gg = numbers(&params["gamma_gamma"]).filter(|v| v.len() == 3);
    Some((
        bgnbd::Params {
            r: bg[0],
            alpha: bg[1],
            a: bg[2],
            b: bg[3],
        },
        gg.map(|g| gamma_gamma::Params {
            p: g[0],
            q: g[1],
            v: g[2],
        }),
    ))
}

/// Keeps a fit as the latest.
pub async fn save(conn: &mut Conn, f: &Fit) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO model_fits (name, params, fitted_at, customers) VALUES ('clv', $1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET params = excluded.params, fitted_at = excluded.fitted_at, customers = excluded.customers",
    )
    .bind(params_json(&f.bg_nbd, f.gamma_gamma.as_ref()))
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
    let Some((bg_nbd, gamma_gamma)) = parse_params(&row.try_get::<String, _>("params")?) else {
        return Ok(None);
    };
    Ok(Some(Fit {
        bg_nbd,
        gamma_gamma,
        fitted_at: row.try_get("fitted_at")?,
        customers: row.try_get("customers")?,
    }))
}

/// The per-customer history columns (`party_id, days, first_day, last_day, repeat_total`) of
/// purchases counted in currency `$1` placed before `$2` (µs), of the parties `parties` selects
/// (a subquery, or none for every customer), ordered by party id.
fn histories_sql(parties: &str) -> String {
    format!(
        "SELECT party_id, COUNT(*) AS days, MIN(day) AS first_day, MAX(day) AS last_day, \
         CAST(SUM(CASE WHEN day > first_day THEN amount ELSE 0 END) AS BIGINT) AS repeat_total \
         FROM (SELECT party_id, day, amount, MIN(day) OVER (PARTITION BY party_id) AS first_day FROM \
         (SELECT party_id, placed_at / 86400000000 AS day, CAST(SUM(amount_minor) AS BIGINT) AS amount \
         FROM purchases WHERE status IN ('placed', 'fulfilled') AND currency_code = $1 AND placed_at < $2 {parties} \
         GROUP BY party_id, placed_at / 86400000000) d) w GROUP BY party_id ORDER BY party_id"
    )
}

fn to_history(row: &sqlx::any::AnyRow, as_of_day: i64) -> sqlx::Result<History> {
    Ok(History::from_days(
        row.try_get("days")?,
        row.try_get("first_day")?,
        row.try_get("last_day")?,
        row.try_get("repeat_total")?,
        as_of_day,
    ))
}

/// The histories at day `as_of_day` (from purchases counted in `currency` and placed before
/// `end`, µs; added up in SQL) of the next `limit` customers with figures in `currency`
/// after party id `after`, by party id, and the last of those customers' ids (None when there
/// are no more). Some of them may have no history (only cancelled purchases, or none before
/// `end`).
pub async fn histories_after(
    conn: &mut Conn,
    currency: &str,
    end: i64,
    as_of_day: i64,
    after: &str,
    limit: i64,
) -> sqlx::Result<(Vec<(String, History)>, Option<String>)> {
    let last: Option<String> = sqlx::query_scalar(
        "SELECT MAX(party_id) FROM (SELECT party_id FROM customer_figures WHERE party_id > $1 \
         AND currency_code = $2 ORDER BY party_id LIMIT $3) page",
    )
    .bind(after)
    .bind(currency)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await?;
    let Some(last) = last else {
        return Ok((Vec::new(), None));
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(histories_sql(
        "AND party_id > $3 AND party_id <= $4",
    )))
    .bind(currency)
    .bind(end)
    .bind(after)
    .bind(&last)
    .fetch_all(&mut *conn)
    .await?;
    let page = rows
        .iter()
        .map(|row| Ok((row.try_get("party_id")?, to_history(row, as_of_day)?)))
        .collect::<sqlx::Result<_>>()?;
    Ok((page, Some(last)))
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

/// Up to `limit` customers of the highest expected 52-week value, highest first (ties by id),
/// after the customer `after` of that order (its value and id) when given; with their values.
pub async fn most_valuable(
    conn: &mut Conn,
    after: Option<(i64, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<(String, i64, History)>> {
    let (value, id) = after.unwrap_or((i64::MAX, ""));
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MODEL_COLUMNS}, value_52w_minor FROM model_customers WHERE value_52w_minor <= $1 \
         AND (value_52w_minor < $1 OR party_id > $2) ORDER BY value_52w_minor DESC, party_id LIMIT $3"
    )))
    .bind(value)
    .bind(id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let values = rows
        .iter()
        .map(|row| row.try_get::<i64, _>("value_52w_minor"))
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(to_histories(&rows)?
        .into_iter()
        .zip(values)
        .map(|((party, h), value)| (party, value, h))
        .collect())
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
