//! Leads.

use crm_proto::sales::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{new_id, timestamp};
use crate::domain::rules::VisibleRecords;

const COLUMNS: &str = "id, source, source_ref, party_id, company_name, contact_name, email, phone, owner_id, team_id, \
    status, score, notes, opportunity_id, disqualified_reason, version, created_at";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Lead> {
    Ok(pb::Lead {
        id: row.try_get("id")?,
        source: row.try_get::<i64, _>("source")? as i32,
        source_ref: row.try_get("source_ref")?,
        party_id: row.try_get("party_id")?,
        company_name: row.try_get("company_name")?,
        contact_name: row.try_get("contact_name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        owner_id: row.try_get("owner_id")?,
        team_id: row.try_get("team_id")?,
        status: row.try_get::<i64, _>("status")? as i32,
        score: row.try_get::<i64, _>("score")? as i32,
        notes: row.try_get("notes")?,
        opportunity_id: row.try_get("opportunity_id")?,
        disqualified_reason: row.try_get("disqualified_reason")?,
        create_time: Some(timestamp(row.try_get("created_at")?)),
        etag: row.try_get::<i64, _>("version")?.to_string(),
    })
}

/// Inserts a lead (id set here). A repeated (source, source_ref) is a unique violation.
pub async fn insert(conn: &mut Conn, l: &mut pb::Lead, now: i64) -> sqlx::Result<()> {
    insert_at(conn, l, now).await
}

/// Inserts a lead recorded at `created_at` (an import keeps the source's time).
pub async fn insert_at(conn: &mut Conn, l: &mut pb::Lead, created_at: i64) -> sqlx::Result<()> {
    l.id = new_id();
    sqlx::query(
        "INSERT INTO leads (id, source, source_ref, party_id, company_name, contact_name, email, phone, owner_id, \
         team_id, status, score, notes, version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14)",
    )
    .bind(&l.id)
    .bind(i64::from(l.source))
    .bind(&l.source_ref)
    .bind(&l.party_id)
    .bind(&l.company_name)
    .bind(&l.contact_name)
    .bind(&l.email)
    .bind(&l.phone)
    .bind(&l.owner_id)
    .bind(&l.team_id)
    .bind(i64::from(l.status))
    .bind(i64::from(l.score))
    .bind(&l.notes)
    .bind(created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes every field a lead import sets (contact details, owner, status, score, notes) if the
/// version is still `expected`.
pub async fn replace(conn: &mut Conn, l: &pb::Lead, expected: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE leads SET source = $1, source_ref = $2, party_id = $3, company_name = $4, contact_name = $5, \
         email = $6, phone = $7, owner_id = $8, team_id = $9, status = $10, score = $11, notes = $12, \
         version = version + 1 WHERE id = $13 AND version = $14",
    )
    .bind(i64::from(l.source))
    .bind(&l.source_ref)
    .bind(&l.party_id)
    .bind(&l.company_name)
    .bind(&l.contact_name)
    .bind(&l.email)
    .bind(&l.phone)
    .bind(&l.owner_id)
    .bind(&l.team_id)
    .bind(i64::from(l.status))
    .bind(i64::from(l.score))
    .bind(&l.notes)
    .bind(&l.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// One lead.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Lead>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM leads WHERE 1 = 1"));
    q.and("id = {}", id);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The lead recorded for a source reference.
pub async fn by_source_ref(conn: &mut Conn, source: i32, source_ref: &str) -> sqlx::Result<Option<pb::Lead>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM leads WHERE 1 = 1"));
    q.and("source = {}", i64::from(source))
        .and("source_ref = {}", source_ref)
        // Spelled out for the partial index on references (see `orders::by_external_ref`).
        .push(" AND source_ref <> ''");
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Up to `limit` leads of `status`, `source` and `owner_id` (0 or empty: any) that `visible`
/// admits, after the id `after`, in id order (see [`super::visible_page`]).
pub async fn list(
    conn: &mut Conn,
    (status, source, owner_id): (i32, i32, &str),
    visible: &VisibleRecords,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Lead>> {
    let filters: Vec<(&str, Arg)> = [("status", status), ("source", source)]
        .into_iter()
        .filter(|(_, value)| *value != 0)
        .map(|(column, value)| (column, Arg::Int(i64::from(value))))
        .chain((!owner_id.is_empty()).then(|| ("owner_id", Arg::from(owner_id))))
        .collect();
    let Some(q) = super::visible_page(COLUMNS, "leads", &filters, &[], visible, after, limit) else {
        return Ok(Vec::new());
    };
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Writes the qualification fields if the version is still `expected`.
pub async fn update(conn: &mut Conn, l: &pb::Lead, expected: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE leads SET status = $1, score = $2, disqualified_reason = $3, party_id = $4, opportunity_id = $5, \
         version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(i64::from(l.status))
    .bind(i64::from(l.score))
    .bind(&l.disqualified_reason)
    .bind(&l.party_id)
    .bind(&l.opportunity_id)
    .bind(&l.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
