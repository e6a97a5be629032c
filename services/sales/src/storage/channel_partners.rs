//! The read copy of channel partners, kept from the partners service's events.

use std::collections::HashMap;

use crm_proto::partners::v1 as partners;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

/// Inserts or refreshes a partner's copy.
pub async fn upsert(conn: &mut Conn, p: &partners::Partner) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channel_partners (partner_id, name, status, source, external_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (partner_id) DO UPDATE SET name = excluded.name, status = excluded.status, \
         source = excluded.source, external_id = excluded.external_id",
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(i64::from(p.status))
    .bind(&p.source)
    .bind(&p.external_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Partner ids by external id, for partners imported from `source`.
pub async fn by_external_ids(
    conn: &mut Conn,
    source: &str,
    external_ids: &[String],
) -> sqlx::Result<HashMap<String, String>> {
    let mut found = HashMap::new();
    for chunk in external_ids.chunks(1000) {
        let mut q = SqlBuilder::new("SELECT partner_id, external_id FROM channel_partners WHERE 1 = 1");
        // A literal, so that the partial index on external ids applies to a generic plan too.
        q.and("source = {}", source).push(" AND external_id <> ''");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND external_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(row.try_get("external_id")?, row.try_get("partner_id")?);
        }
    }
    Ok(found)
}
