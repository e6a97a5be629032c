//! The service's errors and their gRPC status codes.

use crm_platform::Violations;
use tonic::Status;

/// What can go wrong in a customers call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named record does not exist (or the caller may not know it does).
    #[error("{0} not found")]
    NotFound(String),
    /// A record with the same unique key exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The request is malformed; every offending field is listed.
    #[error("invalid request")]
    Invalid(Violations),
    /// The etag does not match the stored version: someone else changed the record.
    #[error("stale etag for {0}: the record was changed since it was read")]
    Stale(String),
    /// The record is not in a state that allows the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Record rules forbid the operation.
    #[error("{0}")]
    PermissionDenied(String),
    /// Anything unexpected (database failure...). Logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        Error::Internal(err.into())
    }
}

impl From<Violations> for Error {
    fn from(v: Violations) -> Self {
        Error::Invalid(v)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::AlreadyExists(what) => Status::already_exists(format!("{what} already exists")),
            Error::Invalid(violations) => violations.into_status(),
            err @ Error::Stale(_) => Status::failed_precondition(err.to_string()),
            Error::FailedPrecondition(msg) => Status::failed_precondition(msg),
            Error::PermissionDenied(msg) => Status::permission_denied(msg),
            Error::Internal(err) => crm_platform::errors::internal(err),
        }
    }
}

/// Result of a service operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A single-field `INVALID_ARGUMENT`.
pub fn invalid(field: &str, description: &str) -> Error {
    let mut v = Violations::new();
    v.add(field, description);
    Error::Invalid(v)
}
