//! The service's errors: the shared service error, mapped to gRPC codes at the edge.

pub use crm_platform::errors::{Error, Result, invalid};
