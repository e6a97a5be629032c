//! The installed base: products customers own.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::timestamp;

const COLUMNS: &str = "id, party_id, product_id, product_name, serial_number, purchase_date, warranty_end_date, \
     order_id, status, registered_by, created_at, version FROM assets";

/// An asset as stored, with its optimistic-concurrency version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetRecord {
    /// The asset (`under_warranty` and `etag` are filled by the API).
    pub asset: pb::Asset,
    /// Version.
    pub version: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<AssetRecord> {
    Ok(AssetRecord {
        asset: pb::Asset {
            id: r.try_get("id")?,
            party_id: r.try_get("party_id")?,
            product_id: r.try_get("product_id")?,
            product_name: r.try_get("product_name")?,
            serial_number: r.try_get("serial_number")?,
            purchase_date: r.try_get("purchase_date")?,
            warranty_end_date: r.try_get("warranty_end_date")?,
            order_id: r.try_get("order_id")?,
            status: r.try_get::<i64, _>("status")? as i32,
            registered_by: r.try_get("registered_by")?,
            create_time: Some(timestamp(r.try_get("created_at")?)),
            ..Default::default()
        },
        version: r.try_get("version")?,
    })
}

/// Stores a new asset at version 1.
pub async fn insert(conn: &mut Conn, a: &pb::Asset, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO assets (id, party_id, product_id, product_name, serial_number, purchase_date, warranty_end_date, \
         order_id, status, registered_by, created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)",
    )
    .bind(&a.id)
    .bind(&a.party_id)
    .bind(&a.product_id)
    .bind(&a.product_name)
    .bind(&a.serial_number)
    .bind(&a.purchase_date)
    .bind(&a.warranty_end_date)
    .bind(&a.order_id)
    .bind(i64::from(a.status))
    .bind(&a.registered_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the changeable fields if the asset is still at `version`, and keeps the warranty end
/// of the cases about it equal; false when someone else changed it first.
pub async fn update(conn: &mut Conn, a: &pb::Asset, version: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE assets SET serial_number = $1, purchase_date = $2, warranty_end_date = $3, order_id = $4, status = $5, \
         version = version + 1 WHERE id = $6 AND version = $7",
    )
    .bind(&a.serial_number)
    .bind(&a.purchase_date)
    .bind(&a.warranty_end_date)
    .bind(&a.order_id)
    .bind(i64::from(a.status))
    .bind(&a.id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // The condition of the partial index on assets, spelled out: SQLite uses one only when the
    // query states it (without it, each update read every case).
    sqlx::query("UPDATE cases SET warranty_end_date = $1 WHERE asset_id = $2 AND asset_id <> ''")
        .bind(&a.warranty_end_date)
        .bind(&a.id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// One asset.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<AssetRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Up to `limit` assets of a customer, newest purchase first, after the key (purchase date,
/// id) `before`; with `warranty_on`, only those whose warranty runs on that day (YYYY-MM-DD).
pub async fn of_party(
    conn: &mut Conn,
    party_id: &str,
    warranty_on: Option<&str>,
    before: Option<Vec<String>>,
    limit: i64,
) -> sqlx::Result<Vec<AssetRecord>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} WHERE 1 = 1"));
    q.and("party_id = {}", party_id.to_string());
    if let Some(day) = warranty_on {
        q.and("warranty_end_date >= {}", day.to_string());
    }
    q.before("purchase_date, id", before);
    q.order_limit("purchase_date DESC, id DESC", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}
