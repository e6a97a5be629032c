//! Customers and the service desk on port 0, each with its own database, sharing a nats-server.

pub use crm_testkit::violated;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crm_auth::{Claims, Role};
use crm_platform::clock::ManualClock;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_proto::servicedesk::v1::{self as pb, CaseChannel, CaseType};
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, fixtures, start, token, token_with};
use tonic::transport::Channel;

/// Monday 2026-11-30 10:00 UTC, in µs.
pub const MONDAY_10AM: i64 = 1_796_032_800_000_000;
/// One minute in µs.
pub const MINUTE: i64 = 60_000_000;

pub struct Suite {
    pub webhook: Webhook,
    pub desk: ServiceDeskServiceClient<Channel>,
    pub customers: CustomersServiceClient<Channel>,
    pub desk_db: Db,
    /// The desk database's URL (for a second instance of the desk on it).
    pub desk_url: String,
    pub clock: Arc<ManualClock>,
    pub admin: String,
    pub nats: TestNats,
    // Services first: they stop before their databases go.
    _services: [Running; 2],
    _dbs: Vec<TestDb>,
}

impl Suite {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// A suite whose service desk runs with `adjust`ed settings.
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut crm_servicedesk::ServicedeskSettings),
    ) -> Self {
        let nats = TestNats::start();
        let dbs = vec![TestDb::new(backend), TestDb::new(backend)];
        let customers = start::<crm_customers::Customers>(&dbs[0].url, nats.client().await, |_, _| {}).await;
        let clock = ManualClock::at(MONDAY_10AM);
        let webhook = Webhook::start().await;
        let desk =
            start::<crm_servicedesk::Servicedesk>(&dbs[1].url, nats.client().await, |instance, config| {
                instance.clock = clock.clone();
                // Escalations run on demand in these tests.
                config.escalation_interval = Duration::from_secs(3600);
                // Notifications, too, are delivered on demand here.
                config.notification_interval = Duration::from_secs(3600);
                config.webhook_url = Some(webhook.url.clone());
                adjust(config);
            })
            .await;
        Self {
            webhook,
            desk: ServiceDeskServiceClient::new(desk.channel()),
            customers: CustomersServiceClient::new(customers.channel()),
            desk_db: desk.db.clone(),
            desk_url: dbs[1].url.clone(),
            clock,
            admin: token("admin-1", &[Role::Admin]),
            nats,
            _services: [customers, desk],
            _dbs: dbs,
        }
    }

    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        authed(message, &self.admin)
    }

    pub fn desk(&self) -> ServiceDeskServiceClient<Channel> {
        self.desk.clone()
    }

    /// A customer with a phone number, known to the desk once its event arrived.
    pub async fn customer(&self, given: &str, phone: &str) -> cpb::Party {
        let party = cpb::Party {
            contact_points: vec![fixtures::contact(cpb::ContactPointKind::Phone, phone)],
            ..fixtures::person(given, "Chen")
        };
        let party = fixtures::create_party(self.customers.clone(), &self.admin, party).await;
        let copied = "SELECT COUNT(*) FROM customers WHERE party_id = $1";
        fixtures::rows_reach(&self.desk_db, copied, Some(&party.id), 1, "customer copied").await;
        party
    }

    pub async fn queue(&self, name: &str) -> String {
        self.desk()
            .create_queue(self.req(pb::CreateQueueRequest {
                queue: Some(pb::Queue {
                    name: name.into(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap()
            .into_inner()
            .queue
            .unwrap()
            .id
    }

    pub async fn agent(&self, user: &str, queue: &str, skills: &[&str], capacity: i32) {
        let agent = pb::Agent {
            user_id: user.into(),
            name: user.to_uppercase(),
            queue_ids: vec![queue.into()],
            skills: skills.iter().map(|s| s.to_string()).collect(),
            capacity,
            load: 0,
        };
        self.desk()
            .upsert_agent(self.req(pb::UpsertAgentRequest { agent: Some(agent) }))
            .await
            .unwrap();
    }

    pub async fn open(&self, token: &str, case: pb::Case) -> Result<pb::Case, tonic::Status> {
        self.desk()
            .open_case(authed(pb::OpenCaseRequest { case: Some(case) }, token))
            .await
            .map(|r| r.into_inner().case.unwrap())
    }

    /// Resolves the case `id`, at version `etag`, as the administrator.
    pub async fn resolve(&self, id: &str, etag: &str, resolution: &str) -> pb::Case {
        self.desk()
            .change_case_status(self.req(pb::ChangeCaseStatusRequest {
                id: id.into(),
                etag: etag.into(),
                status: pb::CaseStatus::Resolved as i32,
                resolution: resolution.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// Erases the customer `party_id` and waits until the desk's copy is erased.
    pub async fn erase(&self, party_id: &str) {
        self.customers
            .clone()
            .erase_party(self.req(cpb::ErasePartyRequest {
                id: party_id.into(),
                reason: "data subject request".into(),
            }))
            .await
            .unwrap();
        let erased = "SELECT COUNT(*) FROM customers WHERE party_id = $1 AND status = 'erased'";
        fixtures::rows_reach(&self.desk_db, erased, Some(party_id), 1, "erasure copied").await;
    }

    /// Runs one delivery of the notifications due.
    pub async fn deliver(&self) -> pb::DeliverNotificationsResponse {
        self.desk()
            .deliver_notifications(self.req(pb::DeliverNotificationsRequest {}))
            .await
            .unwrap()
            .into_inner()
    }

    /// The notifications to `recipient` in `status` (unspecified: any).
    pub async fn notifications(
        &self,
        recipient: &str,
        status: pb::NotificationStatus,
    ) -> Vec<pb::Notification> {
        let req = pb::ListNotificationsRequest {
            recipient: recipient.into(),
            status: status as i32,
            ..Default::default()
        };
        self.desk()
            .list_notifications(self.req(req))
            .await
            .unwrap()
            .into_inner()
            .notifications
    }

    pub async fn get(&self, id: &str) -> pb::Case {
        self.desk()
            .get_case(self.req(pb::GetCaseRequest { id: id.into() }))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }
}

/// A case about `party` in `queue`.
pub fn case(party: &str, queue: &str, kind: CaseType, severity: i32, subject: &str) -> pb::Case {
    pb::Case {
        r#type: kind as i32,
        channel: CaseChannel::Phone as i32,
        severity,
        subject: subject.into(),
        party_id: party.into(),
        queue_id: queue.into(),
        ..Default::default()
    }
}

/// A token for a service agent.
pub fn agent_token(user: &str) -> String {
    token(user, &[Role::ServiceAgent])
}

/// A token for the customer `party`.
pub fn customer_token(party: &str) -> String {
    let mut claims = Claims::new(
        format!("user-{party}"),
        &[Role::Customer],
        Duration::from_secs(3600),
    );
    claims.customer_id = Some(party.into());
    token_with(claims)
}

/// µs of a timestamp.
pub fn micros(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().expect("timestamp");
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1000
}

/// A messaging gateway's webhook: records each request and answers 503 while `fail` is above
/// zero (counting it down), then 200.
pub struct Webhook {
    pub url: String,
    pub received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    pub fail: Arc<AtomicUsize>,
}

impl Webhook {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicUsize::new(0));
        let (r, f) = (received.clone(), fail.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (r, f) = (r.clone(), f.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, r, f).await;
                });
            }
        });
        Self { url, received, fail }
    }

    /// A webhook served over TLS at `https://localhost:<port>/notify` with a certificate
    /// issued by a private CA; returns it and the CA's certificate (PEM).
    pub async fn start_tls() -> (Self, String) {
        let ca = crm_tls::testing::TestCa::new();
        let acceptor = tokio_rustls::TlsAcceptor::from(ca.acceptor(&["localhost"]));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://localhost:{}/notify",
            listener.local_addr().unwrap().port()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicUsize::new(0));
        let (r, f) = (received.clone(), fail.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (r, f, acceptor) = (r.clone(), f.clone(), acceptor.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(socket).await {
                        let _ = serve(tls, r, f).await;
                    }
                });
            }
        });
        (Self { url, received, fail }, ca.cert_pem())
    }

    /// (idempotency key, body) of every request so far.
    pub fn requests(&self) -> Vec<(String, serde_json::Value)> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut socket: S,
    received: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    fail: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_len, length) = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_len + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_len]).to_lowercase();
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("idempotency-key:"))
        .unwrap_or("")
        .trim()
        .to_string();
    let body = serde_json::from_slice(&buf[head_len..]).unwrap_or(serde_json::Value::Null);
    received.lock().unwrap().push((key, body));
    let failing = fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        "503 Service Unavailable"
    } else {
        "200 OK"
    };
    socket
        .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes())
        .await?;
    socket.shutdown().await
}
