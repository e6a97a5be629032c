//! One way to assemble and run a service's gRPC server.

use std::convert::Infallible;
use std::time::Duration;

use anyhow::Context as _;
use crm_auth::AuthLayer;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower::util::option_layer;

use crate::config::ServerConfig;
use crate::telemetry::GrpcTraceLayer;

/// A gRPC server under construction: the domain services, plus health (`grpc.health.v1`),
/// reflection (`v1` and `v1alpha`, so older clients such as grpcurl work), tracing,
/// authentication and the default deadline, all added the same way for every service.
pub struct GrpcServer {
    name: &'static str,
    config: ServerConfig,
    auth: AuthLayer,
    routes: Routes,
    service_names: Vec<&'static str>,
    served: crate::served::Served,
    fallback: Option<Fallback>,
    cors: Option<crate::web::CorsOrigins>,
    rate_limiter: Option<crate::rate_limit::RateLimiter>,
    readiness: Option<ReadinessCheck>,
    audit: Option<crate::audit::CallAudit>,
    site: Option<crate::site::Site>,
}

/// The health service name that answers whether the server can do its work now (its database
/// and broker reachable): what a readiness probe asks. The empty name answers whether the
/// process is alive, whatever they do (what a liveness probe asks).
pub const READINESS: &str = "readiness";

/// How often readiness is checked, and how long one check may take before it counts as failed:
/// an outage shows within a second.
const READINESS_EVERY: Duration = Duration::from_millis(400);
const READINESS_TIMEOUT: Duration = Duration::from_millis(500);

/// Checks whether the server can do its work now.
pub type ReadinessCheck = std::sync::Arc<dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync>;

/// Where calls to paths no service here answers go (the gateway forwards them upstream).
type Fallback = tower::util::BoxCloneSyncService<
    http::Request<axum::body::Body>,
    http::Response<tonic::body::Body>,
    Infallible,
>;

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcServer")
            .field("name", &self.name)
            .field("services", &self.service_names)
            .finish()
    }
}

/// A running server's handle: where it listens.
#[derive(Debug, Clone, Copy)]
pub struct ServerHandle {
    /// The bound address (port 0 resolved).
    pub addr: std::net::SocketAddr,
}

impl GrpcServer {
    /// A server for the service called `name` (used in logs and spans).
    pub fn new(name: &'static str, config: ServerConfig, auth: AuthLayer) -> Self {
        Self {
            name,
            config,
            auth,
            routes: Routes::default(),
            service_names: Vec::new(),
            served: crate::served::Served::default(),
            fallback: None,
            cors: None,
            rate_limiter: None,
            readiness: None,
            audit: None,
            site: None,
        }
    }

    /// Records the server's changes, exports and refusals in `audit`, and serves their listing
    /// (`crm.audit.v1.AuditService`).
    pub fn audit(self, audit: crate::audit::CallAudit) -> Self {
        let max = self.config.max_message_bytes;
        let api = crate::limited!(
            crm_proto::audit::v1::audit_service_server::AuditServiceServer::new(audit.api()),
            max
        );
        let mut server = self.add_service(api);
        server.audit = Some(audit);
        server
    }

    /// The call record whose writer must run beside the server, if it keeps one.
    pub fn call_audit(&self) -> Option<crate::audit::CallAudit> {
        self.audit.clone()
    }

    /// Serves `site` to browsers on the same port (GETs and HEADs; every gRPC and gRPC-Web call
    /// is a POST), over HTTP/1.1 as well as HTTP/2.
    pub fn site(mut self, site: crate::site::Site) -> Self {
        self.site = Some(site);
        self
    }

    /// Reports [`READINESS`] by `check`, run every 400 ms (without one, ready while serving).
    pub fn readiness(mut self, check: ReadinessCheck) -> Self {
        self.readiness = Some(check);
        self
    }

