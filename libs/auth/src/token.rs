use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::jwks::KeyStore;
use crate::principal::{Principal, Role};

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `authorization: Bearer ...` metadata.
    #[error("missing bearer token")]
    Missing,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// Signature, algorithm, issuer, audience or shape is wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl From<AuthError> for tonic::Status {
    fn from(err: AuthError) -> Self {
        tonic::Status::unauthenticated(err.to_string())
    }
}

/// The claims of a crm token.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: u64,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Role names (see [`Role`]). Unknown names are ignored.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Team id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Territories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub territories: Vec<String>,
    /// Partner id, for partner users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// Customer (party) id, for customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
}

impl Claims {
    /// Claims for `user` with `roles`, valid for `ttl` from now.
    pub fn new(user: impl Into<String>, roles: &[Role], ttl: Duration) -> Self {
        let now = now_secs();
        Self {
            sub: user.into(),
            iat: now,
            exp: now + ttl.as_secs(),
            roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
            ..Default::default()
        }
    }

    fn into_principal(self) -> Principal {
        Principal {
            user_id: self.sub,
            roles: self.roles.iter().filter_map(|r| r.parse().ok()).collect(),
            team_id: self.team.filter(|s| !s.is_empty()),
            territories: self.territories,
            partner_id: self.partner_id.filter(|s| !s.is_empty()),
            customer_id: self.customer_id.filter(|s| !s.is_empty()),
            bearer: None,
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

enum Keys {
    Hs256(DecodingKey),
    /// RS256 keys by key id.
    Rs256(Arc<KeyStore>),
}

/// Verifies bearer tokens and turns them into principals.
pub struct Verifier {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            Keys::Hs256(_) => "hs256".to_string(),
            Keys::Rs256(store) => format!("rs256 ({} keys)", store.len()),
        };
        f.debug_struct("Verifier")
            .field("keys", &keys)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl Verifier {
    /// A verifier for HS256 tokens signed with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            keys: Keys::Hs256(DecodingKey::from_secret(secret)),
            issuer: None,
            audience: None,
        }
    }

    /// A verifier for RS256 tokens signed by one of the keys of a JWKS document.
    pub fn rs256_jwks(jwks_json: &str) -> anyhow::Result<Self> {
        Ok(Self {
            keys: Keys::Rs256(Arc::new(KeyStore::new(jwks_json, None)?)),
            issuer: None,
            audience: None,
        })
    }

    /// A verifier for RS256 tokens whose keys are fetched from `url` (HTTP or HTTPS), and
    /// fetched again when a token names an unknown key id (at most once per `min_refetch`) or
    /// when they are older than `refresh_interval`.
    pub async fn rs256_jwks_url(
        url: &str,
        refresh_interval: Duration,
        min_refetch: Duration,
    ) -> anyhow::Result<Self> {
        let doc = crate::jwks::fetch(url).await?;
        let store = KeyStore::new(&doc, Some(url.to_string()))?.with_intervals(refresh_interval, min_refetch);
        Ok(Self {
            keys: Keys::Rs256(Arc::new(store)),
            issuer: None,
            audience: None,
        })
    }

    /// Requires the `iss` claim to equal `issuer`.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer.filter(|s| !s.is_empty());
        self
    }

    /// Requires the `aud` claim to equal `audience`.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.audience = audience.filter(|s| !s.is_empty());
        self
    }

    /// Verifies `token` and returns its principal.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let rs_key;
        let (key, algorithm) = match &self.keys {
            Keys::Hs256(key) => (key, Algorithm::HS256),
            Keys::Rs256(store) => {
                let kid = header.kid.clone().unwrap_or_default();
                rs_key = store
                    .key(&kid)
                    .ok_or_else(|| AuthError::Invalid(format!("unknown key id {kid:?}")))?;
                (&rs_key, Algorithm::RS256)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
        }
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid(e.to_string()),
        })?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::Invalid("empty subject".into()));
        }
        Ok(data.claims.into_principal())
    }
}

/// Mints HS256 tokens: development tokens (`crm token`) and tests.
#[derive(Clone)]
pub struct Signer {
    key: EncodingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(hs256)")
    }
}

impl Signer {
    /// A signer for HS256 with `secret`.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: EncodingKey::from_secret(secret),
        }
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.key,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_round_trip_and_failures() {
        let signer = Signer::hs256(b"secret");
        let verifier = Verifier::hs256(b"secret");
        let mut claims = Claims::new("alice", &[Role::SalesRep], Duration::from_secs(60));
        claims.team = Some("north".into());
        let principal = verifier.verify(&signer.sign(&claims).unwrap()).unwrap();
        assert_eq!(principal.user_id, "alice");
        assert_eq!(principal.roles, vec![Role::SalesRep]);
        assert_eq!(principal.team_id.as_deref(), Some("north"));

        let forged = Signer::hs256(b"other").sign(&claims).unwrap();
        assert!(matches!(verifier.verify(&forged), Err(AuthError::Invalid(_))));

        claims.exp = now_secs() - 3600;
        let expired = signer.sign(&claims).unwrap();
        assert!(matches!(verifier.verify(&expired), Err(AuthError::Expired)));
        assert!(matches!(verifier.verify("garbage"), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn issuer_is_checked_when_configured() {
        let signer = Signer::hs256(b"k");
        let mut claims = Claims::new("bob", &[Role::Admin], Duration::from_secs(60));
        claims.iss = Some("someone-else".into());
        let verifier = Verifier::hs256(b"k").with_issuer(Some("crm".into()));
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_err());
        claims.iss = Some("crm".into());
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_ok());
    }
}
