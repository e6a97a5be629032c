use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server with JetStream for one test: a random port and its own store directory, so
/// tests never see each other's streams. The binary comes from `PATH` (or `CRM_NATS_SERVER`).
#[derive(Debug)]
pub struct TestNats {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestNats {
    /// Starts a server and waits until it accepts connections.
    pub fn start() -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut nats = Self {
            port,
            dir,
            child: None,
        };
        nats.restart();
        nats
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Connects a client (reconnecting forever, like the services do).
    /// Publishes an event as another service would: a CloudEvent `crm.<domain>.<name>.v1` about
    /// `key` on the domain's stream (created if missing). For feeding a service events of a
    /// producer the test does not run.
    pub async fn publish_event(&self, domain: &str, name: &str, key: &str, payload: &impl prost::Message) {
        let js = async_nats::jetstream::new(self.client().await);
        crm_events::ensure_stream(&js, &crm_events::StreamSpec::new(domain))
            .await
            .expect("stream");
        let new = crm_events::NewEvent::new(domain, name, key, payload);
        let event = crm_events::CloudEvent {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: new.event_type.clone(),
            source: new.source.clone(),
            subject: key.into(),
            time: chrono::Utc::now().to_rfc3339(),
            traceparent: None,
            sequence: None,
            data: new.payload.clone().into(),
        };
        js.publish_with_headers(new.nats_subject.clone(), event.to_headers(), event.data.clone())
            .await
            .expect("publish")
            .await
            .expect("stream ack");
    }

    pub async fn client(&self) -> async_nats::Client {
        crm_events::connect(&self.url(), "test")
            .await
            .expect("connecting to nats")
    }

    /// Stops the server (simulating an outage); its store is kept for [`TestNats::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on the same port and store.
    pub fn restart(&mut self) {
        self.stop();
        let binary = std::env::var("CRM_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e} (is nats-server on PATH?)"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago, for a server a test starts.
///
/// Taken below the kernel's ephemeral range (`ip_local_port_range`): a port the kernel handed out
/// for a moment is soon the local port of some outgoing connection (to PostgreSQL, say), and a
/// server started on it then fails with "address in use". Each process walks the range from its
/// own starting point, so parallel test processes rarely try the same ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    const FIRST: u32 = 10_000;
    if low > FIRST + 1_000 {
        let span = low - FIRST;
        let start = std::process::id().wrapping_mul(7_919) % span;
        for _ in 0..span.min(2_000) {
            let port = FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
            if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
                return port as u16;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