    /// Sends calls to the packages of `prefixes` (path prefixes such as `/crm.customers.v1.`)
    /// that no added service answers to `service` (authentication and rate limits still apply
    /// first). Reflection advertises the services of those packages; calls to any other service
    /// are UNIMPLEMENTED.
    pub fn fallback<S>(mut self, prefixes: &[&str], service: S) -> Self
    where
        S: tower::Service<
                http::Request<axum::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        for prefix in prefixes {
            self.served.add_prefix(prefix);
        }
        self.fallback = Some(tower::util::BoxCloneSyncService::new(service));
        self
    }

    /// Also serves gRPC-Web (HTTP/1.1 and HTTP/2) on the same port, to browsers of `origins`.
    pub fn grpc_web(mut self, origins: crate::web::CorsOrigins) -> Self {
        self.cors = Some(origins);
        self
    }

    /// Limits each principal's calls (checked after authentication).
    pub fn rate_limit(mut self, limit: crate::rate_limit::RateLimit) -> Self {
        self.rate_limiter = Some(crate::rate_limit::RateLimiter::new(limit));
        self
    }

    /// Adds a generated gRPC service. Its name is reported through the health service.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.served.add_service(S::NAME);
        self.routes = self.routes.add_service(svc);
        self
    }

    /// Serves on `listener` until `stop` is cancelled; then reports NOT_SERVING, stops accepting
    /// connections and lets in-flight calls finish (up to the drain timeout).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        // An RPC without an access rule is refused to everybody: a server that would serve one
        // is a release mistake, caught at start-up.
        for name in &self.service_names {
            let coverage = crate::served::policy_coverage(self.auth.policy(), &format!("/{name}/"));
            if !coverage.undeclared.is_empty() {
                anyhow::bail!(
                    "{}: no access rule for {}",
                    self.name,
                    coverage.undeclared.join(", ")
                );
            }
        }
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in &self.service_names {
            reporter.set_service_status(name, ServingStatus::Serving).await;
        }
        reporter
            .set_service_status(READINESS, ServingStatus::Serving)
            .await;
        if let Some(check) = self.readiness.clone() {
            tokio::spawn(watch_readiness(self.name, check, reporter.clone(), stop.clone()));
        }
        // Reflection describes this port only: the services it serves, not the whole suite.
        let advertised = self.served.advertised(crm_proto::FILE_DESCRIPTOR_SET);
        let reflection = || {
            advertised.iter().fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |builder, name| builder.with_service_name(name),
            )
        };
        let reflection_v1 = reflection().build_v1().context("building reflection v1")?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .context("building reflection v1alpha")?;
        let mut routes = self
            .routes
            .add_service(health.clone())
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
        if let Some(fallback) = self.fallback {
            routes = Routes::from(routes.into_axum_router().fallback_service(fallback));
        }

        let addr = listener.local_addr()?;
        let tls_on = self.config.tls.tls_cert.is_some();
        tracing::info!(service = self.name, %addr, tls = tls_on, "serving gRPC");
        let names = self.service_names.clone();
        let on_stop = {
            let stop = stop.clone();
            let reporter = reporter.clone();
            async move {
                stop.cancelled().await;
                for name in names.iter().copied().chain(["", READINESS]) {
                    reporter.set_service_status(name, ServingStatus::NotServing).await;
                }
                tracing::info!("draining in-flight calls");
            }
        };
        let web = self.cors.is_some() || self.site.is_some();
        let failures = (self.config.auth_failure_rate > 0.0).then(|| {
            crate::rate_limit::AuthFailureLimiter::new(crate::rate_limit::RateLimit {
                per_second: self.config.auth_failure_rate,
                burst: self.config.auth_failure_burst,
            })
        });
        let tls = crate::tls::ServerTls::load(&self.config.tls, web)?;
        if !self.config.probe_listen.is_empty() {
            let probes = bind(&self.config.probe_listen).await?;
            tracing::info!(service = self.name, addr = %probes.local_addr()?, "serving health probes in plain text");
            tokio::spawn(serve_probes(probes, health.clone(), stop.clone()));
        }
        let router = Server::builder()
            .accept_http1(web)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .layer(crate::site::SiteLayer::new(self.site))
            .layer(option_layer(self.cors.map(|origins| origins.layer())))
            .layer(option_layer(web.then(tonic_web::GrpcWebLayer::new)))
            .layer(GrpcTraceLayer::new(self.name))
            // Shed before any work is done for a call, but inside the trace so that refusals
            // show in the metrics.
            .layer(crate::overload::ConcurrencyLimitLayer::new(
                self.config.max_concurrent_calls,
            ))
            .layer(crate::deadline::DeadlineLayer::new(self.config.request_timeout))
            .layer(self.served.layer())
            .layer(option_layer(self.audit.map(|audit| audit.layer())))
            .layer(option_layer(failures))
            .layer(self.auth)
            .layer(option_layer(self.rate_limiter))
            .layer(crate::malformed::MalformedRequestLayer)
            .add_routes(routes);
        let server: futures::future::BoxFuture<'_, Result<(), tonic::transport::Error>> =
            match tls {
                Some(tls) => Box::pin(
                    router.serve_with_incoming_shutdown(tls.incoming(listener, stop.clone()), on_stop),
                ),
                None => Box::pin(router.serve_with_incoming_shutdown(
                    TcpIncoming::from(listener).with_nodelay(Some(true)),
                    on_stop,
                )),
            };
        let drain_timeout = self.config.drain_timeout;
        tokio::select! {
            result = server => result.context("gRPC server failed")?,
            () = async { stop.cancelled().await; tokio::time::sleep(drain_timeout).await } => {
                tracing::warn!(service = self.name, "drain timeout reached; closing remaining calls");
            }
        }
        tracing::info!(service = self.name, "gRPC server stopped");
        Ok(())
    }
}

