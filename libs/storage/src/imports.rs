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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(32);
    for b in &digest[..16] {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
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
        let list = q.in_list(chunk.iter().map(String::as_str));
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
    for chunk in crate::insert_chunks(rows, 500) {
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

/// The import key a new record is written with (see [`RowKeys`]).
#[derive(Debug, Clone, Copy)]
pub struct NewRowKey<'a> {
    /// The source system.
    pub source: &'a str,
    /// The import run.
    pub run_id: &'a str,
    /// See [`content_hash`].
    pub content_hash: &'a str,
    /// Row number in the import.
    pub row: i64,
}

/// Import keys kept on the records' own rows, for the entities imported by the million (parties,
/// orders): an imported row then writes one row, not two, and its key needs no second index.
/// The table has `external_id` and the columns of [`RowKeys::COLUMNS`], unique on
/// `(external_id, import_source) WHERE import_source <> ''`, and its records' ids in `id`.
#[derive(Debug, Clone, Copy)]
pub struct RowKeys {
    table: &'static str,
}

impl RowKeys {
    /// The key columns a new record is inserted with, in the order of [`RowKeys::args`].
    pub const COLUMNS: &'static str = "import_source, import_hash, import_run, import_row";

    /// The keys of `table`.
    pub const fn new(table: &'static str) -> Self {
        Self { table }
    }

    /// The values of [`RowKeys::COLUMNS`] for a new record (all empty for one that was not
    /// imported).
    pub fn args(key: Option<&NewRowKey<'_>>) -> [Arg; 4] {
        match key {
            Some(k) => [
                Arg::from(k.source),
                Arg::from(k.content_hash),
                Arg::from(k.run_id),
                Arg::Int(k.row),
            ],
            None => [Arg::from(""), Arg::from(""), Arg::from(""), Arg::Int(0)],
        }
    }

    /// The stored keys among `external_ids` from `source`.
    pub async fn lookup(
        &self,
        conn: &mut Conn,
        source: &str,
        external_ids: &[String],
    ) -> sqlx::Result<HashMap<String, ImportKey>> {
        let mut found = HashMap::with_capacity(external_ids.len());
        for chunk in external_ids.chunks(1000) {
            let mut q = SqlBuilder::new(&format!(
                "SELECT external_id, id, import_hash, import_run, import_row FROM {} WHERE import_source <> ''",
                self.table
            ));
            let list = q.in_list(chunk.iter().map(String::as_str));
            q.push(&format!(" AND external_id IN ({list})"));
            q.and("import_source = {}", source);
            for row in q.build().fetch_all(&mut *conn).await? {
                found.insert(
                    row.try_get("external_id")?,
                    ImportKey {
                        record_id: row.try_get("id")?,
                        content_hash: row.try_get("import_hash")?,
                        run_id: row.try_get("import_run")?,
                        row: row.try_get("import_row")?,
                    },
                );
            }
        }
        Ok(found)
    }

    /// Keeps the table's planner statistics current while an import grows it (every batch
    /// looks its keys up; see [`crate::statistics`]).
    pub async fn analyze_if_grown(&self, conn: &mut Conn) -> sqlx::Result<()> {
        crate::statistics::analyze_if_grown(conn, self.table).await?;
        Ok(())
    }

    /// Moves the keys of existing records (rows seen again, changed or not) to `run_id` with
    /// their content hash and row, 500 records per statement.
    pub async fn record(
        &self,
        conn: &mut Conn,
        source: &str,
        run_id: &str,
        rows: &[NewImportKey],
    ) -> sqlx::Result<()> {
        for chunk in crate::insert_chunks(rows, 500) {
            let mut q = SqlBuilder::new(&format!("UPDATE {} SET import_source = ", self.table));
            let source = q.arg(source);
            let run = q.arg(run_id);
            q.push(&format!("{source}, import_run = {run}, import_hash = CASE id"));
            for k in chunk {
                let (id, hash) = (q.arg(k.record_id.as_str()), q.arg(k.content_hash.as_str()));
                q.push(&format!(" WHEN {id} THEN {hash}"));
            }
            q.push(" END, import_row = CASE id");
            for k in chunk {
                let (id, row) = (q.arg(k.record_id.as_str()), q.arg(k.row));
                q.push(&format!(" WHEN {id} THEN {row}"));
            }
            let ids = q.in_list(chunk.iter().map(|k| k.record_id.as_str()));
            q.push(&format!(" END WHERE id IN ({ids})"));
            q.build().execute(&mut *conn).await?;
        }
        Ok(())
    }
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
        let list = q.in_list(chunk.iter().map(String::as_str));
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
