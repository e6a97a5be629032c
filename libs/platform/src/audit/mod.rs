//! The record of calls every domain service keeps (`crm.audit.v1`): each call that changes
//! something or exports data, and each call refused for want of identity or permission, with who
//! made it, which record it was about, how it ended, and its request and trace ids. Never a token.
//!
//! [`AuditLayer`] sits in the server stack outside authentication, so it sees refusals too; the
//! handlers (see `grpc_handlers!`) tell it the caller and the record through the [`AuditSlot`]
//! it puts in the request. Records are queued and written in batches by [`CallAudit::writer`],
//! off the call's path; a full queue drops records (counted in `crm.audit.dropped`) rather than
//! slowing calls down. They are kept for the retention period, then purged.

mod api;
pub(crate) mod methods;
mod store;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crm_auth::Principal;
use crm_proto::audit::v1 as pb;
use crm_storage::Db;
use tokio::sync::mpsc;

use crate::inspect::{Inspected, OnResponse};
use tokio_util::sync::CancellationToken;

pub use api::AuditApi;

/// Migrations of the `crm_call_audit` table, applied to every service's database.
pub static MIGRATIONS: crm_storage::Migrations = crm_storage::Migrations {
    table: "_crm_platform_migrations",
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
};

/// Records waiting to be written; beyond this many, new ones are dropped.
const QUEUE: usize = 10_000;
/// Records written per statement batch.
const BATCH: usize = 500;
/// How often records past the retention period are purged (at most).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// A record and when it happened (microseconds since the epoch).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    at: i64,
    record: pb::CallRecord,
}

/// One service's call record: the queue its server's [`AuditLayer`] fills, and the writer that
/// empties it into the service's database.
#[derive(Debug, Clone)]
pub struct CallAudit {
    service: &'static str,
    db: Db,
    retention: Duration,
    queue: mpsc::Sender<Entry>,
    receiver: Arc<Mutex<Option<mpsc::Receiver<Entry>>>>,
}

impl CallAudit {
    /// The call record of `service`, kept in `db` for `retention`.
    pub fn new(service: &'static str, db: Db, retention: Duration) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        Self {
            service,
            db,
            retention,
            queue,
            receiver: Arc::new(Mutex::new(Some(receiver))),
        }
    }

    /// The layer that records the calls of a server.
    pub fn layer(&self) -> AuditLayer {
        AuditLayer { audit: self.clone() }
    }

    /// The API listing the records.
    pub fn api(&self) -> AuditApi {
        AuditApi::new(self.service, self.db.clone())
    }

    fn submit(&self, entry: Entry) {
        if self.queue.try_send(entry).is_err() {
            dropped().add(1, &[opentelemetry::KeyValue::new("crm.service", self.service)]);
            tracing::warn!(
                service = self.service,
                "call record dropped: the audit queue is full"
            );
        }
    }

    /// Writes queued records in batches until `stop`, then what is left; purges records past
    /// the retention period every hour. Run once per service (a second call returns at once).
    pub async fn writer(self, stop: CancellationToken) -> anyhow::Result<()> {
        let Some(mut receiver) = self.receiver.lock().ok().and_then(|mut r| r.take()) else {
            return Ok(());
        };
        // A short retention (a test's) is kept to within a period of itself.
        let mut purge =
            tokio::time::interval(PURGE_EVERY.min(self.retention).max(Duration::from_millis(100)));
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = receiver.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return Ok(());
                    }
                    self.write(&mut batch, &stop).await;
                }
                _ = purge.tick() => self.purge().await,
                () = stop.cancelled() => {
                    // The server has drained: what its last calls queued is written.
                    receiver.close();
                    while receiver.recv_many(&mut batch, BATCH).await > 0 {
                        self.write(&mut batch, &stop).await;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Writes `batch`, retrying while the database is out (until `stop`).
    async fn write(&self, batch: &mut Vec<Entry>, stop: &CancellationToken) {
        loop {
            let written = async { store::insert(&mut *self.db.pool().acquire().await?, batch).await }.await;
            match written {
                Ok(()) => break,
                Err(err) if stop.is_cancelled() => {
                    tracing::error!(service = self.service, records = batch.len(), error = %err, "call records lost at stop");
                    break;
                }
                Err(err) => {
                    tracing::warn!(service = self.service, records = batch.len(), error = %err, "writing call records; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        }
        batch.clear();
    }

    async fn purge(&self) {
        let cutoff =
            crate::time::now_micros() - i64::try_from(self.retention.as_micros()).unwrap_or(i64::MAX);
        loop {
            let purged =
                async { store::purge(&mut *self.db.pool().acquire().await?, cutoff, 10_000).await }.await;
            match purged {
                Ok(n) if n >= 10_000 => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(
                            service = self.service,
                            purged = n,
                            "call records past retention purged"
                        );
                    }
                    return;
                }
                Err(err) => {
                    tracing::warn!(service = self.service, error = %err, "purging call records");
                    return;
                }
            }
        }
    }

    /// Runs the retention purge now (tests; the writer runs it every hour).
    pub async fn purge_now(&self) {
        self.purge().await;
    }
}

fn dropped() -> &'static opentelemetry::metrics::Counter<u64> {
    static DROPPED: std::sync::OnceLock<opentelemetry::metrics::Counter<u64>> = std::sync::OnceLock::new();
    DROPPED.get_or_init(|| {
        opentelemetry::global::meter("crm.audit")
            .u64_counter("crm.audit.dropped")
            .with_description("Call records dropped because the audit queue was full")
            .build()
    })
}

/// What a handler tells the [`AuditLayer`] about a call it served: who called and which record
/// it was about. The layer puts one in the extensions of each request it records.
#[derive(Debug, Clone)]
pub struct AuditSlot {
    method: &'static methods::Method,
    noted: Arc<Mutex<Noted>>,
}

#[derive(Debug, Default)]
struct Noted {
    actor_id: String,
    roles: Vec<String>,
    record_id: String,
}

impl AuditSlot {
    /// Notes the caller.
    pub fn note_caller(&self, principal: &Principal) {
        if let Ok(mut noted) = self.noted.lock() {
            noted.actor_id.clone_from(&principal.user_id);
            noted.roles = principal.roles.iter().map(|r| r.as_str().to_string()).collect();
        }
    }

    /// Notes the caller and the record the request names.
    pub fn note_request<M: prost::Message>(&self, principal: &Principal, request: &M) {
        self.note_caller(principal);
        let record_id = methods::subject(&self.method.input, &request.encode_to_vec());
        if let Ok(mut noted) = self.noted.lock() {
            noted.record_id = record_id;
        }
    }

    /// Notes the record a response names, when the request named none (a creation). Reads are
    /// left alone: their responses can be long, and a read is recorded only when refused.
    pub fn note_response<M: prost::Message>(&self, response: &M) {
        if !self.method.recorded {
            return;
        }
        let Ok(mut noted) = self.noted.lock() else { return };
        if noted.record_id.is_empty() {
            noted.record_id = methods::subject(&self.method.output, &response.encode_to_vec());
        }
    }
}

/// Tower layer of [`CallAudit`].
#[derive(Debug, Clone)]
pub struct AuditLayer {
    audit: CallAudit,
}

impl<S> tower::Layer<S> for AuditLayer {
    type Service = Audited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Audited {
            inner,
            audit: self.audit.clone(),
        }
    }
}

/// The service produced by [`AuditLayer`].
#[derive(Debug, Clone)]
pub struct Audited<S> {
    inner: S,
    audit: CallAudit,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for Audited<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Inspected<S::Future, Recording>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Probes are public: never refused, never recorded.
        if crate::overload::is_probe(request.uri().path()) {
            return Inspected::new(self.inner.call(request), None);
        }
        let method = methods::method(request.uri().path());
        let slot = method.map(|method| AuditSlot {
            method,
            noted: Arc::default(),
        });
        if let Some(slot) = &slot {
            request.extensions_mut().insert(slot.clone());
        }
        let recording = Recording {
            audit: self.audit.clone(),
            method,
            slot,
            request_id: request.headers().get(&crate::telemetry::REQUEST_ID).cloned(),
            peer: request
                .extensions()
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(|info| info.remote_addr())
                .map(|addr| addr.ip()),
        };
        Inspected::new(self.inner.call(request), Some(recording))
    }
}

