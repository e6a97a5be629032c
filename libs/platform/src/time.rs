//! Times and ids as every service stores them: microseconds since the Unix epoch in the
//! database, `google.protobuf.Timestamp` on the wire, UUIDv7 strings for new records.

/// Microseconds since the Unix epoch, now (wall clock; [`crate::clock::Clock`] where a test
/// must drive time).
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

/// Microseconds since the epoch of a protobuf timestamp (saturating: a timestamp past what
/// microseconds can hold is the last one they can).
pub fn micros(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos) / 1000)
}

/// The UTC date and time of microseconds since the epoch (the epoch itself for one out of
/// range).
pub fn naive_utc(micros: i64) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .naive_utc()
}

/// A new UUIDv7 id (time-ordered, so new rows land at the end of their index).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_and_timestamps_round_trip_before_and_after_the_epoch() {
        for m in [0, 1, 999_999, 1_000_000, 1_796_000_000_123_456, -1, -1_500_000] {
            assert_eq!(micros(&timestamp(m)), m, "{m}");
        }
        assert_eq!(
            timestamp(-1),
            prost_types::Timestamp {
                seconds: -1,
                nanos: 999_999_000
            }
        );
        let far = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(micros(&far), i64::MAX);
    }

    #[test]
    fn new_ids_are_uuid_v7_in_order() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 7);
        assert!(a < b);
    }
}
