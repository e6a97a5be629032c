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
}

/// Connects to NATS. The connection is made in the background and re-made after outages, so a
/// service starts, and keeps its outbox, while NATS is down.
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(url)
        .await?;
    Ok(client)
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
fn version_at_least(version: &str, min: (u64, u64)) -> bool {
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
