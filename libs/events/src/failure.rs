//! Why applying an event failed: for a reason that may pass by itself (the database unreachable
//! or restarting, the pool exhausted, a lock conflict, a timeout), after which the consumer
//! pauses and tries again for as long as it takes; or for a reason in the event (it cannot be
//! decoded, a rule rejects it, the handler panicked), which counts toward dead-lettering.

use std::any::Any;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// May pass by itself: retried without counting.
    Retryable,
    /// Says something about the event: counted, and the event parked after the last attempt.
    Permanent,
}

/// A handler that panicked, as an error (the panic is contained to its event).
#[derive(Debug)]
pub struct Panicked(pub String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the handler panicked: {}", self.0)
    }
}

impl std::error::Error for Panicked {}

impl Panicked {
    /// The error for the payload of a caught panic.
    pub fn from_payload(payload: Box<dyn Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Self(message)
    }
}

/// A transaction could not be begun: whatever the database said, the event was not at fault.
#[derive(Debug, Clone, Copy)]
pub struct Unreachable;

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the database could not begin a transaction")
    }
}

/// Classifies `err` by the first cause in its chain that tells.
pub fn classify(err: &anyhow::Error) -> Failure {
    if err.downcast_ref::<Unreachable>().is_some() {
        return Failure::Retryable;
    }
    for cause in err.chain() {
        if cause.is::<Panicked>() {
            return Failure::Permanent;
        }
        if let Some(err) = cause.downcast_ref::<sqlx::Error>() {
            return if crm_storage::errors::is_transient(err) {
                Failure::Retryable
            } else {
                Failure::Permanent
            };
        }
        if cause.is::<std::io::Error>() || cause.is::<tokio::time::error::Elapsed>() {
            return Failure::Retryable;
        }
    }
    Failure::Permanent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_and_conflicts_are_retryable() {
        for err in [
            anyhow::Error::from(sqlx::Error::PoolTimedOut),
            anyhow::Error::from(sqlx::Error::Io(std::io::Error::other("connection reset"))),
            anyhow::Error::from(sqlx::Error::PoolClosed).context("applying an order"),
        ] {
            assert_eq!(classify(&err), Failure::Retryable, "{err:#}");
        }
        for code in [
            "08006", "40001", "40P01", "53300", "57P01", "57014", "55P03", "5", "517", "6", "262",
        ] {
            assert!(crm_storage::errors::is_transient_code(code), "{code}");
        }
    }

    #[test]
    fn a_transaction_that_cannot_begin_is_retryable_whatever_the_code() {
        // PostgreSQL refuses connections to a database that does not allow them with 55000,
        // which elsewhere would be the statement's fault.
        let refused = anyhow::Error::from(sqlx::Error::Protocol(
            "database is not accepting connections".into(),
        ))
        .context(Unreachable);
        assert_eq!(classify(&refused), Failure::Retryable);
        let any = anyhow::anyhow!("whatever the driver said").context(Unreachable);
        assert_eq!(classify(&any), Failure::Retryable);
    }

    #[test]
    fn the_event_s_own_failures_are_permanent() {
        for err in [
            anyhow::anyhow!("an order without a party"),
            anyhow::Error::from(sqlx::Error::RowNotFound),
            anyhow::Error::from(Panicked("index out of bounds".into())),
            // A length-delimited field announcing five bytes that are not there.
            anyhow::Error::from(<String as prost::Message>::decode(&[0x0a, 0x05][..]).unwrap_err()),
        ] {
            assert_eq!(classify(&err), Failure::Permanent, "{err:#}");
        }
        for code in ["23505", "23503", "22P02", "42P01", "1555", "19", "2067"] {
            assert!(!crm_storage::errors::is_transient_code(code), "{code}");
        }
    }

    #[test]
    fn a_panic_s_message_is_kept() {
        let payload = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(
            Panicked::from_payload(payload).to_string(),
            "the handler panicked: boom 7"
        );
    }
}
