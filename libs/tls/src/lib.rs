//! TLS plumbing shared by the suite: which certificate authorities to trust, a server's
//! certificate read from files and read again when they change, and an HTTPS client that
//! refuses plain HTTP unless told otherwise and bounds what it reads and how long it waits.
//! With the `testing` feature, a private certificate authority for tests.

mod files;
mod http_client;
mod roots;
#[cfg(feature = "testing")]
pub mod testing;

pub use files::{FileStamp, ReloadingCert, certificates, private_key, server_config};
pub use http_client::{HttpClient, HttpLimits};
pub use roots::{client_config, root_store};

/// The cryptography provider every TLS configuration of the suite uses.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
