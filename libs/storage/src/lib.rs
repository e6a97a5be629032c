//! Storage shared by every service: a database chosen by URL (`postgres://...` or `sqlite:...`),
//! migrations embedded per backend, and transactions that behave the same on both backends.
//!
//! Queries are written once against sqlx's `Any` driver with `$1`-style placeholders, which both
//! PostgreSQL and SQLite accept. Column types are limited to what both backends share: `BIGINT`
//! integers, `TEXT` (ids, JSON, RFC 3339 dates) and `DOUBLE PRECISION`/`REAL`. Timestamps are stored
//! as microseconds since the Unix epoch in `BIGINT` columns.

mod config;
pub mod copies;
mod db;
pub mod errors;
pub mod imports;
pub mod schema;
mod sql;
pub mod statistics;
mod warm;

pub use config::DatabaseConfig;
pub use db::{Backend, Db, Migrations, Tx, is_unique_violation};
pub use schema::Migrating;
pub use sql::{Arg, SqlBuilder, Statement, escape_like, insert_chunks, last_per_key};
pub use warm::{RECHECK_AFTER, ReadConn};

/// A connection of either backend (a transaction or a pooled connection dereferences to it).
pub type Conn = sqlx::AnyConnection;
pub use sqlx;
