//! Configuration blocks shared by every service, composed into the `crm` command line with
//! `#[command(flatten)]`. Every flag has an environment variable and a default that works on one
//! machine.

use std::time::Duration;

use clap::Args;

/// gRPC server settings of one service.
#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Longest a unary call may run when the client sets no shorter deadline (streaming calls,
    /// such as bulk imports and exports, run as long as the client allows).
    #[arg(long = "request-timeout", env = "CRM_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Largest request or response message, in bytes.
    #[arg(long = "max-message-bytes", env = "CRM_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// How long to wait for in-flight calls after a stop signal before closing connections.
    #[arg(long = "drain-timeout", env = "CRM_DRAIN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Calls in progress at once; beyond them new calls are refused with UNAVAILABLE at once
    /// (load shedding) instead of queueing past their deadlines. Health checks are exempt.
    #[arg(
        long = "max-concurrent-calls",
        env = "CRM_MAX_CONCURRENT_CALLS",
        default_value_t = 1000
    )]
    pub max_concurrent_calls: usize,
    /// Failed authentications per second allowed to one peer address; once its burst is spent,
    /// its calls are refused before their tokens are checked (0: no limit). Behind a proxy that
    /// hides client addresses, every client shares the proxy's allowance.
    #[arg(
        long = "auth-failure-rate",
        env = "CRM_AUTH_FAILURE_RATE",
        default_value_t = 10.0
    )]
    pub auth_failure_rate: f64,
    /// Failed authentications one peer address may make at once.
    #[arg(
        long = "auth-failure-burst",
        env = "CRM_AUTH_FAILURE_BURST",
        default_value_t = 100
    )]
    pub auth_failure_burst: u32,
    /// How long a service keeps its call records (changes, exports and refused calls).
    #[arg(long = "audit-retention", env = "CRM_AUDIT_RETENTION", default_value = "400d", value_parser = parse_duration)]
    pub audit_retention: Duration,
    /// TLS of the server and of its calls to other services.
    #[command(flatten)]
    pub tls: TlsConfig,
    /// A second address serving only the health service, in plain text: for probes that cannot
    /// speak TLS (Kubernetes' gRPC probes) when the server does. Empty: none.
    #[arg(long = "probe-listen", env = "CRM_PROBE_LISTEN", default_value = "")]
    pub probe_listen: String,
}

/// TLS settings: the certificate a server presents (read again when its files change), the
/// authority its clients' certificates must come from, and the authority that signed the
/// certificates of the services it calls (the same certificate serving as its client
/// certificate there).
#[derive(Debug, Clone, Args)]
pub struct TlsConfig {
    /// Certificate chain (PEM) the server presents; with it the server speaks TLS only, and it
    /// is also the client certificate of calls to `https://` services.
    #[arg(long = "tls-cert", env = "CRM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long = "tls-key", env = "CRM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// CA (PEM) that must have signed every client's certificate; without it clients need none.
    #[arg(long = "tls-client-ca", env = "CRM_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// CA (PEM) that signed the certificates of the `https://` services this one calls; without
    /// it, the system's authorities.
    #[arg(long = "tls-ca-file", env = "CRM_TLS_CA_FILE")]
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// How often the certificate files are checked for a renewal.
    #[arg(long = "tls-reload-interval", env = "CRM_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub tls_reload_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        defaults()
    }
}

/// Where the customers service answers, for a service that calls it (sales looks parties up
/// there, the gateway routes to it).
#[derive(Debug, Clone, Args)]
pub struct CustomersUpstream {
    /// The customers service's gRPC URLs (several may be given, comma-separated; every address a
    /// name resolves to is used; `crm up` sets it).
    #[arg(
        long = "customers-url",
        env = "CRM_CUSTOMERS_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:50051"
    )]
    pub urls: Vec<String>,
}

