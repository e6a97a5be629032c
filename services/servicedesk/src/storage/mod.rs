//! SQL for the service-desk database, the same statements on PostgreSQL and SQLite.

pub mod assets;
pub mod calls;
pub mod cases;
pub mod consents;
pub mod customers;
pub mod kb;
pub mod notifications;
pub mod org;
pub mod sla;
pub mod tiers;
pub mod watches;

pub use crm_platform::time::timestamp;
