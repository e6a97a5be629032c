//! Certificates and keys read from PEM files, and noticing when the files change (a renewed
//! certificate written by cert-manager, or a Kubernetes secret volume swapping its files).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// What the files looked like when last read: modification time and length of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp(Vec<Option<(SystemTime, u64)>>);

impl FileStamp {
    /// The stamp of `paths` now (a missing file stamps as absent).
    pub fn of<P: AsRef<Path>>(paths: &[P]) -> Self {
        Self(
            paths
                .iter()
                .map(|p| {
                    std::fs::metadata(p)
                        .ok()
                        .and_then(|m| Some((m.modified().ok()?, m.len())))
                })
                .collect(),
        )
    }
}

/// Every certificate in a PEM file, in order (a leaf followed by its intermediates).
pub fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds no readable certificate", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("{} holds no readable private key", path.display()))
}

/// A certificate chain and its key, checked to belong together.
fn certified_key(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    CertifiedKey::from_der(certificates(cert)?, private_key(key)?, &crate::provider())
        .with_context(|| format!("{} and {} do not belong together", cert.display(), key.display()))
}

/// A server's certificate, read from its files and read again by [`ReloadingCert::refresh`]
/// when they change, so a renewed certificate is presented to new connections without a
/// restart. A renewal half written (or broken) keeps the certificate in use.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    stamp: Mutex<FileStamp>,
}

impl ReloadingCert {
    /// Reads the certificate chain at `cert` and its key at `key`.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        let stamp = FileStamp::of(&[cert, key]);
        let current = certified_key(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(current)),
            stamp: Mutex::new(stamp),
        }))
    }

    /// Reads the files again if they changed since they were last read. `Ok(true)`: a new
    /// certificate is in use; an error: the new files are unusable and the old certificate
    /// stays (they are tried again at the next change).
    pub fn refresh(&self) -> anyhow::Result<bool> {
        let now = FileStamp::of(&[&self.cert, &self.key]);
        {
            let mut stamp = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
            if *stamp == now {
                return Ok(false);
            }
            *stamp = now;
        }
        let next = certified_key(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(true)
    }

    /// The certificate presented now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl rustls::server::ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A TLS server configuration presenting `cert`, offering the `alpn` protocols, and, with
/// `client_ca`, requiring every client to present a certificate that authority signed.
pub fn server_config(
    cert: Arc<ReloadingCert>,
    client_ca: Option<&Path>,
    alpn: &[&[u8]],
) -> anyhow::Result<rustls::ServerConfig> {
    let builder = rustls::ServerConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca)? {
                roots
                    .add(cert)
                    .with_context(|| format!("{} holds an unusable CA certificate", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                crate::provider(),
            )
            .build()
            .context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}
