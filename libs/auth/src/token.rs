use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::jwks::{JwksSource, KeyStore};
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
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience: one name or several (RFC 7519 4.1.3; identity providers send either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
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

/// The `aud` claim, a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
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
            // An empty territory is no territory: it must not match records without one.
            territories: self
                .territories
                .into_iter()
                .filter(|t| !t.trim().is_empty())
                .collect(),
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

/// How far the clocks of a token's issuer and the suite may disagree, for `exp` and `nbf`.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

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
            .field("audience", &self.audience)
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

    /// A verifier for RS256 tokens whose keys are fetched from `source`, and fetched again when
    /// a token names an unknown key id (at most once per `min_refetch`) or when they are older
    /// than `refresh_interval`.
    pub async fn rs256_jwks_url(
        source: JwksSource,
        refresh_interval: Duration,
        min_refetch: Duration,
    ) -> anyhow::Result<Self> {
        let doc = source.fetch().await?;
        let store = KeyStore::new(&doc, Some(source))?.with_intervals(refresh_interval, min_refetch);
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

    /// Requires the `aud` claim to be, or to contain, `audience`.
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
        // Clocks of the identity provider and the suite may differ by a few seconds.
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation.validate_nbf = true;
        match &self.audience {
            Some(aud) => {
                // A token without `aud` would otherwise pass the audience check.
                validation.set_required_spec_claims(&["exp", "sub", "aud"]);
                validation.set_audience(&[aud]);
            }
            None => {
                validation.set_required_spec_claims(&["exp", "sub"]);
                validation.validate_aud = false;
            }
        }
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
        }
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                AuthError::Invalid("token not valid yet (nbf)".into())
            }
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
    fn audience_is_one_name_or_several() {
        let signer = Signer::hs256(b"k");
        let verifier = Verifier::hs256(b"k").with_audience(Some("crm".into()));
        let mut claims = Claims::new("carol", &[Role::Auditor], Duration::from_secs(60));
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_err(), "no aud");
        claims.aud = Some(Audience::One("crm".into()));
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_ok());
        claims.aud = Some(Audience::Many(vec!["account".into(), "crm".into()]));
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_ok());
        claims.aud = Some(Audience::Many(vec!["account".into(), "billing".into()]));
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_err());
        claims.aud = Some(Audience::One("billing".into()));
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_err());
        // Without a configured audience, an array is read, not refused.
        claims.aud = Some(Audience::Many(vec!["account".into()]));
        assert!(
            Verifier::hs256(b"k")
                .verify(&signer.sign(&claims).unwrap())
                .is_ok()
        );
    }

    #[test]
    fn not_before_is_checked_with_a_small_leeway() {
        let signer = Signer::hs256(b"k");
        let verifier = Verifier::hs256(b"k");
        let mut claims = Claims::new("dave", &[Role::Auditor], Duration::from_secs(3600));
        claims.nbf = Some(now_secs() + 600);
        let err = verifier.verify(&signer.sign(&claims).unwrap()).unwrap_err();
        assert!(err.to_string().contains("nbf"), "{err}");
        claims.nbf = Some(now_secs() + CLOCK_LEEWAY_SECS / 2);
        assert!(
            verifier.verify(&signer.sign(&claims).unwrap()).is_ok(),
            "within the leeway"
        );
        claims.nbf = Some(now_secs() - 60);
        assert!(verifier.verify(&signer.sign(&claims).unwrap()).is_ok());
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
