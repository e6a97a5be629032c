//! SQL for the partners database, the same statements on PostgreSQL and SQLite.

pub mod catalog;
pub mod partners;
pub mod performance;
pub mod portal;
pub mod sales;
pub mod scorecards;
pub mod targets;

pub use crm_platform::time::{now_micros, timestamp};
