//! Read copies of another service's records, kept from its events.
//!
//! Events about one record can arrive out of order: a retried event is overtaken by later ones,
//! and replicas of a service share one durable consumer. A copy therefore takes an event's state
//! only when it is newer than the state it holds, and a record erased or merged away stays so
//! whatever arrives after: its row is a tombstone (status `erased` or `merged`), written even
//! when the copy never saw the record, so that a late creation cannot bring it back.

use crate::{Arg, Conn, SqlBuilder};

/// Locks each of `party_ids` under `scope` until the transaction ends (PostgreSQL advisory
/// locks, taken in key order so that two holders of several cannot wait for each other; SQLite
/// has one writer at a time). Two consumers writing about one party from different streams (an
/// erasure and an order of the erased customer) take turns: otherwise each can miss what the
/// other has written but not yet committed, and the order's rows outlive the erasure. The lock
/// holds whether or not the copy has a row for the party yet.
pub async fn lock_parties(conn: &mut Conn, scope: &str, party_ids: &[&str]) -> sqlx::Result<()> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    let mut keys: Vec<String> = party_ids.iter().map(|id| format!("{scope}:{id}")).collect();
    keys.sort();
    keys.dedup();
    for chunk in keys.chunks(500) {
        let mut q = SqlBuilder::new(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (SELECT column1 AS k FROM (VALUES ",
        );
        q.rows(chunk.iter().map(|k| [Arg::from(k.as_str())]))
            .push(") AS v ORDER BY column1) AS keys");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The condition of an `INSERT INTO {table} ... ON CONFLICT (...) DO UPDATE SET ...` that keeps
/// `{table}` a copy by version: the incoming row replaces the stored one only while the stored
/// record is active and older. `{table}` has `status` and `version` columns.
pub fn newer_than_stored(table: &str) -> String {
    format!(" WHERE {table}.status = 'active' AND {table}.version < excluded.version")
}

/// Makes the copy of `party_id` in `table` (keyed by `party_id`) a tombstone: `status` is
/// `merged` or `erased`, and `blank` is more `, column = value` settings applied to a stored row
/// (an erasure blanks the personal data). The row is inserted when the copy never saw the party,
/// an erased party stays erased, and the version only rises.
pub async fn tombstone(
    conn: &mut Conn,
    table: &str,
    party_id: &str,
    status: &str,
    version: i64,
    blank: &str,
) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (party_id, status, version) VALUES ($1, $2, $3) \
         ON CONFLICT (party_id) DO UPDATE SET status = CASE WHEN {table}.status = 'erased' THEN 'erased' ELSE excluded.status END, \
         version = CASE WHEN {table}.version > excluded.version THEN {table}.version ELSE excluded.version END{blank}"
    )))
    .bind(party_id)
    .bind(status)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conditions_name_their_table() {
        assert_eq!(
            newer_than_stored("accounts"),
            " WHERE accounts.status = 'active' AND accounts.version < excluded.version"
        );
    }
}
