//! The time a composed view may spend: the caller's deadline (the `grpc-timeout` header) less a
//! margin for assembling and sending the answer, never more than the gateway's own limit.

use std::time::Duration;

/// Kept back from the caller's deadline for composing and returning the answer.
const MARGIN: Duration = Duration::from_millis(100);

/// Parses a `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The budget of the section calls, given the caller's timeout (if any) and the gateway's limit.
pub fn budget(caller: Option<Duration>, limit: Duration) -> Duration {
    match caller {
        Some(timeout) => timeout.saturating_sub(MARGIN.min(timeout / 10)).min(limit),
        None => limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_in_every_unit() {
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1500m"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("250u"), Some(Duration::from_micros(250)));
        assert_eq!(parse_grpc_timeout("99n"), Some(Duration::from_nanos(99)));
        for bad in ["", "S", "12", "123456789S", "-1S", "1s", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_budget_keeps_a_margin_and_the_gateways_limit() {
        let limit = Duration::from_secs(5);
        assert_eq!(budget(None, limit), limit);
        assert_eq!(budget(Some(Duration::from_secs(60)), limit), limit);
        assert_eq!(
            budget(Some(Duration::from_secs(2)), limit),
            Duration::from_millis(1900)
        );
        // A short deadline keeps a tenth back, not the whole margin.
        assert_eq!(
            budget(Some(Duration::from_millis(500)), limit),
            Duration::from_millis(450)
        );
    }
}