/// What is known of a call before it runs, kept to record it once it has ended.
#[derive(Debug)]
pub struct Recording {
    audit: CallAudit,
    method: Option<&'static methods::Method>,
    slot: Option<AuditSlot>,
    request_id: Option<http::HeaderValue>,
    peer: Option<std::net::IpAddr>,
}

impl<B> OnResponse<B> for Recording {
    fn on_response(self, response: &mut http::Response<B>) {
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(tonic::Code::Ok, tonic::Code::from_i32);
        let refused = matches!(code, tonic::Code::Unauthenticated | tonic::Code::PermissionDenied);
        if !refused && !self.method.is_some_and(|m| m.recorded) {
            return;
        }
        let mut record = pb::CallRecord {
            service: self.audit.service.to_string(),
            method: self
                .method
                .map_or_else(|| "unknown".to_string(), |m| m.path.clone()),
            outcome: code_name(code).to_string(),
            message: response
                .headers()
                .get("grpc-message")
                .map(|v| crate::malformed::percent_decode(v.as_bytes()))
                .unwrap_or_default(),
            request_id: self
                .request_id
                .and_then(|v| v.to_str().ok().map(str::to_string))
                .unwrap_or_default(),
            trace_id: crate::telemetry::current_trace_id(),
            peer: self.peer.map(|ip| ip.to_string()).unwrap_or_default(),
            ..Default::default()
        };
        if let Some(noted) = self.slot.as_ref().and_then(|s| s.noted.lock().ok()) {
            record.actor_id.clone_from(&noted.actor_id);
            record.roles.clone_from(&noted.roles);
            record.record_id.clone_from(&noted.record_id);
        }
        // A call the access policy refused never reached a handler: the authentication layer
        // leaves the caller on the response.
        if record.actor_id.is_empty()
            && let Some(principal) = response.extensions().get::<Principal>()
        {
            record.actor_id.clone_from(&principal.user_id);
            record.roles = principal.roles.iter().map(|r| r.as_str().to_string()).collect();
        }
        self.audit.submit(Entry {
            at: crate::time::now_micros(),
            record,
        });
    }
}

/// The canonical name of a gRPC status code (`PERMISSION_DENIED`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_canonical_names() {
        assert_eq!(code_name(tonic::Code::PermissionDenied), "PERMISSION_DENIED");
    }
}
