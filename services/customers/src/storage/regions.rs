//! Sales regions.

use crm_proto::customers::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

/// Inserts or replaces a region.
pub async fn upsert(conn: &mut Conn, r: &pb::Region) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO regions (code, name, parent_code) VALUES ($1, $2, $3) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code",
    )
    .bind(&r.code)
    .bind(&r.name)
    .bind(&r.parent_code)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a region exists.
pub async fn exists(conn: &mut Conn, code: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM regions WHERE code = $1")
        .bind(code)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// The parent code of a region ("" for a top region, None when unknown).
pub async fn parent_of(conn: &mut Conn, code: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT parent_code FROM regions WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
}

/// Up to `limit` regions by code, after the code `after`.
pub async fn list(conn: &mut Conn, after: Option<String>, limit: i64) -> sqlx::Result<Vec<pb::Region>> {
    let mut q = SqlBuilder::new("SELECT code, name, parent_code FROM regions WHERE 1 = 1");
    q.after("code", after.map(|code| vec![code]));
    q.order_limit("code", limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Region {
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                parent_code: r.try_get("parent_code")?,
            })
        })
        .collect()
}
