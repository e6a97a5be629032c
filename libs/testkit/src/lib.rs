//! Test helpers: a nats-server with its own JetStream store per test, a fresh database per test
//! (a temporary SQLite file, or a uuid-named PostgreSQL database when `CRM_TEST_POSTGRES_URL` is
//! set), development tokens, and the [`backend_tests!`] macro that runs a test on both backends.
//!
//! Logs are printed only when `TEST_LOG` is set.

pub mod bench;
mod db;
pub mod fixtures;
mod nats;
mod postgres_tls;
mod running;

use std::time::Duration;

pub use crm_storage::Backend;
pub use db::{TestDb, allow_connections};
pub use nats::{TestNats, TestNatsUser, free_port};
pub use postgres_tls::TlsPostgres;
pub use running::{Running, Watched, run, start};

/// The HS256 secret test services verify tokens with.
pub const TEST_SECRET: &str = "crm-test-secret-at-least-32-bytes-long";

/// Installs the test binary's subscriber (once): spans get OpenTelemetry contexts and are kept
/// in memory (see [`finished_spans`]), so trace propagation can be checked, and logs are
/// printed only when `TEST_LOG` is set (its value is the filter, e.g. `debug`).
pub fn init_logging() {
    spans();
    meters();
}

struct Meters {
    provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    exporter: opentelemetry_sdk::metrics::InMemoryMetricExporter,
}

fn meters() -> &'static Meters {
    static METERS: std::sync::OnceLock<Meters> = std::sync::OnceLock::new();
    METERS.get_or_init(|| {
        let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(opentelemetry_sdk::metrics::PeriodicReader::builder(exporter.clone()).build())
            .build();
        opentelemetry::global::set_meter_provider(provider.clone());
        crm_platform::telemetry::record_rpc_metrics(true);
        Meters { provider, exporter }
    })
}

/// One recorded data point of a metric: its attributes and its value (a histogram's count).
#[derive(Debug, Clone)]
pub struct MetricPoint {
    /// Attribute key to value, as text.
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The gauge's last value, the sum's total or the histogram's count of recordings.
    pub value: f64,
}

/// The current data points of the metric called `name`, as an OpenTelemetry exporter receives
/// them after a flush (needs [`init_logging`] first, which every test of [`backend_tests!`]
/// does).
pub fn metric_points(name: &str) -> Vec<MetricPoint> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    let m = meters();
    m.exporter.reset();
    let _ = m.provider.force_flush();
    let mut out = Vec::new();
    let attributes = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
        kvs.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect()
    };
    for resource in m.exporter.get_finished_metrics().unwrap_or_default() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|metric| metric.name() == name) {
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Gauge(g)) => {
                        out.extend(g.data_points().map(|p| MetricPoint {
                            attributes: attributes(&mut p.attributes()),
                            value: p.value() as f64,
                        }))
                    }
                    AggregatedMetrics::F64(MetricData::Gauge(g)) => {
                        out.extend(g.data_points().map(|p| MetricPoint {
                            attributes: attributes(&mut p.attributes()),
                            value: p.value(),
                        }))
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        out.extend(h.data_points().map(|p| MetricPoint {
                            attributes: attributes(&mut p.attributes()),
                            value: p.count() as f64,
                        }))
                    }
                    AggregatedMetrics::U64(MetricData::Sum(s)) => {
                        out.extend(s.data_points().map(|p| MetricPoint {
                            attributes: attributes(&mut p.attributes()),
                            value: p.value() as f64,
                        }))
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

fn spans() -> &'static opentelemetry_sdk::trace::InMemorySpanExporter {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    static EXPORTER: std::sync::OnceLock<opentelemetry_sdk::trace::InMemorySpanExporter> =
        std::sync::OnceLock::new();
    EXPORTER.get_or_init(|| {
        crm_platform::telemetry::set_propagator();
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let logs = std::env::var("TEST_LOG").ok().map(|filter| {
            tracing_subscriber::fmt::layer().with_test_writer().with_filter(
                tracing_subscriber::EnvFilter::new(if filter.is_empty() { "info".into() } else { filter }),
            )
        });
        let _ = tracing_subscriber::registry()
            .with(otel.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .with(logs)
            .try_init();
        exporter
    })
}

/// Every span finished so far in this test process (each test runs in its own process under
/// nextest), as an OpenTelemetry exporter received it.
pub fn finished_spans() -> Vec<opentelemetry_sdk::trace::SpanData> {
    spans().get_finished_spans().unwrap_or_default()
}

/// Auth settings matching the tokens this kit mints.
pub fn auth_config() -> crm_auth::AuthConfig {
    crm_auth::AuthConfig::with_secret(TEST_SECRET)
}

/// A token for `user` with `roles`, valid for an hour.
pub fn token(user: &str, roles: &[crm_auth::Role]) -> String {
    token_with(crm_auth::Claims::new(user, roles, Duration::from_secs(3600)))
}

/// A token with the given claims.
pub fn token_with(claims: crm_auth::Claims) -> String {
    crm_auth::Signer::hs256(TEST_SECRET.as_bytes())
        .sign(&claims)
        .expect("signing a test token")
}

/// A request carrying `token` as a bearer token.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every item of a paged list and the number of pages it took: `page` reads the page at a
/// token (empty for the first) and returns its items and the next token. Panics when a list
/// does not end within 1,000 pages or returns an empty page with a next token.
pub async fn all_pages<T, F, Fut>(mut page: F) -> (Vec<T>, usize)
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = (Vec<T>, String)>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    for pages in 1..=1000 {
        let (mut found, next) = page(token).await;
        assert!(
            !found.is_empty() || next.is_empty(),
            "an empty page with a next token"
        );
        items.append(&mut found);
        if next.is_empty() {
            return (items, pages);
        }
        token = next;
    }
    panic!("the list did not end within 1,000 pages");
}

/// Generates, for each named `async fn name(backend: Backend)`, a test on SQLite and one on
/// PostgreSQL. The PostgreSQL variant needs `CRM_TEST_POSTGRES_URL`; without it the test is
/// reported and returns, unless `CRM_TEST_REQUIRE_POSTGRES` is set, in which case it fails.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::init_logging();
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::init_logging();
                    if $crate::postgres_available() {
                        super::$name($crate::Backend::Postgres).await
                    }
                }
            )*
        }
    };
}

/// Whether PostgreSQL tests can run: `CRM_TEST_POSTGRES_URL` is set. Panics when it is not but
/// `CRM_TEST_REQUIRE_POSTGRES` is, so CI cannot silently skip a backend.
pub fn postgres_available() -> bool {
    if std::env::var_os("CRM_TEST_POSTGRES_URL").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CRM_TEST_REQUIRE_POSTGRES").is_none(),
        "CRM_TEST_REQUIRE_POSTGRES is set but CRM_TEST_POSTGRES_URL is not"
    );
    eprintln!("CRM_TEST_POSTGRES_URL not set: PostgreSQL variant not run");
    false
}

/// A lazily connecting channel to a service listening on `addr`.
pub fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("valid URI")
        .connect_lazy()
}

/// The fields named in an INVALID_ARGUMENT status (asserting that it is one).
pub fn violated(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    crm_platform::errors::violated_fields(status)
}
