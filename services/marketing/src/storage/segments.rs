//! Segments.

use crm_proto::marketing::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::timestamp;

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredCondition {
    field: String,
    operator: i32,
    value: String,
}

/// The columns [`from_row`] reads.
const COLUMNS: &str = "id, name, conditions, created_at, list_size";

fn from_row(r: &AnyRow) -> sqlx::Result<pb::Segment> {
    let conditions: Vec<StoredCondition> =
        serde_json::from_str(&r.try_get::<String, _>("conditions")?).unwrap_or_default();
    Ok(pb::Segment {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        conditions: conditions
            .into_iter()
            .map(|c| pb::Condition {
                field: c.field,
                operator: c.operator,
                value: c.value,
            })
            .collect(),
        // Reads leave a list's ids out: segment_members holds them.
        party_ids: Vec::new(),
        create_time: Some(timestamp(r.try_get("created_at")?)),
        list_size: r.try_get("list_size")?,
    })
}

/// Inserts a segment (id and time set here).
pub async fn insert(conn: &mut Conn, s: &mut pb::Segment, now: i64) -> sqlx::Result<()> {
    s.id = uuid::Uuid::now_v7().to_string();
    s.create_time = Some(timestamp(now));
    let conditions: Vec<StoredCondition> = s
        .conditions
        .iter()
        .map(|c| StoredCondition {
            field: c.field.clone(),
            operator: c.operator,
            value: c.value.clone(),
        })
        .collect();
    sqlx::query(
        "INSERT INTO segments (id, name, conditions, party_ids, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&s.id)
    .bind(&s.name)
    .bind(serde_json::to_string(&conditions).unwrap_or_default())
    .bind(serde_json::to_string(&s.party_ids).unwrap_or_default())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for chunk in crm_storage::insert_chunks(&s.party_ids, 500) {
        let mut q = SqlBuilder::insert_rows(
            "segment_members (segment_id, party_id)",
            chunk
                .iter()
                .map(|party| [Arg::from(s.id.as_str()), Arg::from(party.as_str())]),
        );
        // A list may name a party twice.
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    s.list_size = count_members(conn, &s.id).await?;
    Ok(())
}

/// Keeps the size of the list `id` as its member rows count it, and returns it.
async fn count_members(conn: &mut Conn, id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "UPDATE segments SET list_size = (SELECT COUNT(*) FROM segment_members WHERE segment_id = $1) \
         WHERE id = $1 RETURNING list_size",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
}

/// The static lists stored without member rows (by a server of the earlier release, during an
/// upgrade).
pub async fn unfilled_lists(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM segments s WHERE conditions = '[]' AND party_ids <> '[]' \
         AND NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = s.id)",
    )
    .fetch_all(&mut *conn)
    .await
}

/// Writes the member rows and size of the list `id` from the ids stored with it.
pub async fn fill_members(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    let ids = if conn.backend_name() == "PostgreSQL" {
        "SELECT s.id, e.value FROM segments s, jsonb_array_elements_text(s.party_ids::jsonb) AS e (value)"
    } else {
        "SELECT s.id, j.value FROM segments s, json_each(s.party_ids) AS j"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO segment_members (segment_id, party_id) {ids} WHERE s.id = $1 ON CONFLICT DO NOTHING"
    )))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    count_members(conn, id).await?;
    Ok(())
}

/// One segment, without its list's ids (segment_members holds them).
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Segment>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM segments WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Up to `limit` segments by name, after the name `after`, without their lists' ids (their
/// sizes instead).
pub async fn list(conn: &mut Conn, after: Option<String>, limit: i64) -> sqlx::Result<Vec<pb::Segment>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM segments WHERE 1 = 1"));
    q.after("name", after.map(|name| vec![name]));
    q.order_limit("name", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The segments defined by conditions, by name, without member lists.
pub async fn rule_segments(conn: &mut Conn) -> sqlx::Result<Vec<pb::Segment>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM segments WHERE conditions <> '[]' ORDER BY name"
    )))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// The (name, id) of the list segments that hold `party_id`, by name, from the members' party
/// index.
pub async fn lists_holding(conn: &mut Conn, party_id: &str) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query(
        "SELECT s.name, s.id FROM segment_members m JOIN segments s ON s.id = m.segment_id \
         WHERE m.party_id = $1 ORDER BY s.name",
    )
    .bind(party_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("name")?, r.try_get("id")?)))
    .collect()
}
