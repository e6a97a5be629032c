//! `crm import` and `crm export`: CSV or JSON-lines files in and out through the import and
//! export RPCs of a gateway (or a service), streamed so that memory stays flat for any size.
//!
//! The formats, the columns and the streaming of rows are `crm-transfer`'s, which the gateway
//! shares for uploads from the console.

mod client;
mod export;
mod import;

pub use export::{ExportArgs, run_export};
pub use import::{ImportArgs, run_import};
