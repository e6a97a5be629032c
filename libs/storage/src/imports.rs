//! Keys of records brought in by bulk imports, shared by every service: which record an
//! (entity, source system, external id) became, a hash of what was imported (so a re-import of
//! the same row changes nothing), and the import run that last saw it (so a key repeated within
//! one import is refused).

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use crate::{Arg, Conn, Migrations, SqlBuilder};

/// Migrations of the `crm_import_keys` table, applied to every service's database.
pub static MIGRATIONS: Migrations = Migrations {
    table: "_crm_imports_migrations",
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
};

/// What is stored for one imported key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportKey {
    /// The id of the record the key became.
    pub record_id: String,
    /// Hash of the imported content (see [`content_hash`]).
    pub content_hash: String,
    /// The import run that last saw the key.
    pub run_id: String,
    /// The row of that run.
    pub row: i64,
}

/// A key to record: the external id, the record and the content it carries now.
#[derive(Debug, Clone)]
pub struct NewImportKey {
    /// Id in the source system.
    pub external_id: String,
    /// The record's id here.
    pub record_id: String,
    /// See [`content_hash`].
    pub content_hash: String,
    /// Row number in the import.
    pub row: i64,
}

/// A stable hash of an imported row's canonical bytes (the caller makes them canonical, e.g. with
/// sorted maps), as 32 hex digits.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh import run id.
pub fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The stored keys among `external_ids` of `entity` from `source`.
pub async fn lookup(
    conn: &mut Conn,
    entity: &str,
    source: &str,
    external_ids: &[String],
) -> sqlx::Result<HashMap<String, ImportKey>> {
    let mut found = HashMap::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(1000) {
        let mut q = SqlBuilder::new(
            "SELECT external_id, record_id, content_hash, run_id, row_number FROM crm_import_keys WHERE 1 = 1",
        );
        q.and("entity = {}", entity).and("source = {}", source);
        let list = q.list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND external_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(
                row.try_get("external_id")?,
                ImportKey {
                    record_id: row.try_get("record_id")?,
                    content_hash: row.try_get("content_hash")?,
                    run_id: row.try_get("run_id")?,
                    row: row.try_get("row_number")?,
                },
            );
        }
    }
    Ok(found)
}

/// Records (or moves to `run_id`) the keys of `rows`, in one statement per 500 rows.
pub async fn record(
    conn: &mut Conn,
    entity: &str,
    source: &str,
    run_id: &str,
    rows: &[NewImportKey],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(500) {
        let mut q = SqlBuilder::insert_rows(
            "crm_import_keys (entity, source, external_id, record_id, content_hash, run_id, row_number)",
            chunk.iter().map(|k| {
                [
                    Arg::from(entity),
                    Arg::from(source),
                    Arg::from(k.external_id.as_str()),
                    Arg::from(k.record_id.as_str()),
                    Arg::from(k.content_hash.as_str()),
                    Arg::from(run_id),
                    Arg::Int(k.row),
                ]
            }),
        );
        q.push(
            " ON CONFLICT (external_id, entity, source) DO UPDATE SET record_id = excluded.record_id, \
             content_hash = excluded.content_hash, run_id = excluded.run_id, row_number = excluded.row_number",
        );
        q.build().execute(&mut *conn).await?;
    }
    // Every batch of an import looks its keys up: the lookup must not keep a plan made when the
    // table was small.
    crate::statistics::analyze_if_grown(conn, "crm_import_keys").await?;
    Ok(())
}

/// The (source, external id) of each of `record_ids` of `entity` that came from an import.
pub async fn external_ids(
    conn: &mut Conn,
    entity: &str,
    record_ids: &[String],
) -> sqlx::Result<HashMap<String, (String, String)>> {
    let mut found = HashMap::new();
    for chunk in record_ids.chunks(1000) {
        let mut q = SqlBuilder::new("SELECT record_id, source, external_id FROM crm_import_keys WHERE 1 = 1");
        q.and("entity = {}", entity);
        let list = q.list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND record_id IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            found.insert(
                row.try_get("record_id")?,
                (row.try_get("source")?, row.try_get("external_id")?),
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_distinct() {
        assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
        assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
        assert_eq!(content_hash(b"abc").len(), 32);
    }
}
