use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::token::{Signer, Verifier};

/// The development secret used when none is configured. Fine on a laptop, never in production:
/// deployments set `CRM_JWT_SECRET` or a JWKS source.
pub const DEV_SECRET: &str = "crm-development-secret-do-not-use-in-production";

/// How tokens are verified.
#[derive(Clone, Args)]
pub struct AuthConfig {
    /// HS256 secret for tokens (the embedded default). Ignored when a JWKS source is set.
    #[arg(long = "jwt-secret", env = "CRM_JWT_SECRET", default_value = DEV_SECRET, hide_default_value = true)]
    pub jwt_secret: String,
    /// JWKS document of an identity provider (RS256), as a file path.
    #[arg(long = "jwks-file", env = "CRM_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// JWKS URL of an identity provider (RS256, http or https): fetched at start-up, hourly, and
    /// when a token names an unknown key id.
    #[arg(long = "jwks-url", env = "CRM_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// Required `iss` claim.
    #[arg(long = "jwt-issuer", env = "CRM_JWT_ISSUER")]
    pub issuer: Option<String>,
    /// Required `aud` claim.
    #[arg(long = "jwt-audience", env = "CRM_JWT_AUDIENCE")]
    pub audience: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
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

    /// Builds the verifier, reading the JWKS document when one is configured.
    pub async fn verifier(&self) -> anyhow::Result<Arc<Verifier>> {
        let verifier = if let Some(path) = &self.jwks_file {
            let doc = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Verifier::rs256_jwks(&doc)?
        } else if let Some(url) = &self.jwks_url {
            Verifier::rs256_jwks_url(url, Duration::from_secs(3600), Duration::from_secs(60)).await?
        } else {
            anyhow::ensure!(!self.jwt_secret.is_empty(), "CRM_JWT_SECRET is empty");
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
