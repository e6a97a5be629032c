//! Tracing and OpenTelemetry: log output, OTLP export when configured, and W3C trace context
//! carried in gRPC metadata so that one request is one trace across services.

use std::sync::OnceLock;
use std::task::{Context, Poll};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::TelemetryConfig;

/// Flushes exported spans and metrics when dropped, and stops the scrape endpoint.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    meters: Option<SdkMeterProvider>,
    scrape: Option<tokio_util::sync::CancellationToken>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(scrape) = self.scrape.take() {
            scrape.cancel();
        }
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {err}");
        }
        if let Some(meters) = self.meters.take()
            && let Err(err) = meters.shutdown()
        {
            eprintln!("flushing metrics failed: {err}");
        }
    }
}

/// Installs the global subscriber: logs to stderr, spans and metrics to OTLP when an endpoint
/// is set, metrics on a Prometheus scrape endpoint when it has an address, and the W3C
/// trace-context propagator. Called within the runtime (the endpoint is served on it).
pub fn init(config: &TelemetryConfig, service_name: &str) -> anyhow::Result<TelemetryGuard> {
    let resource = || {
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service_name.to_string())
            .build()
    };
    // Parent-based: a service keeps a trace when its caller did, so a trace is never cut up.
    let sampler = opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
        opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(config.trace_sample_ratio),
    ));
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_sampler(sampler);
    let exporting = !config.otlp_endpoint.is_empty();
    let scraped = !config.metrics_listen.is_empty();
    if exporting {
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .build()?;
        // Exported from a task on the runtime that drives the tonic exporter's connection.
        let processor =
            opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                exporter,
                opentelemetry_sdk::runtime::Tokio,
            )
            .build();
        builder = builder.with_span_processor(processor);
    }
    let mut meters = None;
    let mut scrape = None;
    if exporting || scraped {
        let mut metrics = SdkMeterProvider::builder().with_resource(resource());
        if exporting {
            use opentelemetry_otlp::WithExportConfig as _;
            let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(config.otlp_endpoint.clone())
                .build()?;
            metrics = metrics.with_reader(
                opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader::builder(
                    metric_exporter,
                    opentelemetry_sdk::runtime::Tokio,
                )
                .build(),
            );
        }
        if scraped {
            let registry = crate::metrics::registry()?;
            let reader = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()?;
            metrics = metrics.with_reader(reader);
            let stop = tokio_util::sync::CancellationToken::new();
            crate::metrics::serve(&config.metrics_listen, registry, stop.clone())?;
            scrape = Some(stop);
        }
        let provider = metrics.build();
        opentelemetry::global::set_meter_provider(provider.clone());
        meters = Some(provider);
    }
    // Nothing exported, nothing recorded: building a span and a data point for every call costs
    // a good part of a cheap call's time.
    let provider = exporting.then(|| builder.build());
    record_rpc_metrics(exporting || scraped);
    install(provider.clone(), &config.log_filter, config.log_format == "json")?;
    Ok(TelemetryGuard {
        provider,
        meters,
        scrape,
    })
}

/// Installs a subscriber whose spans go to `provider`, when there is one (with none, calls are
/// neither traced nor pass a trace context on). Logs go to stderr, filtered by `filter`.
pub fn install(provider: Option<SdkTracerProvider>, filter: &str, json: bool) -> anyhow::Result<()> {
    set_propagator();
    let otel = provider.map(|provider| {
        let tracer = provider.tracer("crm");
        opentelemetry::global::set_tracer_provider(provider);
        tracing_opentelemetry::layer().with_tracer(tracer)
    });
    // Without an exporter spans would only prefix log lines, and the log formats a span's fields
    // when the span is made, whether anything is logged in it or not: for every call, a good part
    // of a cheap call's time. Log lines then carry what they need themselves (the access line
    // its request id), and the log takes no spans.
    let spans_in_log = otel.is_some();
    let log_filter = filter_fn(move |meta| spans_in_log || !meta.is_span());
    let filter = EnvFilter::try_new(filter)?;
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(log_filter),
            )
            .try_init()?;
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(log_filter),
            )
            .try_init()?;
    }
    Ok(())
}

/// Installs the W3C trace-context propagator (idempotent).
pub fn set_propagator() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new()));
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Writes the current span's trace context into outgoing HTTP headers (a forwarded call).
pub fn inject_current_context_headers(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The trace context carried by request headers (`traceparent`, `tracestate`).
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_current_context(metadata: &mut tonic::metadata::MetadataMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut MetadataInjector(metadata));
}

/// A client interceptor that propagates the current trace to the called service.
pub fn propagate_trace(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    inject_current_context(request.metadata_mut());
    Ok(request)
}

/// Tower layer giving every incoming call a span (child of the caller's trace when the request
/// carries `traceparent`) and a log line with its outcome and duration.
#[derive(Debug, Clone)]
pub struct GrpcTraceLayer {
    service: &'static str,
}

