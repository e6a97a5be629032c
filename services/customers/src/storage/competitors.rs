//! Competitor records.

use crm_proto::customers::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{new_id, timestamp};

const COLUMNS: &str = "id, name, website, strengths, weaknesses, notes, version, updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Competitor> {
    let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
    Ok(pb::Competitor {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        website: row.try_get("website")?,
        strengths: list(row.try_get("strengths")?),
        weaknesses: list(row.try_get("weaknesses")?),
        notes: row.try_get("notes")?,
        update_time: Some(timestamp(row.try_get("updated_at")?)),
        etag: row.try_get::<i64, _>("version")?.to_string(),
    })
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// Inserts a competitor (a unique-name violation surfaces as the database error).
pub async fn insert(conn: &mut Conn, c: &mut pb::Competitor, now: i64) -> sqlx::Result<()> {
    c.id = new_id();
    sqlx::query(
        "INSERT INTO competitors (id, name, name_key, website, strengths, weaknesses, notes, version, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(c.name.to_lowercase())
    .bind(&c.website)
    .bind(json(&c.strengths))
    .bind(json(&c.weaknesses))
    .bind(&c.notes)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    c.etag = "1".into();
    c.update_time = Some(timestamp(now));
    Ok(())
}

/// One competitor.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Competitor>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM competitors WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Competitors after `after` by id.
pub async fn list(conn: &mut Conn, after: &str, limit: i64) -> sqlx::Result<Vec<pb::Competitor>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM competitors WHERE id > $1 ORDER BY id LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Writes a competitor if its version is still `expected_version`.
pub async fn update(
    conn: &mut Conn,
    c: &pb::Competitor,
    expected_version: i64,
    now: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE competitors SET name = $1, name_key = $2, website = $3, strengths = $4, weaknesses = $5, notes = $6, \
         version = version + 1, updated_at = $7 WHERE id = $8 AND version = $9",
    )
    .bind(&c.name)
    .bind(c.name.to_lowercase())
    .bind(&c.website)
    .bind(json(&c.strengths))
    .bind(json(&c.weaknesses))
    .bind(&c.notes)
    .bind(now)
    .bind(&c.id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Deletes a competitor; false when it did not exist.
pub async fn delete(conn: &mut Conn, id: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM competitors WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}