/// Serves only the health service on `listener`, in plain text, until `stop`.
async fn serve_probes<H: tonic_health::pb::health_server::Health>(
    listener: tokio::net::TcpListener,
    health: tonic_health::pb::health_server::HealthServer<H>,
    stop: CancellationToken,
) {
    let served = Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop.cancelled_owned())
        .await;
    if let Err(err) = served {
        tracing::error!("the health probe port failed: {err}");
    }
}

/// Binds a TCP listener (`port 0` picks a free port).
pub async fn bind(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// Runs a service: its gRPC server and its background workers, until `stop` is cancelled.
///
/// On stop the server reports NOT_SERVING and drains in-flight calls first; the workers (outbox
/// relay, consumers) stop after that, so events of the last calls are still published. A worker
/// that dies stops the server and makes this return the error.
pub async fn run(
    server: GrpcServer,
    listener: tokio::net::TcpListener,
    mut workers: crate::Supervisor,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let server_stop = stop.child_token();
    let serve = server.serve(listener, server_stop.clone());
    tokio::pin!(serve);
    let outcome = tokio::select! {
        result = &mut serve => result,
        err = workers.died() => {
            tracing::error!(error = ?err, "stopping: a background worker died");
            server_stop.cancel();
            let _ = serve.await;
            Err(err)
        }
    };
    let stopped = workers.shutdown().await;
    outcome.and(stopped)
}

/// Keeps [`READINESS`] as `check` says until `stop`, logging each change.
async fn watch_readiness(
    service: &'static str,
    check: ReadinessCheck,
    reporter: tonic_health::server::HealthReporter,
    stop: CancellationToken,
) {
    let mut ready = true;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(READINESS_EVERY) => {}
        }
        let now = tokio::time::timeout(READINESS_TIMEOUT, check())
            .await
            .unwrap_or(false);
        if now == ready || stop.is_cancelled() {
            continue;
        }
        ready = now;
        if ready {
            tracing::info!(service, "ready again: the database and the broker answer");
            reporter
                .set_service_status(READINESS, ServingStatus::Serving)
                .await;
        } else {
            tracing::warn!(service, "not ready: the database or the broker does not answer");
            reporter
                .set_service_status(READINESS, ServingStatus::NotServing)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands for a generated server of the customers API; never called.
    #[derive(Clone)]
    struct Customers;

    impl NamedService for Customers {
        const NAME: &'static str = "crm.customers.v1.CustomersService";
    }

    impl tower::Service<http::Request<tonic::body::Body>> for Customers {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
            std::future::ready(Ok(tonic::Status::unimplemented("").into_http()))
        }
    }

    #[tokio::test]
    async fn a_server_refuses_to_serve_an_rpc_without_an_access_rule() {
        let verifier = crm_auth::AuthConfig::with_secret("a test secret of thirty-two bytes!")
            .verifier()
            .await
            .unwrap();
        let only_get_party =
            crm_auth::Policy::new().rpc(Customers::NAME, "GetParty", crm_auth::Access::Authenticated);
        let server = GrpcServer::new(
            "customers",
            ServerConfig::default(),
            AuthLayer::new(verifier, only_get_party),
        )
        .add_service(Customers);
        let listener = bind("127.0.0.1:0").await.unwrap();
        let err = server
            .serve(listener, CancellationToken::new())
            .await
            .expect_err("refused");
        let message = format!("{err:#}");
        assert!(message.contains("no access rule for"), "{message}");
        assert!(
            message.contains("/crm.customers.v1.CustomersService/UpdateParty"),
            "{message}"
        );
        assert!(!message.contains("/GetParty"), "{message}");
    }
}