impl GrpcTraceLayer {
    /// A layer for the service named `service` (used as a span attribute).
    pub fn new(service: &'static str) -> Self {
        Self { service }
    }
}

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace {
            inner,
            service: self.service,
        }
    }
}

/// The service produced by [`GrpcTraceLayer`].
#[derive(Debug, Clone)]
pub struct GrpcTrace<S> {
    inner: S,
    service: &'static str,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for GrpcTrace<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_string();
        // Spans and metrics are named after the method only when it is one of the API's.
        let method = if crate::served::is_known_method(&path) {
            path.clone()
        } else {
            "unknown".to_string()
        };
        let request_id = request_id(request.headers_mut());
        // Which instance served the call, when several run behind one name.
        let port = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.local_addr())
            .map_or(0, |addr| addr.port());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %method.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = "grpc",
            crm.service = self.service,
            request_id = %request_id,
            server.port = port,
            enduser.id = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        if let Err(err) = span.set_parent(extract_context(request.headers())) {
            tracing::debug!("ignoring trace context: {err:?}");
        }
        // Read only for a log line: formatting it costs on every call.
        let trace_id = {
            let span = span.clone();
            move || span.context().span().span_context().trace_id().to_string()
        };
        let started = std::time::Instant::now();
        let service = self.service;
        // Inner layers (authentication) run inside the span and record the caller on it.
        let fut = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let mut result = fut.await;
                let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                match &mut result {
                    Ok(response) => {
                        if let Ok(value) = http::HeaderValue::from_str(&request_id) {
                            response.headers_mut().insert(REQUEST_ID, value);
                        }
                        // Unary errors are "trailers-only" responses: the status is in the headers.
                        let code = response
                            .headers()
                            .get("grpc-status")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("0")
                            .to_string();
                        tracing::Span::current().record("rpc.grpc.status_code", code.as_str());
                        record_rpc(service, &method, &code, elapsed_ms);
                        // Every call is in the metrics and the traces; the log has the failures,
                        // and every call only when asked for (`RUST_LOG=info,access=debug`):
                        // formatting a line per call costs more than serving a cheap call.
                        if is_server_fault(&code) {
                            tracing::warn!(target: "access", %path, %request_id, grpc_status = %code, elapsed_ms, trace_id = %trace_id(), "call failed");
                        } else {
                            tracing::debug!(target: "access", %path, %request_id, grpc_status = %code, elapsed_ms, trace_id = %trace_id(), "call");
                        }
                    }
                    Err(err) => {
                        record_rpc(service, &method, "2", elapsed_ms);
                        tracing::warn!(target: "access", %path, %request_id, elapsed_ms, trace_id = %trace_id(), "call error: {err}");
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}

/// The trace id of the current span, or empty when it is not traced.
pub fn current_trace_id() -> String {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if span_context.is_valid() {
        span_context.trace_id().to_string()
    } else {
        String::new()
    }
}

/// Whether finished calls are recorded in the `rpc.server.duration` histogram.
static RPC_METRICS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records every finished call in the `rpc.server.duration` histogram, or stops: [`init`] turns
/// it on when metrics are exported, a test with its own meter provider turns it on itself.
pub fn record_rpc_metrics(on: bool) {
    RPC_METRICS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Records a finished call in the `rpc.server.duration` histogram (RED: its count is the rate,
/// its status code attribute the errors, its buckets the durations).
fn record_rpc(service: &'static str, method: &str, code: &str, elapsed_ms: f64) {
    use opentelemetry::KeyValue;
    if !RPC_METRICS.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    static DURATION: OnceLock<opentelemetry::metrics::Histogram<f64>> = OnceLock::new();
    let histogram = DURATION.get_or_init(|| {
        opentelemetry::global::meter("crm.rpc")
            .f64_histogram("rpc.server.duration")
            .with_description("Duration of gRPC calls served")
            .with_unit("ms")
            .build()
    });
    histogram.record(
        elapsed_ms,
        &[
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("crm.service", service),
            KeyValue::new("rpc.method", method.to_string()),
            KeyValue::new("rpc.grpc.status_code", code.to_string()),
        ],
    );
}

/// The header carrying a call's request id, echoed in the response and passed on to the
/// services a call reaches.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The caller's request id when it sent a sensible one, else a new one (written into the
/// request, so that forwarded calls carry it on).
fn request_id(headers: &mut http::HeaderMap) -> String {
    let given = headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
    if let Some(id) = given {
        return id.to_string();
    }
    let id = uuid::Uuid::now_v7().simple().to_string();
    if let Ok(value) = http::HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    id
}

fn is_server_fault(code: &str) -> bool {
    // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS
    matches!(code, "2" | "4" | "12" | "13" | "14" | "15")
}
