//! Service settings kept in the database (changed through the API).

use crm_storage::Conn;
use serde::{Deserialize, Serialize};

use crate::domain::pyramid::{TierSpec, default_tiers};

const VALUE_TIERS: &str = "value_tiers";

/// The value pyramid's tiers (the default until configured).
pub async fn value_tiers(conn: &mut Conn) -> sqlx::Result<Vec<TierSpec>> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(VALUE_TIERS)
        .fetch_optional(&mut *conn)
        .await?;
    let parsed = stored.and_then(|s| serde_json::from_str::<Vec<(String, i32)>>(&s).ok());
    Ok(match parsed {
        Some(tiers) if !tiers.is_empty() => tiers
            .into_iter()
            .map(|(name, customer_share_bps)| TierSpec {
                name,
                customer_share_bps,
            })
            .collect(),
        _ => default_tiers(),
    })
}

/// Stores the value pyramid's tiers.
pub async fn set_value_tiers(conn: &mut Conn, tiers: &[TierSpec]) -> sqlx::Result<()> {
    let json: Vec<(&str, i32)> = tiers
        .iter()
        .map(|t| (t.name.as_str(), t.customer_share_bps))
        .collect();
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(VALUE_TIERS)
        .bind(serde_json::to_string(&json).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const TIERS_DIRTY: &str = "value_tiers_dirty";

/// Notes that value figures changed since the tiers were last computed.
pub async fn mark_tiers_dirty(conn: &mut Conn) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, '1') ON CONFLICT (key) DO UPDATE SET value = '1'",
    )
    .bind(TIERS_DIRTY)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Clears the flag; true when it was set.
pub async fn take_tiers_dirty(conn: &mut Conn) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM settings WHERE key = $1")
        .bind(TIERS_DIRTY)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        > 0)
}

const PYRAMID: &str = "value_pyramid";

/// The value pyramid as the last ranking left it: the tiers it ranked under, its totals and
/// when. Each ranking stores it, so reading the pyramid reads one row, and agrees with the tier
/// each party carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PyramidSnapshot {
    /// The tiers ranked under: (name, share of customers in bps).
    pub tiers: Vec<(String, i32)>,
    /// Parties ranked (with revenue).
    pub ranked: i64,
    /// Revenue of each tier, in the tiers' order.
    pub tier_revenue: Vec<i64>,
    /// Revenue of the top 20% of ranks.
    pub top_20_percent_revenue: i64,
    /// Contribution of each tier, in the tiers' order.
    #[serde(default)]
    pub tier_contribution: Vec<i64>,
    /// Contribution of the top 20% of ranks.
    #[serde(default)]
    pub top_20_percent_contribution: i64,
    /// The smallest rank whose cumulative revenue reaches 80% of the total.
    pub rank_reaching_80_percent: i64,
    /// When it was ranked (µs since the epoch).
    pub at: i64,
}

impl PyramidSnapshot {
    /// Whether it was ranked under `tiers`.
    pub fn ranked_under(&self, tiers: &[TierSpec]) -> bool {
        self.tiers.len() == tiers.len()
            && self
                .tiers
                .iter()
                .zip(tiers)
                .all(|((name, bps), t)| *name == t.name && *bps == t.customer_share_bps)
    }
}

/// The pyramid of the last ranking, if any.
pub async fn pyramid_snapshot(conn: &mut Conn) -> sqlx::Result<Option<PyramidSnapshot>> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(PYRAMID)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(stored.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Stores the pyramid of a ranking.
pub async fn set_pyramid_snapshot(conn: &mut Conn, snapshot: &PyramidSnapshot) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(PYRAMID)
        .bind(serde_json::to_string(snapshot).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
