//! Raised alerts and the alert settings.

use crm_proto::sales::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use super::{new_id, timestamp};
use crate::domain::alerts::{Alert, AlertKind, AlertSettings};

/// Records the alerts whose conditions were not raised before, with a statement per 500 (each
/// addressed to the manager of its owner's team, if any); returns the new ones, in the order given.
pub async fn raise_many(conn: &mut Conn, alerts: &[Alert], now: i64) -> sqlx::Result<Vec<pb::Alert>> {
    let mut raised = std::collections::HashMap::new();
    for chunk in crm_storage::insert_chunks(alerts, 500) {
        let mut q = SqlBuilder::new(
            "INSERT INTO alerts (id, kind, subject_id, owner_id, message, dedupe_key, raised_at, manager_id) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, \
             COALESCE((SELECT t.manager_user_id FROM reps r JOIN teams t ON t.id = r.team_id \
             WHERE r.user_id = v.column4), '') FROM (VALUES ",
        );
        q.rows(chunk.iter().map(|a| {
            [
                Arg::from(new_id()),
                Arg::Int(kind_of(a.kind) as i64),
                Arg::from(a.subject_id.as_str()),
                Arg::from(a.owner_id.as_str()),
                Arg::from(a.message.as_str()),
                Arg::from(a.dedupe_key.as_str()),
                Arg::Int(now),
            ]
        }))
        // The WHERE keeps SQLite from reading ON CONFLICT as a join's ON.
        .push(
            ") AS v WHERE 1 = 1 ON CONFLICT (dedupe_key) DO NOTHING \
             RETURNING id, kind, subject_id, owner_id, message, dedupe_key, manager_id",
        );
        for row in q.build().fetch_all(&mut *conn).await? {
            let alert = pb::Alert {
                id: row.try_get("id")?,
                kind: row.try_get::<i64, _>("kind")? as i32,
                subject_id: row.try_get("subject_id")?,
                owner_id: row.try_get("owner_id")?,
                message: row.try_get("message")?,
                raise_time: Some(timestamp(now)),
                resolve_time: None,
                manager_id: row.try_get("manager_id")?,
            };
            raised.insert(row.try_get::<String, _>("dedupe_key")?, alert);
        }
    }
    Ok(alerts
        .iter()
        .filter_map(|a| raised.remove(&a.dedupe_key))
        .collect())
}

/// The API's kind of a detected alert.
fn kind_of(k: AlertKind) -> pb::AlertKind {
    match k {
        AlertKind::StalledDeal => pb::AlertKind::StalledDeal,
        AlertKind::EarlyStagePileUp => pb::AlertKind::EarlyStagePileUp,
        AlertKind::FallingNewOpportunities => pb::AlertKind::FallingNewOpportunities,
        AlertKind::OverdueClose => pb::AlertKind::OverdueClose,
    }
}

/// Whose alerts a caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertScope {
    /// Everyone's.
    All,
    /// The user's own, and those of the reps of `team` in the sales organisation.
    OwnOrTeam {
        /// The user.
        user_id: String,
        /// The user's team, when they manage one.
        team_id: Option<String>,
    },
}

/// Whether `owner_id` is `user_id` or a rep of `team_id`.
pub async fn in_scope(conn: &mut Conn, scope: &AlertScope, owner_id: &str) -> sqlx::Result<bool> {
    let AlertScope::OwnOrTeam { user_id, team_id } = scope else {
        return Ok(true);
    };
    if owner_id == user_id {
        return Ok(true);
    }
    let Some(team) = team_id.as_deref().filter(|t| !t.is_empty()) else {
        return Ok(false);
    };
    Ok(
        sqlx::query("SELECT 1 FROM reps WHERE user_id = $1 AND team_id = $2")
            .bind(owner_id)
            .bind(team)
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

/// Alerts within `scope`, newest first.
pub async fn list(
    conn: &mut Conn,
    scope: &AlertScope,
    owner_id: &str,
    kind: i32,
    include_resolved: bool,
    before: Option<&(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Alert>> {
    let mut q = SqlBuilder::new(
        "SELECT id, kind, subject_id, owner_id, message, raised_at, resolved_at, manager_id FROM alerts WHERE 1 = 1",
    );
    if !owner_id.is_empty() {
        q.and("owner_id = {}", owner_id);
    }
    if let AlertScope::OwnOrTeam { user_id, team_id } = scope {
        let me = q.arg(user_id.as_str());
        match team_id.as_deref().filter(|t| !t.is_empty()) {
            Some(team) => {
                let team = q.arg(team);
                q.push(&format!(
                    " AND (owner_id = {me} OR owner_id IN (SELECT user_id FROM reps WHERE team_id = {team}))"
                ));
            }
            None => {
                q.push(&format!(" AND owner_id = {me}"));
            }
        }
    }
    if kind != 0 {
        q.and("kind = {}", i64::from(kind));
    }
    if !include_resolved {
        q.push(" AND resolved_at IS NULL");
    }
    if let Some((at, id)) = before {
        let (at, id) = (q.arg(*at), q.arg(id.as_str()));
        q.push(&format!(" AND (raised_at, id) < ({at}, {id})"));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY raised_at DESC, id DESC LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// One alert.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Alert>> {
    sqlx::query(
        "SELECT id, kind, subject_id, owner_id, message, raised_at, resolved_at, manager_id FROM alerts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::Alert> {
    Ok(pb::Alert {
        id: r.try_get("id")?,
        kind: r.try_get::<i64, _>("kind")? as i32,
        subject_id: r.try_get("subject_id")?,
        owner_id: r.try_get("owner_id")?,
        message: r.try_get("message")?,
        raise_time: Some(timestamp(r.try_get("raised_at")?)),
        resolve_time: r.try_get::<Option<i64>, _>("resolved_at")?.map(timestamp),
        manager_id: r.try_get("manager_id")?,
    })
}

/// Marks an alert resolved; false when unknown.
pub async fn resolve(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("UPDATE alerts SET resolved_at = COALESCE(resolved_at, $1) WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1,
    )
}

const SETTINGS_KEY: &str = "alert_settings";

/// The alert thresholds (defaults until changed).
pub async fn settings(conn: &mut Conn) -> sqlx::Result<AlertSettings> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM sales_settings WHERE key = $1")
        .bind(SETTINGS_KEY)
        .fetch_optional(&mut *conn)
        .await?;
    let parsed = stored.and_then(|s| serde_json::from_str::<(i64, i64, i32, i32)>(&s).ok());
    Ok(match parsed {
        Some((default_stage_days, pile_up_threshold, early_stage_max_position, falling_rate_bps)) => {
            AlertSettings {
                default_stage_days,
                pile_up_threshold,
                early_stage_max_position,
                falling_rate_bps,
            }
        }
        None => AlertSettings::default(),
    })
}

/// Stores the alert thresholds.
pub async fn set_settings(conn: &mut Conn, s: &AlertSettings) -> sqlx::Result<()> {
    let value = serde_json::to_string(&(
        s.default_stage_days,
        s.pile_up_threshold,
        s.early_stage_max_position,
        s.falling_rate_bps,
    ))
    .unwrap_or_default();
    sqlx::query("INSERT INTO sales_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(SETTINGS_KEY)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
