use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use crate::policy::{Access, Policy};
use crate::token::{AuthError, Verifier};

/// Tower layer that authenticates every request and enforces a [`Policy`] before the handler
/// runs. The principal is put in the request extensions, where [`crate::principal`] finds it.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
    policy: Arc<Policy>,
}

impl AuthLayer {
    /// A layer verifying with `verifier` and authorizing with `policy`.
    pub fn new(verifier: Arc<Verifier>, policy: Policy) -> Self {
        Self {
            verifier,
            policy: Arc::new(policy),
        }
    }

    /// The policy this layer enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            policy: self.policy.clone(),
        }
    }
}

/// The service produced by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    policy: Arc<Policy>,
}

impl<S, B, ResBody> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<S::Future, std::future::Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        use futures_util::future::Either;
        match self.authorize(&request) {
            Ok(Some(principal)) => {
                // The server's span for this call declares the field; the access log shows it.
                tracing::Span::current().record("enduser.id", principal.user_id.as_str());
                request.extensions_mut().insert(principal);
                Either::Left(self.inner.call(request))
            }
            Ok(None) => Either::Left(self.inner.call(request)),
            Err((status, principal)) => {
                let mut response = status.into_http();
                // Who was refused, for the call record kept outside this layer (without the
                // token).
                if let Some(mut principal) = principal {
                    principal.bearer = None;
                    response.extensions_mut().insert(principal);
                }
                Either::Right(std::future::ready(Ok(response)))
            }
        }
    }
}

/// A refusal, and the caller when the token was good but the policy said no.
type Refusal = (tonic::Status, Option<crate::Principal>);

impl<S> AuthService<S> {
    fn authorize<B>(&self, request: &http::Request<B>) -> Result<Option<crate::Principal>, Refusal> {
        let path = request.uri().path();
        let access = self.policy.access(path);
        if matches!(access, Some(Access::Public)) {
            return Ok(None);
        }
        let token = bearer(request.headers()).ok_or((AuthError::Missing.into(), None))?;
        let mut principal = self.verifier.verify(token).map_err(|e| (e.into(), None))?;
        if !self.policy.allows(path, &principal) {
            tracing::info!(user = %principal.user_id, path, "permission denied");
            let status =
                tonic::Status::permission_denied(format!("{} may not call {path}", principal.user_id));
            return Err((status, Some(principal)));
        }
        principal.bearer = Some(token.to_string());
        Ok(Some(principal))
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
