//! RS256 verification with keys from a JWKS document, read from a file or fetched over HTTP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crm_auth::{AuthConfig, AuthError, Claims, Role};
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

/// Serves the current JWKS document to every GET, counting requests.
async fn jwks_server(doc: Arc<Mutex<String>>, hits: Arc<AtomicUsize>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.unwrap();
            assert!(String::from_utf8_lossy(&request[..n]).starts_with("GET /.well-known/jwks.json HTTP/1."));
            hits.fetch_add(1, Ordering::SeqCst);
            let body = doc.lock().unwrap().clone();
            let response = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{body}");
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_keys_are_fetched_from_a_jwks_url_and_follow_rotation() {
    let (old, new) = (KeyPair::new("old"), KeyPair::new("new"));
    let doc = Arc::new(Mutex::new(jwks(&[&old])));
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = jwks_server(doc.clone(), hits.clone()).await;
    let config = AuthConfig {
        jwks_url: Some(format!("http://{addr}/.well-known/jwks.json")),
        ..AuthConfig::default()
    };
    let verifier = config.verifier().await.unwrap();
    assert_eq!(verifier.verify(&old.sign(&claims())).unwrap().user_id, "idp-user");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let eager = crm_auth::Verifier::rs256_jwks_url(
        &format!("http://{addr}/.well-known/jwks.json"),
        Duration::from_secs(3600),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert!(eager.verify(&old.sign(&claims())).is_ok());
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // The provider rotates its key. With the default one-minute guard, an unknown key id does
    // not make the first verifier fetch again yet; the unguarded one fetches at once.
    *doc.lock().unwrap() = jwks(&[&new]);
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
        hits.load(Ordering::SeqCst),
        3,
        "one fetch for the rotation, none from the guarded verifier"
    );
    assert!(
        eager.verify(&old.sign(&claims())).is_err(),
        "the retired key no longer verifies"
    );

    let ftp = AuthConfig {
        jwks_url: Some("ftp://idp.example/jwks".into()),
        ..AuthConfig::default()
    };
    assert!(ftp.verifier().await.is_err());
}
