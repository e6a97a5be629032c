//! Planner statistics kept current while a bulk load grows a table.
//!
//! PostgreSQL plans a prepared statement once for all parameters (a generic plan) after a few
//! runs, from the statistics of that moment. A statement first run against a nearly empty table
//! keeps a plan made for an empty table (a sequential scan) until the table is analysed again;
//! autovacuum does that eventually, but is often busy with the same load, or turned off, and a
//! lookup of 500 import keys then reads the whole table on every batch. SQLite's planner uses
//! its indexes without statistics.

use crate::Conn;

/// Least number of rows changed since the last analysis before a table is analysed again.
const MIN_CHANGES: f64 = 1000.0;

/// Analyses `table` (PostgreSQL) when more rows changed since its last analysis than it had
/// then (and at least [`MIN_CHANGES`]): a load of n rows analyses it about log2(n) times. Returns
/// whether it did. `table` is a name from the code, never from input.
pub async fn analyze_if_grown(conn: &mut Conn, table: &'static str) -> sqlx::Result<bool> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok(false);
    }
    let row: Option<(i64, f64)> = sqlx::query_as(
        "SELECT s.n_mod_since_analyze, CAST(c.reltuples AS DOUBLE PRECISION) FROM pg_stat_user_tables s \
         JOIN pg_class c ON c.oid = s.relid WHERE s.relname = $1",
    )
    .bind(table)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((changed, rows)) = row else {
        return Ok(false);
    };
    let changed = changed as f64;
    if changed < MIN_CHANGES.max(rows) {
        return Ok(false);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
        .execute(&mut *conn)
        .await?;
    Ok(true)
}
