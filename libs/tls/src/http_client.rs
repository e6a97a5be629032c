//! A small HTTP client for the documents and webhooks the suite talks to (JWKS, notification
//! gateways): HTTPS unless plain HTTP is allowed explicitly, with a connect timeout, a deadline
//! for the whole exchange and a cap on the body read.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long an exchange may take and how much it may read.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Establishing the TCP connection.
    pub connect: Duration,
    /// The whole exchange, from connecting to the end of the body.
    pub total: Duration,
    /// The largest response body read; a longer one is an error.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// An HTTP/1.1 client over hyper and rustls.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    limits: HttpLimits,
    allow_http: bool,
}

impl HttpClient {
    /// A client trusting the system's roots and those in `ca_file`; it refuses `http://` URLs
    /// unless `allow_http`.
    pub fn new(ca_file: Option<&Path>, allow_http: bool, limits: HttpLimits) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(limits.connect));
        let builder =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(crate::client_config(ca_file)?);
        let connector = if allow_http {
            builder.https_or_http()
        } else {
            builder.https_only()
        }
        .enable_http1()
        .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            limits,
            allow_http,
        })
    }

    /// Sends `request`, returning the status and the body (read in full, within the limits).
    pub async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> anyhow::Result<(http::StatusCode, Bytes)> {
        match request.uri().scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_http => {}
            Some("http") => anyhow::bail!(
                "plain http:// is refused (only https://): what is fetched in the clear can be changed on the way"
            ),
            other => anyhow::bail!("unsupported URL scheme {:?} (only https://)", other.unwrap_or("")),
        }
        let limits = self.limits;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| anyhow::anyhow!(chain(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), limits.max_body_bytes)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading the response: {e}"))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(limits.total, exchange)
            .await
            .with_context(|| format!("no complete answer within {:?}", limits.total))?
    }

    /// GETs `url`, accepting `accept`; any status but 200 is an error.
    pub async fn get(&self, url: &str, accept: &str) -> anyhow::Result<Bytes> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, accept)
            .header(http::header::USER_AGENT, "crm")
            .body(Full::default())
            .with_context(|| format!("invalid URL {url}"))?;
        let (status, body) = self.send(request).await.with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(status == http::StatusCode::OK, "GET {url} answered {status}");
        Ok(body)
    }
}

/// An error and its causes on one line (hyper's own message hides the cause).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
