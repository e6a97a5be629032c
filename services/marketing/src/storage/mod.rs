//! SQL for the marketing database, the same statements on PostgreSQL and SQLite.

pub mod campaigns;
pub mod consent;
pub mod models;
pub mod profiles;
pub mod segments;

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A protobuf timestamp from microseconds since the epoch.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}
