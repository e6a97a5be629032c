//! `crm import` and `crm export`: CSV or JSON-lines files in and out through the import and
//! export RPCs of a gateway (or a service), streamed so that memory stays flat for any size.
//!
//! Column names are part of the documented interface (README, `scripts/fixtures/import/`).

mod client;
mod columns;
mod export;
mod import;
mod records;

pub use export::{ExportArgs, run_export};
pub use import::{ImportArgs, run_import};
