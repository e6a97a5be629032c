//! SQL for the marketing database, the same statements on PostgreSQL and SQLite.

pub mod affinity;
pub mod audience;
pub mod campaigns;
pub mod consent;
pub mod figures;
pub mod fit_jobs;
pub mod models;
pub mod profiles;
pub mod rfm;
pub mod segments;
pub mod selections;

pub use crm_platform::time::{now_micros, timestamp};
