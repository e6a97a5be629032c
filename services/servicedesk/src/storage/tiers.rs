//! The value pyramid as the customers service last announced it: which tiers make up the top
//! 20% follows from it.

use crm_storage::{Arg, Conn, SqlBuilder};

use crate::domain::priority::Preferential;
use sqlx::Row as _;

/// Replaces the pyramid with `tiers` (top first, shares in basis points).
pub async fn set_pyramid(conn: &mut Conn, tiers: &[(String, i64)]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM value_tiers").execute(&mut *conn).await?;
    if tiers.is_empty() {
        return Ok(());
    }
    SqlBuilder::insert_rows(
        "value_tiers (position, name, customer_share_bps)",
        tiers
            .iter()
            .enumerate()
            .map(|(i, (name, bps))| [Arg::from(i as i64), Arg::from(name.as_str()), Arg::from(*bps)]),
    )
    .build()
    .execute(conn)
    .await?;
    Ok(())
}

/// The announced pyramid, top first; empty when none was announced.
pub async fn pyramid(conn: &mut Conn) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query("SELECT name, customer_share_bps FROM value_tiers ORDER BY position")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("customer_share_bps")?)))
        .collect()
}

/// The tiers that get preferential service: those `named` in the settings, else the top 20% of
/// the pyramid last announced (of the default pyramid until one is).
pub async fn preferential(conn: &mut Conn, named: &[String]) -> sqlx::Result<Preferential> {
    if named.iter().any(|t| !t.trim().is_empty()) {
        return Ok(Preferential::named(named));
    }
    let pyramid = pyramid(conn).await?;
    Ok(if pyramid.is_empty() {
        Preferential::of_default_pyramid()
    } else {
        Preferential::top_share_of(&pyramid)
    })
}
