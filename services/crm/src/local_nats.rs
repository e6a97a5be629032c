//! The nats-server `crm up` starts when no external NATS is configured.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};

/// A nats-server child process with JetStream, stopped when dropped.
#[derive(Debug)]
pub struct LocalNats {
    port: u16,
    _child: Child,
}

impl LocalNats {
    /// Starts `nats-server` (from PATH, or `CRM_NATS_SERVER`) on 127.0.0.1:`port` with its store
    /// in `store`, and waits until it accepts connections.
    pub async fn start(store: &Path, port: u16) -> anyhow::Result<Self> {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            anyhow::bail!(
                "port {port} is already in use: pass --nats-url nats://127.0.0.1:{port} to use that server, \
                 or --local-nats-port for another port"
            );
        }
        std::fs::create_dir_all(store)?;
        let binary = std::env::var("CRM_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (install it or pass --nats-url)"))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(port, store = %store.display(), "started local nats-server");
        Ok(Self { port, _child: child })
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}
