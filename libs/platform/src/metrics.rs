//! The Prometheus scrape endpoint (`--metrics-listen`, `GET /metrics`): every metric the suite
//! records through OpenTelemetry (calls by method and status, the outbox's backlog and age,
//! consumers' lag, redeliveries and dead letters, database pools), in Prometheus's text format,
//! with the process's own (CPU, memory, open files, start time). It is served besides OTLP, for
//! clusters that scrape rather than receive.

use std::net::SocketAddr;

use anyhow::Context as _;
use prometheus::{Encoder as _, TextEncoder};
use tokio_util::sync::CancellationToken;

/// A registry the meter provider's Prometheus reader writes into, with the process collector.
pub fn registry() -> anyhow::Result<prometheus::Registry> {
    let registry = prometheus::Registry::new();
    #[cfg(target_os = "linux")]
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .context("registering the process metrics")?;
    Ok(registry)
}

/// Serves `registry` at `GET /metrics` on `listen` until `stop`; binds before returning, so a
/// taken port fails the start.
pub fn serve(
    listen: &str,
    registry: prometheus::Registry,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("--metrics-listen {listen}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move { scrape(&registry) }
        }),
    );
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(err) = served {
            tracing::warn!("the metrics endpoint stopped: {err}");
        }
    });
    tracing::info!(%addr, "serving Prometheus metrics at /metrics");
    Ok(addr)
}

/// The registry's metrics in Prometheus's text format.
fn scrape(registry: &prometheus::Registry) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    match encoder.encode(&registry.gather(), &mut body) {
        Ok(()) => (
            http::StatusCode::OK,
            [(http::header::CONTENT_TYPE, encoder.format_type().to_string())],
            body,
        )
            .into_response(),
        Err(err) => (
            http::StatusCode::INTERNAL_SERVER_ERROR,
            [(http::header::CONTENT_TYPE, "text/plain".to_string())],
            err.to_string().into_bytes(),
        )
            .into_response(),
    }
}

/// Reports `service`'s database pool on every collection: connections in use, idle, and the
/// most it opens (a pool at its most, with calls waiting, is a service short of connections).
pub fn watch_pool(service: &'static str, db: crm_storage::Db) {
    use opentelemetry::KeyValue;
    opentelemetry::global::meter("crm.db")
        .u64_observable_gauge("crm.db.pool.connections")
        .with_description("Connections of the service's database pool, by state (used, idle, max)")
        .with_unit("{connection}")
        .with_callback(move |gauge| {
            let pool = db.pool();
            let size = u64::from(pool.size());
            let idle = pool.num_idle() as u64;
            let max = u64::from(pool.options().get_max_connections());
            for (state, value) in [("used", size.saturating_sub(idle)), ("idle", idle), ("max", max)] {
                gauge.observe(
                    value,
                    &[
                        KeyValue::new("crm.service", service),
                        KeyValue::new("state", state),
                    ],
                );
            }
        })
        .build();
}

/// Records whether `service` reached `dependency` (`database`, `nats`) at its last readiness
/// check (the kubelet's probe asks every few seconds).
pub fn dependency_up(service: &'static str, dependency: &'static str, up: bool) {
    use opentelemetry::KeyValue;
    static UP: std::sync::OnceLock<opentelemetry::metrics::Gauge<u64>> = std::sync::OnceLock::new();
    UP.get_or_init(|| {
        opentelemetry::global::meter("crm.health")
            .u64_gauge("crm.dependency.up")
            .with_description(
                "Whether the service reached the dependency at its last readiness check (1) or not (0)",
            )
            .build()
    })
    .record(
        u64::from(up),
        &[
            KeyValue::new("crm.service", service),
            KeyValue::new("dependency", dependency),
        ],
    );
}
