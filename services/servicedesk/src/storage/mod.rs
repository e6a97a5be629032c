//! SQL for the service-desk database, the same statements on PostgreSQL and SQLite.

pub mod calls;
pub mod cases;
pub mod customers;
pub mod kb;
pub mod notifications;
pub mod org;
pub mod sla;

/// A protobuf timestamp from microseconds since the epoch.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}
