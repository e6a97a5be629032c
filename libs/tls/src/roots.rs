//! Trust roots: the system's certificate authorities plus, optionally, a deployment's own.

use std::path::Path;

use anyhow::Context as _;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The system's trust roots and the certificates in `ca_file` (PEM), if given.
pub fn root_store(ca_file: Option<&Path>) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // One unusable system certificate should not make every other one unusable.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs =
            CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))?;
        let mut added = 0;
        for cert in certs {
            roots
                .add(cert.with_context(|| format!("reading {}", path.display()))?)
                .with_context(|| format!("a certificate of {}", path.display()))?;
            added += 1;
        }
        anyhow::ensure!(added > 0, "{} holds no certificate", path.display());
    }
    Ok(roots)
}

/// A client configuration trusting [`root_store`], without a client certificate.
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    Ok(rustls::ClientConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(ca_file)?)
        .with_no_client_auth())
}
