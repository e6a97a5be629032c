use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

/// How to reach NATS.
#[derive(Debug, Clone, Args)]
pub struct NatsConfig {
    /// NATS server URL. `crm up` starts a local nats-server when this is not set.
    #[arg(id = "nats_url", long = "nats-url", env = "CRM_NATS_URL")]
    pub url: Option<String>,
    /// How the streams are kept.
    #[command(flatten)]
    pub streams: crate::StreamSettings,
    /// How the connection is secured and who it is.
    #[command(flatten)]
    pub security: NatsSecurity,
}

/// How a process checks the NATS server and proves who it is: the authority that signed the
/// server's certificate (TLS is then required), a client certificate for servers that verify
/// clients, and the user's credentials (a credentials file, or the seed of an nkey user).
#[derive(Debug, Clone, Default, Args)]
pub struct NatsSecurity {
    /// CA certificate (PEM) that signed the NATS server's certificate; TLS is then required.
    /// Without it, a `tls://` URL is checked against the system's authorities.
    #[arg(id = "nats_ca_file", long = "nats-ca-file", env = "CRM_NATS_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for a server that verifies clients.
    #[arg(
        id = "nats_tls_cert",
        long = "nats-tls-cert",
        env = "CRM_NATS_TLS_CERT",
        requires = "nats_tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        id = "nats_tls_key",
        long = "nats-tls-key",
        env = "CRM_NATS_TLS_KEY",
        requires = "nats_tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// A credentials file (user JWT and nkey seed) for a server run in operator mode.
    #[arg(
        id = "nats_credentials",
        long = "nats-credentials",
        env = "CRM_NATS_CREDENTIALS",
        conflicts_with = "nats_nkey_file"
    )]
    pub credentials: Option<PathBuf>,
    /// A file holding the seed of this process's nkey user (`SU...`), for a server that lists
    /// its users in its configuration.
    #[arg(id = "nats_nkey_file", long = "nats-nkey-file", env = "CRM_NATS_NKEY_FILE")]
    pub nkey_file: Option<PathBuf>,
}

/// The prefix of the reply subjects of the client called `name`: its own, so that its user may
/// be allowed to receive the replies addressed to it and no one else's.
pub fn inbox_prefix(name: &str) -> String {
    format!("_INBOX.{name}")
}

/// Connects to NATS as the client called `name`, secured as `security` says. The connection is
/// made in the background and re-made after outages, so a service starts, and keeps its outbox,
/// while NATS is down; unreadable credentials or certificates are an error at once.
pub async fn connect(url: &str, name: &str, security: &NatsSecurity) -> anyhow::Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(inbox_prefix(name))
        .retry_on_initial_connect()
        .max_reconnects(None);
    if let Some(ca) = &security.ca_file {
        anyhow::ensure!(ca.is_file(), "NATS CA file {} not found", ca.display());
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&security.tls_cert, &security.tls_key) {
        for file in [cert, key] {
            anyhow::ensure!(
                file.is_file(),
                "NATS client TLS file {} not found",
                file.display()
            );
        }
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    if let Some(path) = &security.credentials {
        options = options
            .credentials_file(path)
            .await
            .with_context(|| format!("reading NATS credentials {}", path.display()))?;
    }
    if let Some(path) = &security.nkey_file {
        let seed = std::fs::read_to_string(path)
            .with_context(|| format!("reading NATS nkey seed {}", path.display()))?;
        let seed = seed.trim();
        nkeys::KeyPair::from_seed(seed)
            .with_context(|| format!("{} does not hold an nkey seed", path.display()))?;
        options = options.nkey(seed.to_string());
    }
    Ok(options.connect(url).await?)
}

/// The oldest nats-server the suite works with: 2.9 ignores a consumer's filter subjects (every
/// consumer would receive every event of its stream).
pub const MIN_NATS_VERSION: (u64, u64) = (2, 10);

/// Waits up to `wait` for `client` to connect, then refuses a server older than
/// [`MIN_NATS_VERSION`]. Not connected by then: an error naming `url`.
pub async fn check_server(
    client: &async_nats::Client,
    url: &str,
    wait: std::time::Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    while client.connection_state() != async_nats::connection::State::Connected {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "cannot reach NATS at {url} (is nats-server running?)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let version = client.server_info().version;
    anyhow::ensure!(
        version_at_least(&version, MIN_NATS_VERSION),
        "nats-server {version} at {url} is too old: the suite needs {}.{} or newer",
        MIN_NATS_VERSION.0,
        MIN_NATS_VERSION.1
    );
    Ok(())
}

/// Whether a version such as "2.10.7" is at least (major, minor).
pub fn version_at_least(version: &str, min: (u64, u64)) -> bool {
    let mut parts = version.trim_start_matches('v').split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u64>()
            .unwrap_or(0)
    });
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= min
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn compares_versions() {
        assert!(super::version_at_least("2.10.7", (2, 10)));
        assert!(super::version_at_least("2.11.0-beta", (2, 10)));
        assert!(super::version_at_least("3.0.0", (2, 10)));
        assert!(!super::version_at_least("2.9.25", (2, 10)));
        assert!(!super::version_at_least("", (2, 10)));
    }
}
