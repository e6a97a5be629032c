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
