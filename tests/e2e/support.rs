//! Starting the whole suite inside a test: real nats-server, one fresh database per service on
//! the chosen backend, every service and the gateway on free ports.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crm::services::{self, GatewaySettings, Running, Service, SuiteSettings};
use crm::suite::{Suite, SuiteConfig};
use crm_platform::clock::ManualClock;
use crm_testkit::{Backend, TestDb, TestNats, TestNatsUser, Watched};

/// Monday 2026-11-23, 10:00 UTC: inside the service desk's default business hours.
pub const MONDAY_10AM_MICROS: i64 = 1_795_428_000_000_000;

/// The gateway's name in traces.
pub const GATEWAY: &str = "gateway";

/// The running suite and what it needs kept alive.
pub struct TestSuite {
    pub suite: Suite,
    pub nats: TestNats,
    /// The service desk's clock.
    pub clock: Arc<ManualClock>,
    database_urls: HashMap<Service, String>,
    _databases: Vec<TestDb>,
    /// How a client reaches a suite whose servers speak TLS (none: plain text).
    tls: Option<TestTls>,
}

/// A private CA and the certificate files of a suite that speaks TLS: the servers' certificate,
/// which is also the services' client certificate, and one for the test's own client.
pub struct TestTls {
    pub ca: crm_tls::testing::TestCa,
    pub dir: tempfile::TempDir,
    pub client: crm_tls::testing::Issued,
}

impl TestTls {
    /// A CA, and a certificate for 127.0.0.1 written to files.
    pub fn new() -> Self {
        let ca = crm_tls::testing::TestCa::new();
        let dir = tempfile::tempdir().unwrap();
        let server = ca.issue(&["127.0.0.1", "localhost"]);
        std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), &server.cert_pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), &server.key_pem).unwrap();
        let client = ca.issue(&["test-client"]);
        Self { ca, dir, client }
    }

    /// Server settings: this certificate, clients' certificates required from this CA, calls
    /// to other services checked against it.
    pub fn config(&self) -> crm_platform::config::TlsConfig {
        let file = |name: &str| Some(self.dir.path().join(name));
        crm_platform::config::TlsConfig {
            tls_cert: file("cert.pem"),
            tls_key: file("key.pem"),
            tls_client_ca: file("ca.pem"),
            tls_ca_file: file("ca.pem"),
            ..crm_platform::config::defaults()
        }
    }

    /// A channel to `addr` over TLS, presenting the test client's certificate.
    pub fn channel(&self, addr: std::net::SocketAddr) -> tonic::transport::Channel {
        tls_channel(
            addr,
            &self.ca.cert_pem(),
            Some((&self.client.cert_pem, &self.client.key_pem)),
        )
    }
}

