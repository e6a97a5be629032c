//! SQL for the service-desk database, the same statements on PostgreSQL and SQLite.

pub mod calls;
pub mod cases;
pub mod customers;
pub mod kb;
pub mod notifications;
pub mod org;
pub mod sla;
pub mod tiers;

pub use crm_platform::time::timestamp;