/// Logging and tracing settings.
#[derive(Debug, Clone, Args)]
pub struct TelemetryConfig {
    /// Log filter (tracing-subscriber `EnvFilter` syntax).
    #[arg(long = "log-filter", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
    /// Log format: `text` or `json`.
    #[arg(long = "log-format", env = "CRM_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// OTLP/gRPC endpoint for traces (e.g. http://otel-collector:4317); empty disables export.
    #[arg(
        long = "otlp-endpoint",
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        default_value = ""
    )]
    pub otlp_endpoint: String,
    /// Share of traces kept (0 to 1), decided where a trace starts (the gateway, a job): the
    /// services follow the caller's decision, so a trace is kept whole or not at all.
    #[arg(
        long = "trace-sample-ratio",
        env = "OTEL_TRACES_SAMPLER_ARG",
        default_value_t = 1.0,
        value_parser = parse_ratio
    )]
    pub trace_sample_ratio: f64,
    /// Address of the Prometheus scrape endpoint (`GET /metrics`: calls, events, database
    /// pools, the process), e.g. `0.0.0.0:9464`; empty: none.
    #[arg(long = "metrics-listen", env = "CRM_METRICS_LISTEN", default_value = "")]
    pub metrics_listen: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            log_format: "text".into(),
            otlp_endpoint: String::new(),
            trace_sample_ratio: 1.0,
            metrics_listen: String::new(),
        }
    }
}

/// A share between 0 and 1.
fn parse_ratio(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!("{value:?} is not a share between 0 and 1")),
    }
}

/// A settings block as its flags' defaults make it, the environment not read: what tests and
/// embeddings start from.
pub fn defaults<S: clap::Args + clap::FromArgMatches>() -> S {
    let command = S::augment_args(clap::Command::new("defaults"))
        .mut_args(|arg| arg.env(clap::builder::Resettable::Reset));
    let matches = command.get_matches_from(["defaults"]);
    S::from_arg_matches(&matches).expect("every setting has a default")
}

/// Adds `S`'s flags to `command`, but not those it already has: a setting several services
/// read (the same id, flag and variable, such as `--reporting-currency`) appears once, and each
/// service's block reads it from there.
pub fn augment_once<S: clap::Args>(mut command: clap::Command) -> clap::Command {
    let own = S::augment_args(clap::Command::new("block"));
    for arg in own.get_arguments() {
        if !command.get_arguments().any(|a| a.get_id() == arg.get_id()) {
            command = command.arg(arg.clone());
        }
    }
    command
}

/// Parses an ISO 4217 currency code (any case) into upper case.
pub fn parse_currency(s: &str) -> Result<String, String> {
    let code = s.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(format!(
            "{s:?} is not a currency code (three letters, such as USD)"
        ))
    }
}

/// Parses durations such as `500ms`, `30s`, `5m`, `2h`, `365d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let unit_secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!("invalid duration unit in {s:?} (use ms, s, m, h or d)"));
        }
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration {s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_sample_ratio_is_a_share() {
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert_eq!((parse_ratio("0"), parse_ratio("1")), (Ok(0.0), Ok(1.0)));
        for bad in ["1.5", "-0.1", "half", "NaN"] {
            assert!(parse_ratio(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Any text is a duration or a clear refusal; a duration shows its number of units.
        #[test]
        fn any_text_is_a_duration_or_refused(text in "\\PC{0,24}", n in any::<u64>(), unit in "(ms|s|m|h|d|w|)") {
            let _ = parse_duration(&text);
            let written = format!("{n}{unit}");
            match parse_duration(&written) {
                Ok(d) if unit == "ms" => prop_assert_eq!(d, Duration::from_millis(n)),
                Ok(d) => prop_assert_eq!(d.as_secs() % n.max(1), 0),
                Err(reason) => prop_assert!(unit == "w" || reason.contains("too long"), "{}", reason),
            }
        }

        /// A currency is three upper-case letters, whatever was given.
        #[test]
        fn currencies_are_three_letters(text in "\\PC{0,8}") {
            if let Ok(code) = parse_currency(&text) {
                prop_assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()));
            }
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("365d").unwrap(), Duration::from_secs(365 * 86_400));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn currencies() {
        assert_eq!(parse_currency(" eur").unwrap(), "EUR");
        assert!(parse_currency("EURO").is_err());
        assert!(parse_currency("U$D").is_err());
    }
}
