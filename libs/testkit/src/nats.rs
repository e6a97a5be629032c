use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server with JetStream for one test: a random port and its own store directory, so
/// tests never see each other's streams. The binary comes from `PATH` (or `CRM_NATS_SERVER`).
#[derive(Debug)]
pub struct TestNats {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The configuration file of a secured server (none: open, on the command line).
    config: Option<PathBuf>,
}

/// The test's own user of a secured server, and its client's name.
const TEST_USER: &str = "test";

/// A user of a secured test server: its nkey, and what it may do (`None`: everything).
#[derive(Debug, Clone)]
pub struct TestNatsUser {
    /// Who it is, for the test (`sales`, `admin`).
    pub name: String,
    /// Its seed, as a service reads it from its nkey file.
    pub seed: String,
    public_key: String,
    permissions: Option<crm_events::permissions::Permissions>,
}

impl TestNatsUser {
    /// A user with a fresh nkey; `None` permits everything.
    pub fn new(name: &str, permissions: Option<crm_events::permissions::Permissions>) -> Self {
        let key = nkeys::KeyPair::new_user();
        Self {
            name: name.into(),
            seed: key.seed().expect("a user key has a seed"),
            public_key: key.public_key(),
            permissions,
        }
    }
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
            config: None,
        };
        nats.restart();
        nats
    }

    /// Starts a server that speaks TLS only, with a certificate of `ca` for 127.0.0.1, and admits
    /// only `users` (nkeys), each with its permissions. Connect with [`TestNats::security`].
    pub fn start_secured(ca: &crm_tls::testing::TestCa, users: &[TestNatsUser]) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        // The test's own client (publishing other domains' events, inspecting streams) may do
        // everything.
        let users = [users, &[TestNatsUser::new(TEST_USER, None)]].concat();
        let issued = ca.issue(&["127.0.0.1", "localhost"]);
        std::fs::write(path("server.pem"), &issued.cert_pem).expect("writing the certificate");
        std::fs::write(path("server.key"), &issued.key_pem).expect("writing the key");
        std::fs::write(path("ca.pem"), ca.cert_pem()).expect("writing the CA");
        let quoted = |list: &[String]| {
            list.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let users = users
            .iter()
            .map(|user| {
                std::fs::write(path(&format!("{}.nk", user.name)), &user.seed).expect("writing a seed");
                let permissions = user.permissions.as_ref().map_or(String::new(), |p| {
                    format!(
                        ", permissions: {{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }} }}",
                        quoted(&p.publish),
                        quoted(&p.subscribe)
                    )
                });
                format!("    {{ nkey: {:?}{permissions} }}", user.public_key)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config = format!(
            "listen: \"127.0.0.1:{port}\"\n\
             jetstream {{ store_dir: {store:?} }}\n\
             tls {{ cert_file: {cert:?}, key_file: {key:?}, timeout: 5 }}\n\
             authorization {{\n  users: [\n{users}\n  ]\n}}\n",
            store = path("js"),
            cert = path("server.pem"),
            key = path("server.key"),
        );
        std::fs::write(path("nats.conf"), config).expect("writing the configuration");
        let mut nats = Self {
            port,
            config: Some(path("nats.conf")),
            dir,
            child: None,
        };
        nats.restart();
        nats
    }

    /// How the user called `user` of a secured server connects: the test CA, its nkey file.
    pub fn security(&self, user: &str) -> crm_events::NatsSecurity {
        crm_events::NatsSecurity {
            ca_file: Some(self.dir.path().join("ca.pem")),
            nkey_file: Some(self.dir.path().join(format!("{user}.nk"))),
            ..Default::default()
        }
    }

    /// Connects to a secured server as `user`, under the client name `client_name`.
    pub async fn connect_as(&self, user: &str, client_name: &str) -> async_nats::Client {
        let client = crm_events::connect(&self.url(), client_name, &self.security(user))
            .await
            .expect("connecting to nats");
        crm_events::check_server(&client, &self.url(), Duration::from_secs(10))
            .await
            .unwrap_or_else(|err| panic!("{user} connecting to the secured nats-server: {err:#}"));
        client
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

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

    /// Connects a client (reconnecting forever, like the services do); on a secured server, as
    /// the test's own user, which may do everything.
    pub async fn client(&self) -> async_nats::Client {
        let security = match self.config {
            Some(_) => self.security(TEST_USER),
            None => crm_events::NatsSecurity::default(),
        };
        crm_events::connect(&self.url(), TEST_USER, &security)
            .await
            .expect("connecting to nats")
    }

    /// Subscribes a new client to `subject` (core NATS, not a stream) and waits until the server
    /// has the subscription: a subscription is sent without an answer, and an event published
    /// before the server processed it is not delivered to it.
    pub async fn subscribe(&self, subject: &str) -> async_nats::Subscriber {
        let client = self.client().await;
        let subscriber = client.subscribe(subject.to_string()).await.expect("subscribing");
        client
            .flush()
            .await
            .expect("the subscription reaching the server");
        subscriber
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
        let mut command = Command::new(&binary);
        match &self.config {
            Some(config) => command.arg("-c").arg(config),
            None => command
                .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
                .arg(self.dir.path()),
        };
        let child = command
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
