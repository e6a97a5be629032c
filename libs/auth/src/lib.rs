//! Authentication and authorization shared by every service.
//!
//! - [`Verifier`] checks bearer JWTs: HS256 with a configured secret (the embedded default) or
//!   RS256 with keys from a JWKS document (file or URL).
//! - [`Principal`] is the caller as handlers see it: user id, roles, team, territories, partner
//!   id and customer id.
//! - [`Policy`] is the one place where a service declares which roles may call which RPC;
//!   [`AuthLayer`] enforces it on every request before a handler runs and hands the principal to
//!   the handler through the request extensions.
//! - [`RecordScope`] and [`Principal::may_see`] are the record rules (owner, team, territory,
//!   partner, own customer record) a service applies to the rows it returns or changes.

mod config;
mod jwks;
mod layer;
mod policy;
mod principal;
mod token;

pub use config::AuthConfig;
pub use jwks::JwksSource;
pub use layer::{AuthLayer, AuthService};
pub use policy::{Access, Policy};
pub use principal::{Principal, RecordScope, Role};
pub use token::{Audience, AuthError, CLOCK_LEEWAY_SECS, Claims, Signer, Verifier};

/// The principal of a request, or `UNAUTHENTICATED` when the auth layer did not set one.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated("no authenticated principal"))
}
