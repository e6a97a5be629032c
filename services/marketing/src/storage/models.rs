//! Fitted model parameters and the at-risk announcements made.

use crm_storage::Conn;
use sqlx::Row as _;

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

/// Notes a customer announced as at risk; false when it already was.
pub async fn mark_at_risk(conn: &mut Conn, party_id: &str, now: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO at_risk (party_id, announced_at) VALUES ($1, $2) ON CONFLICT (party_id) DO NOTHING",
    )
    .bind(party_id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Forgets an announcement (the customer recovered), so a later lapse is announced again.
pub async fn clear_at_risk(conn: &mut Conn, party_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM at_risk WHERE party_id = $1")
        .bind(party_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
