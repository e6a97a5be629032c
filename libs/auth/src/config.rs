use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crm_tls::{HttpClient, HttpLimits};

use crate::jwks::JwksSource;
use crate::token::{Signer, Verifier};

/// The development secret used when none is configured. Fine on a laptop, never in production:
/// deployments set `CRM_JWT_SECRET` or a JWKS source.
pub const DEV_SECRET: &str = "crm-development-secret-do-not-use-in-production";

/// The shortest HS256 secret accepted: 32 bytes, the size of the SHA-256 output (RFC 7518 3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// How tokens are verified.
#[derive(Clone, Args)]
pub struct AuthConfig {
    /// HS256 secret for tokens (the embedded default). Ignored when a JWKS source is set.
    #[arg(long = "jwt-secret", env = "CRM_JWT_SECRET", default_value = DEV_SECRET, hide_default_value = true)]
    pub jwt_secret: String,
    /// JWKS document of an identity provider (RS256), as a file path.
    #[arg(long = "jwks-file", env = "CRM_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// JWKS URL of an identity provider (RS256, https): fetched at start-up, hourly, and when a
    /// token names an unknown key id.
    #[arg(long = "jwks-url", env = "CRM_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// Further certificate authorities (PEM) trusted for the JWKS URL, besides the system's.
    #[arg(long = "jwks-ca-file", env = "CRM_JWKS_CA_FILE")]
    pub jwks_ca_file: Option<std::path::PathBuf>,
    /// Allows a plain `http://` JWKS URL (a provider inside the same pod or host only: keys
    /// fetched in the clear can be replaced on the way).
    #[arg(long = "jwks-allow-http", env = "CRM_JWKS_ALLOW_HTTP")]
    pub jwks_allow_http: bool,
    /// Required `iss` claim.
    #[arg(long = "jwt-issuer", env = "CRM_JWT_ISSUER")]
    pub issuer: Option<String>,
    /// Required `aud` claim (a token's `aud` may be this name or an array holding it). Required
    /// with a JWKS source: an identity provider signs tokens for many applications.
    #[arg(long = "jwt-audience", env = "CRM_JWT_AUDIENCE")]
    pub audience: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field("jwks_ca_file", &self.jwks_ca_file)
            .field("jwks_allow_http", &self.jwks_allow_http)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: DEV_SECRET.into(),
            jwks_file: None,
            jwks_url: None,
            jwks_ca_file: None,
            jwks_allow_http: false,
            issuer: None,
            audience: None,
        }
    }
}

impl AuthConfig {
    /// An HS256 configuration with `secret`.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        Self {
            jwt_secret: secret.into(),
            ..Self::default()
        }
    }

    /// Whether tokens are verified with a key of the deployment's own: a JWKS source, or an HS256
    /// secret of at least [`MIN_SECRET_BYTES`] other than the public development one. `crm serve`
    /// refuses to start otherwise: anyone can mint an admin token with the development secret.
    pub fn require_deployment_key(&self) -> anyhow::Result<()> {
        if self.uses_jwks() {
            return self.check_audience();
        }
        anyhow::ensure!(
            self.jwt_secret != DEV_SECRET,
            "no token key configured: set CRM_JWT_SECRET (--jwt-secret, at least {MIN_SECRET_BYTES} bytes) \
             or a JWKS source (--jwks-url, --jwks-file); the built-in development secret is public and is \
             only for `crm up`"
        );
        self.check_secret_length()
    }

    /// Whether tokens are signed with the public development secret (`crm up`): anybody can
    /// mint any token, so a development sign-in that mints them gives nothing away.
    pub fn is_development(&self) -> bool {
        !self.uses_jwks() && self.jwt_secret == DEV_SECRET
    }

    fn uses_jwks(&self) -> bool {
        self.jwks_file.is_some() || self.jwks_url.is_some()
    }

    /// An identity provider signs tokens for every application it serves; without an audience
    /// the suite would accept a token issued for any of them.
    fn check_audience(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.audience.as_deref().is_some_and(|a| !a.trim().is_empty()),
            "a JWKS source needs the audience the suite's tokens carry: set CRM_JWT_AUDIENCE \
             (--jwt-audience), or the tokens the identity provider issues for any other \
             application are accepted too"
        );
        Ok(())
    }

    fn check_secret_length(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.jwt_secret.len() >= MIN_SECRET_BYTES,
            "CRM_JWT_SECRET has {} bytes: an HS256 key needs at least {MIN_SECRET_BYTES} (as many as \
             the hash's output), or it can be guessed",
            self.jwt_secret.len()
        );
        Ok(())
    }

    /// Builds the verifier, reading the JWKS document when one is configured.
    pub async fn verifier(&self) -> anyhow::Result<Arc<Verifier>> {
        if self.uses_jwks() {
            self.check_audience()?;
        }
        let verifier = if let Some(path) = &self.jwks_file {
            let doc = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Verifier::rs256_jwks(&doc)?
        } else if let Some(url) = &self.jwks_url {
            let client = HttpClient::new(
                self.jwks_ca_file.as_deref(),
                self.jwks_allow_http,
                HttpLimits {
                    // Providers publish a handful of keys; a larger answer is not a key set.
                    max_body_bytes: 256 * 1024,
                    ..HttpLimits::default()
                },
            )?;
            let source = JwksSource {
                url: url.clone(),
                client,
            };
            Verifier::rs256_jwks_url(source, Duration::from_secs(3600), Duration::from_secs(60))
                .await
                .with_context(|| format!("fetching the JWKS keys from {url}"))?
        } else {
            self.check_secret_length()?;
            Verifier::hs256(self.jwt_secret.as_bytes())
        };
        Ok(Arc::new(
            verifier
                .with_issuer(self.issuer.clone())
                .with_audience(self.audience.clone()),
        ))
    }

    /// A signer for development tokens with the configured HS256 secret.
    pub fn signer(&self) -> Signer {
        Signer::hs256(self.jwt_secret.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_deployment_needs_a_key_of_its_own() {
        let err = AuthConfig::default().require_deployment_key().unwrap_err();
        assert!(err.to_string().contains("CRM_JWT_SECRET"), "{err}");
        AuthConfig::with_secret("x".repeat(MIN_SECRET_BYTES))
            .require_deployment_key()
            .unwrap();
        let mut jwks = AuthConfig {
            jwks_url: Some("https://login.example.com/jwks.json".into()),
            ..AuthConfig::default()
        };
        let err = jwks.require_deployment_key().unwrap_err();
        assert!(err.to_string().contains("CRM_JWT_AUDIENCE"), "{err}");
        jwks.audience = Some("crm".into());
        jwks.require_deployment_key().unwrap();
    }

    #[tokio::test]
    async fn a_short_secret_is_refused() {
        let err = AuthConfig::with_secret("e2e-secret")
            .verifier()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
        AuthConfig::with_secret("x".repeat(MIN_SECRET_BYTES))
            .verifier()
            .await
            .unwrap();
    }
}
