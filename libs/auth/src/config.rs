use std::sync::Arc;

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
    /// JWKS document of an identity provider (RS256), as an http:// URL fetched at start-up.
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
            Verifier::rs256_jwks(&crate::config::fetch_http(url).await?)?
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

/// Fetches a document over plain HTTP/1.1 (in-cluster identity providers; TLS-terminating
/// providers are configured with a JWKS file mounted from a secret).
async fn fetch_http(url: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .context("only http:// JWKS URLs are supported; use --jwks-file for others")?;
    let (authority, path) = rest
        .split_once('/')
        .map(|(a, p)| (a, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await??;
    let response = String::from_utf8(response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "JWKS fetch failed: {}",
        head.lines().next().unwrap_or("")
    );
    anyhow::ensure!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "chunked JWKS responses are not supported"
    );
    Ok(body.to_string())
}
