//! The nats-server `crm up` starts when no external NATS is configured.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};

/// The local nats-server's port unless it is taken.
const DEFAULT_PORT: u16 = 4222;

/// Whether nothing listens on 127.0.0.1:`port` (a bind succeeds).
fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port the system says is free now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// A nats-server child process with JetStream, restarted when it dies, stopped when dropped.
#[derive(Debug)]
pub struct LocalNats {
    port: u16,
    keeper: tokio::task::JoinHandle<()>,
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        // The keeper owns the child, which is killed when dropped with it.
        self.keeper.abort();
    }
}

/// The longest wait before a nats-server that keeps dying is started again.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(10);

impl LocalNats {
    /// Starts `nats-server` (from PATH, or `CRM_NATS_SERVER`) on 127.0.0.1:`port` with its store
    /// in `store`, and waits until it accepts connections. Without a pinned port it uses 4222, or
    /// a free port when 4222 is taken (another nats-server, say); a pinned port that is taken is
    /// an error. When the server dies it is started again on the same port and store (the
    /// services reconnect; their outboxes keep what they write meanwhile).
    pub async fn start(store: &Path, pinned: Option<u16>) -> anyhow::Result<Self> {
        let port = match pinned {
            Some(port) if !port_free(port) => anyhow::bail!(
                "port {port} is already in use: pass --nats-url nats://127.0.0.1:{port} to use that server, \
                 or another --local-nats-port"
            ),
            Some(port) => port,
            None if port_free(DEFAULT_PORT) => DEFAULT_PORT,
            None => free_port()?,
        };
        std::fs::create_dir_all(store)?;
        let child = spawn(store, port).await?;
        tracing::info!(port, store = %store.display(), "started local nats-server");
        let keeper = tokio::spawn(keep(child, store.to_path_buf(), port));
        Ok(Self { port, keeper })
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

/// Waits for the server to exit and starts it again, waiting longer after each quick death.
async fn keep(mut child: Child, store: std::path::PathBuf, port: u16) {
    let mut delay = Duration::from_millis(200);
    loop {
        let started = tokio::time::Instant::now();
        let status = child.wait().await;
        tracing::warn!(port, ?status, "the local nats-server exited; starting it again");
        if started.elapsed() > MAX_RESTART_DELAY * 6 {
            delay = Duration::from_millis(200);
        }
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RESTART_DELAY);
            match spawn(&store, port).await {
                Ok(next) => {
                    tracing::info!(port, "local nats-server started again");
                    child = next;
                    break;
                }
                Err(err) => tracing::warn!(port, "starting the local nats-server again: {err:#}"),
            }
        }
    }
}

/// Starts the server and waits until it accepts connections.
async fn spawn(store: &Path, port: u16) -> anyhow::Result<Child> {
    let binary = std::env::var("CRM_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
    let mut child = Command::new(&binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {binary} (install it or pass --nats-url)"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("{binary} exited ({status}) instead of listening on port {port}");
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "nats-server did not start on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(child)
}
