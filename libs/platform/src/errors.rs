//! Errors at the API edge: field violations become `INVALID_ARGUMENT` with a `BadRequest`
//! detail naming every offending field, and internal causes are logged, never sent.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt as _};

/// Problems found while validating a request, by field path.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong because of `description`.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// Records a problem when `bad` is true.
    pub fn check(&mut self, bad: bool, field: impl Into<String>, description: impl Into<String>) {
        if bad {
            self.add(field, description);
        }
    }

    /// Adds every problem of `other`, with `prefix.` before each field.
    pub fn extend_prefixed(&mut self, prefix: &str, other: Violations) {
        for (field, description) in other.0 {
            self.0.push((format!("{prefix}.{field}"), description));
        }
    }

    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded problems.
    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    /// `Ok(())` when empty, otherwise these violations as the error.
    pub fn finish(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// `Ok(())` when empty, otherwise the `INVALID_ARGUMENT` status.
    pub fn into_result(self) -> Result<(), Status> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    /// The `INVALID_ARGUMENT` status: the message lists the fields, the details carry them.
    pub fn into_status(self) -> Status {
        let message = self
            .0
            .iter()
            .map(|(field, description)| format!("{field}: {description}"))
            .collect::<Vec<_>>()
            .join("; ");
        let violations: Vec<FieldViolation> = self
            .0
            .into_iter()
            .map(|(field, description)| FieldViolation::new(field, description))
            .collect();
        Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid request: {message}"),
            ErrorDetails::with_bad_request(violations),
        )
    }
}

impl From<Vec<(String, String)>> for Violations {
    fn from(v: Vec<(String, String)>) -> Self {
        Self(v)
    }
}

/// `INTERNAL` for an unexpected failure: the cause is logged with its chain, the client gets a
/// generic message.
pub fn internal(err: impl Into<anyhow::Error>) -> Status {
    let err = err.into();
    tracing::error!(error = ?err, "internal error");
    Status::internal("internal error")
}

/// The fields named in a `BadRequest` detail of `status` (for clients and tests).
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// What can go wrong in a service call; every service maps it to gRPC codes the same way.
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
    /// A service this call depends on cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The client ended or broke its request stream.
    #[error("{0}")]
    Cancelled(String),
    /// Anything unexpected (database failure...). Logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Error {
    /// A database failure that may pass (see [`crm_storage::errors`]) is `UNAVAILABLE`, so that
    /// the client tries again; any other is internal.
    fn from(err: sqlx::Error) -> Self {
        if crm_storage::errors::is_transient(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Error::Unavailable(DATABASE_UNAVAILABLE.into());
        }
        if crm_storage::errors::is_bad_value(&err) {
            return bad_value(&err);
        }
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
            Error::Unavailable(msg) => Status::unavailable(msg),
            Error::Cancelled(msg) => Status::cancelled(msg),
            Error::Internal(err) => {
                // A transient database failure met on the way (through an `anyhow` chain).
                let db = err.chain().find_map(|c| c.downcast_ref::<sqlx::Error>());
                if db.is_some_and(crm_storage::errors::is_transient) {
                    tracing::warn!(error = %err, "database unavailable");
                    return Status::unavailable(DATABASE_UNAVAILABLE);
                }
                if let Some(db) = db.filter(|db| crm_storage::errors::is_bad_value(db)) {
                    return bad_value(db).into();
                }
                internal(err)
            }
        }
    }
}

/// INVALID_ARGUMENT for a value the database refused; which field held it is not known here,
/// so the violation names the request.
fn bad_value(err: &sqlx::Error) -> Error {
    let reason = match err {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    tracing::info!(error = %reason, "a value the database cannot store");
    invalid(
        "request",
        &format!("holds a value the database cannot store ({reason})"),
    )
}

/// What a caller is told when the database failed in a way that may pass.
const DATABASE_UNAVAILABLE: &str = "the database is unavailable or busy; try again";

/// Result of a service operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A single-field `INVALID_ARGUMENT`.
pub fn invalid(field: &str, description: &str) -> Error {
    let mut v = Violations::new();
    v.add(field, description);
    Error::Invalid(v)
}

/// The stored version an etag names; a missing (when `required`) or malformed etag is a
/// violation of `field`.
pub fn etag_version(etag: &str, field: &str, required: bool, v: &mut Violations) -> Option<i64> {
    if etag.is_empty() {
        v.check(required, field, "required (the etag of the version you read)");
        return None;
    }
    let parsed = etag.trim_matches('"').parse().ok();
    v.check(parsed.is_none(), field, "not an etag returned by this service");
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_failure_that_may_pass_is_unavailable() {
        let direct: Status = Error::from(sqlx::Error::PoolTimedOut).into();
        assert_eq!(direct.code(), tonic::Code::Unavailable);
        let wrapped =
            anyhow::Error::from(sqlx::Error::Io(std::io::Error::other("reset"))).context("saving a party");
        let through_anyhow: Status = Error::Internal(wrapped).into();
        assert_eq!(through_anyhow.code(), tonic::Code::Unavailable);
        assert!(!through_anyhow.message().contains("reset"), "no internals shown");
        let other: Status = Error::from(sqlx::Error::RowNotFound).into();
        assert_eq!(other.code(), tonic::Code::Internal);
    }
}
