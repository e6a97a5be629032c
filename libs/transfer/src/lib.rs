//! Records in and out of the suite in files: CSV (with a header row) or JSON lines, the
//! documented columns of each importable entity, and the streaming of rows to the services'
//! import RPCs. `crm import` reads a file with it; the gateway reads an upload from the console.
//!
//! - `records`: reading rows as named fields, and rows of a file by line.
//! - `columns`: each entity's columns, a row into its import message, a refused field back into
//!   its column.
//! - `import`: rows sent in batches to an import stream, with what was refused and why.
//!
//! Column names are part of the documented interface (README, `scripts/fixtures/import/`).

pub mod columns;
pub mod import;
pub mod records;

pub use columns::{ImportEntity, Owner, Problem};
pub use import::{Authed, Batches, Bearer, LocalRejection, Sent, reason_text, send};
pub use records::{Format, Reader, Record, Source};
