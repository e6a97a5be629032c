//! SQL for the customers database, the same statements on PostgreSQL and SQLite. Functions take
//! the connection (or transaction) they run in.

pub mod analysis;
pub mod audit;
pub mod competitors;
pub mod duplicates;
pub mod name_search;
pub mod orders;
pub mod parties;
pub mod rankings;
pub mod regions;
pub mod relationships;
pub mod requests;
pub mod settings;

pub use crm_platform::time::{micros as micros_of, new_id, now_micros, timestamp};
