//! RS256 verification with keys from a JWKS document, read from a file or fetched over HTTPS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crm_auth::{Audience, AuthConfig, AuthError, Claims, JwksSource, Role};
use crm_tls::testing::TestCa;
use crm_tls::{HttpClient, HttpLimits};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;

struct KeyPair {
    kid: String,
    private: rsa::RsaPrivateKey,
}

impl KeyPair {
    fn new(kid: &str) -> Self {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("generating an RSA key");
        Self {
            kid: kid.into(),
            private,
        }
    }

    fn jwk(&self) -> serde_json::Value {
        let public = self.private.to_public_key();
        serde_json::json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    fn sign(&self, claims: &Claims) -> String {
        let der = self.private.to_pkcs1_der().unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }
}

fn jwks(keys: &[&KeyPair]) -> String {
    serde_json::json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

fn claims() -> Claims {
    let mut c = Claims::new("idp-user", &[Role::SalesManager], Duration::from_secs(300));
    c.iss = Some("https://idp.example".into());
    // Providers often address a token to several applications at once.
    c.aud = Some(Audience::Many(vec!["account".into(), "crm".into()]));
    c
}

#[tokio::test]
async fn rs256_tokens_verify_against_a_jwks_file() {
    let (k1, k2, stranger) = (KeyPair::new("k1"), KeyPair::new("k2"), KeyPair::new("k1"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[&k1, &k2])).unwrap();
    let config = AuthConfig {
        jwks_file: Some(path),
        issuer: Some("https://idp.example".into()),
        audience: Some("crm".into()),
        ..AuthConfig::default()
    };
    let verifier = config.verifier().await.unwrap();
    for key in [&k1, &k2] {
        let principal = verifier.verify(&key.sign(&claims())).unwrap();
        assert_eq!(principal.user_id, "idp-user");
        assert_eq!(principal.roles, vec![Role::SalesManager]);
    }
    // Same key id, different key: the signature does not verify.
    assert!(matches!(
        verifier.verify(&stranger.sign(&claims())),
        Err(AuthError::Invalid(_))
    ));
    // Wrong issuer.
    let mut other = claims();
    other.iss = Some("https://evil.example".into());
    assert!(matches!(
        verifier.verify(&k1.sign(&other)),
        Err(AuthError::Invalid(_))
    ));
    // An HS256 token is not accepted by an RS256 verifier.
    let hs = crm_auth::Signer::hs256(b"whatever").sign(&claims()).unwrap();
    assert!(verifier.verify(&hs).is_err());
}

/// An identity provider's JWKS endpoint: serves the current document to every GET (over TLS
/// with a certificate for `localhost` when `ca` is given), counting requests.
struct Provider {
    doc: Arc<Mutex<String>>,
    hits: Arc<AtomicUsize>,
    url: String,
}

impl Provider {
    async fn start(doc: &str, ca: Option<&TestCa>) -> Self {
        use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
        async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
            mut socket: S,
            doc: &Mutex<String>,
            hits: &AtomicUsize,
        ) {
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.unwrap_or(0);
            assert!(
                String::from_utf8_lossy(&request[..n]).starts_with("GET /.well-known/jwks.json HTTP/1.1")
            );
            hits.fetch_add(1, Ordering::SeqCst);
            let body = doc.lock().unwrap().clone();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = ca.map(|ca| tokio_rustls::TlsAcceptor::from(ca.acceptor(&["localhost"])));
        let url = match &acceptor {
            Some(_) => format!("https://localhost:{port}/.well-known/jwks.json"),
            None => format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
        };
        let (doc, hits) = (
            Arc::new(Mutex::new(doc.to_string())),
            Arc::new(AtomicUsize::new(0)),
        );
        let (d, h) = (doc.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (d, h, acceptor) = (d.clone(), h.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(socket).await {
                                answer(tls, &d, &h).await;
                            }
                        }
                        None => answer(socket, &d, &h).await,
                    }
                });
            }
        });
        Self { doc, hits, url }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_keys_are_fetched_over_https_and_follow_rotation() {
    let (old, new) = (KeyPair::new("old"), KeyPair::new("new"));
    let ca = TestCa::new();
    let provider = Provider::start(&jwks(&[&old]), Some(&ca)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let config = AuthConfig {
        jwks_url: Some(provider.url.clone()),
        jwks_ca_file: Some(ca_file.clone()),
        audience: Some("crm".into()),
        ..AuthConfig::default()
    };
    let verifier = config.verifier().await.unwrap();
    assert_eq!(verifier.verify(&old.sign(&claims())).unwrap().user_id, "idp-user");
    assert_eq!(provider.hits(), 1);

    let source = JwksSource {
        url: provider.url.clone(),
        client: HttpClient::new(Some(&ca_file), false, HttpLimits::default()).unwrap(),
    };
    let eager = crm_auth::Verifier::rs256_jwks_url(source, Duration::from_secs(3600), Duration::ZERO)
        .await
        .unwrap();
    assert!(eager.verify(&old.sign(&claims())).is_ok());
    assert_eq!(provider.hits(), 2);

    // The provider rotates its key. With the default one-minute guard, an unknown key id does
    // not make the first verifier fetch again yet; the unguarded one fetches at once.
    *provider.doc.lock().unwrap() = jwks(&[&new]);
    let token = new.sign(&claims());
    assert!(verifier.verify(&token).is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while eager.verify(&token).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotated key was never fetched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        provider.hits(),
        3,
        "one fetch for the rotation, none from the guarded verifier"
    );
    assert!(
        eager.verify(&old.sign(&claims())).is_err(),
        "the retired key no longer verifies"
    );

    // Without the deployment's CA the provider's certificate is not trusted.
    let untrusted = AuthConfig {
        jwks_ca_file: None,
        ..config.clone()
    };
    let err = untrusted.verifier().await.unwrap_err();
    assert!(format!("{err:#}").contains("UnknownIssuer"), "{err:#}");
}

#[tokio::test]
async fn a_jwks_source_is_refused_when_unsafe() {
    let key = KeyPair::new("k");
    let plain = Provider::start(&jwks(&[&key]), None).await;
    let config = AuthConfig {
        jwks_url: Some(plain.url.clone()),
        audience: Some("crm".into()),
        ..AuthConfig::default()
    };
    // Plain HTTP only when allowed explicitly.
    let err = config.verifier().await.unwrap_err();
    assert!(format!("{err:#}").contains("only https://"), "{err:#}");
    assert_eq!(plain.hits(), 0);
    let allowed = AuthConfig {
        jwks_allow_http: true,
        ..config.clone()
    };
    assert!(
        allowed
            .verifier()
            .await
            .unwrap()
            .verify(&key.sign(&claims()))
            .is_ok()
    );

    // Without an audience, any token of the provider would do.
    let no_audience = AuthConfig {
        audience: None,
        ..allowed.clone()
    };
    let err = no_audience.verifier().await.unwrap_err();
    assert!(err.to_string().contains("CRM_JWT_AUDIENCE"), "{err}");

    // A token for another application of the same provider is refused.
    let mut elsewhere = claims();
    elsewhere.aud = Some(Audience::One("billing".into()));
    let verifier = allowed.verifier().await.unwrap();
    assert!(verifier.verify(&key.sign(&elsewhere)).is_err());

    // A document far larger than any key set is not read to the end.
    let huge = serde_json::json!({ "keys": [key.jwk()], "padding": "x".repeat(2 * 1024 * 1024) }).to_string();
    *plain.doc.lock().unwrap() = huge;
    let err = allowed.verifier().await.unwrap_err();
    assert!(format!("{err:#}").contains("length limit exceeded"), "{err:#}");

    let ftp = AuthConfig {
        jwks_url: Some("ftp://idp.example/jwks".into()),
        ..allowed.clone()
    };
    assert!(ftp.verifier().await.is_err());
}