/// A TLS channel to `addr` (a certificate for 127.0.0.1) trusting `ca_pem`, presenting
/// `identity` (certificate and key, PEM) when given.
pub fn tls_channel(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> tonic::transport::Channel {
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .domain_name("127.0.0.1")
        .ca_certificate(tonic::transport::Certificate::from_pem(ca_pem));
    if let Some((cert, key)) = identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

impl TestSuite {
    /// Stops every service, then lets go of the databases and the nats-server.
    #[allow(dead_code)]
    pub async fn shutdown(self) {
        self.suite.shutdown().await.expect("the suite stopped");
    }

    /// The database URL of a domain service (the import benchmark reads the outboxes).
    #[allow(dead_code)]
    pub fn database_url(&self, service: Service) -> &str {
        &self.database_urls[&service]
    }

    /// A channel to the gateway, the one address clients need (over TLS when the suite speaks
    /// it).
    pub fn gateway(&self) -> tonic::transport::Channel {
        let addr = self.suite.addr(Service::Gateway);
        match &self.tls {
            Some(tls) => tls.channel(addr),
            None => crm_testkit::channel(addr),
        }
    }
}

/// Gateway settings for tests: no rate limit unless a test sets one.
pub fn gateway_settings() -> GatewaySettings {
    GatewaySettings {
        rate_limit: 0.0,
        ..GatewaySettings::default()
    }
}

/// Starts the suite on `backend` with `gateway` settings (the upstream addresses are the
/// suite's own).
pub async fn start(backend: Backend, gateway: GatewaySettings) -> TestSuite {
    let nats = TestNats::start();
    let client = nats.client().await;
    start_on(nats, None, backend, gateway, |_| client.clone()).await
}

/// Starts the suite on `backend` as a deployment runs it: every server speaks TLS only and
/// requires a client certificate, the services call each other over TLS, and the nats-server
/// speaks TLS only and admits each domain service as its own user with the permissions it
/// declares.
#[allow(dead_code)]
pub async fn start_secured(backend: Backend) -> TestSuite {
    let ca = crm_tls::testing::TestCa::new();
    let users: Vec<_> = Service::DOMAINS
        .iter()
        .map(|&s| TestNatsUser::new(s.name(), Some(crm::nats_users::permissions(s))))
        .collect();
    let nats = TestNats::start_secured(&ca, &users);
    let mut clients = HashMap::new();
    for service in Service::DOMAINS {
        let client = nats.connect_as(service.name(), &service.nats_client_name()).await;
        clients.insert(service, client);
    }
    let tls = TestTls::new();
    start_on(nats, Some(tls), backend, gateway_settings(), |service| {
        clients[&service].clone()
    })
    .await
}

/// Starts the suite on `backend` and `nats`, each domain service on the client `client` gives,
/// with `tls` when given.
async fn start_on(
    nats: TestNats,
    tls: Option<TestTls>,
    backend: Backend,
    gateway: GatewaySettings,
    client: impl Fn(Service) -> async_nats::Client,
) -> TestSuite {
    let clock = ManualClock::at(MONDAY_10AM_MICROS);
    let mut databases = Vec::new();
    let mut database_urls = HashMap::new();
    for service in Service::DOMAINS {
        let db = TestDb::new(backend);
        database_urls.insert(service, db.url.clone());
        databases.push(db);
    }
    let config = SuiteConfig {
        host: "127.0.0.1".into(),
        port_base: None,
        ports_pinned: false,
        database_urls: database_urls.clone(),
        server: crm_platform::ServerConfig {
            tls: tls
                .as_ref()
                .map_or_else(crm_platform::config::defaults, TestTls::config),
            ..crm_platform::ServerConfig::default()
        },
        auth: crm_testkit::auth_config(),
        settings: SuiteSettings {
            gateway,
            ..SuiteSettings::default()
        },
        clock: clock.clone(),
        streams: Default::default(),
    };
    let suite = Suite::start_connected(config, client)
        .await
        .expect("starting the suite");
    TestSuite {
        suite,
        nats,
        clock,
        database_urls,
        _databases: databases,
        tls,
    }
}

/// Starts another instance of a domain service of `suite` on the same database, as a second
/// pod of the same Deployment would be.
pub async fn second_instance(suite: &TestSuite, service: Service) -> (std::net::SocketAddr, Watched) {
    let instance = crm_platform::Instance {
        clock: suite.clock.clone(),
        ..crm_platform::Instance::new(&suite.database_urls[&service], crm_testkit::auth_config())
    };
    let app = services::build_domain(
        service,
        instance,
        &SuiteSettings::default(),
        suite.nats.client().await,
    )
    .await
    .expect("building a second instance");
    let running = Running::domain(app);
    let addr = running.addr;
    let task = Watched::spawn(format!("{} at {addr}", service.name()), |stop| running.run(stop));
    (addr, task)
}

/// Builds and starts one more gateway in front of `upstreams` (URL lists per service), for
/// tests that need a gateway wired differently from the suite's.
pub async fn extra_gateway(
    customers: Vec<String>,
    upstreams: GatewaySettings,
) -> (std::net::SocketAddr, Watched) {
    let settings = GatewaySettings {
        customers: crm_platform::config::CustomersUpstream { urls: customers },
        ..upstreams
    };
    let running = services::build_gateway(
        "127.0.0.1:0".into(),
        crm_platform::ServerConfig::default(),
        crm_testkit::auth_config(),
        settings,
    )
    .await
    .expect("building a gateway");
    let addr = running.addr;
    let task = Watched::spawn(format!("the gateway at {addr}"), |stop| running.run(stop));
    (addr, task)
}

/// The URL of a service of `suite`.
pub fn url(suite: &Suite, service: Service) -> String {
    format!("http://{}", suite.addr(service))
}

/// The value of a span attribute, as text.
pub fn attribute(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// The lines `crm up` prints up to its `press Ctrl-C` line (all it printed if it stopped first).
pub async fn startup_lines(stdout: std::process::ChildStdout) -> Vec<String> {
    use std::io::BufRead as _;
    tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let done = line.starts_with("press Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap()
}

/// Whether `consumer` of `domain`'s stream has settled every message it was given.
pub async fn caught_up(js: &async_nats::jetstream::Context, domain: &str, consumer: &str) -> bool {
    let stream = crm_events::StreamSpec::new(domain).name();
    let Ok(mut c) = js
        .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(consumer, stream)
        .await
    else {
        return false;
    };
    c.info()
        .await
        .is_ok_and(|i| i.num_pending == 0 && i.num_ack_pending == 0)
}

/// Sends and receives messages as the bytes they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf as _;
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

/// Calls the unary RPC `path` with `body`, as `token`.
pub async fn call(
    channel: &tonic::transport::Channel,
    path: &str,
    body: Vec<u8>,
    token: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = crm_testkit::authed(body, token);
    request.set_timeout(Duration::from_secs(60));
    let path = http::uri::PathAndQuery::try_from(path).expect("a method path");
    grpc.unary(request, path, Raw)
        .await
        .map(tonic::Response::into_inner)
}

/// One HTTP/1.1 request (the connection closed after it): the status and the body as text.
pub async fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, mut content) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let mut joined = String::new();
    if chunked {
        // Chunks: a hex size line, the bytes, a line break; a size of zero ends them.
        while let Some((size, rest)) = content.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            joined.push_str(&rest[..size]);
            content = &rest[size + 2..];
        }
        content = &joined;
    }
    (status, content.to_string())
}
