//! TLS between clients and services and between the services themselves: a server accepting
//! TLS connections with a certificate it reads again when renewed (and, if configured, only
//! clients with a certificate of the given authority), and the client side of calls to
//! `https://` services.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use crm_tls::{FileStamp, ReloadingCert};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::config::TlsConfig;

/// Longest a client may take over its TLS handshake before its connection is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; beyond them new connections wait in the kernel's backlog, so
/// a flood of connections that never finish their handshake cannot exhaust memory or tasks.
const MAX_HANDSHAKES: usize = 1024;

/// A server's TLS: its certificate and the acceptor presenting it.
pub struct ServerTls {
    cert: Arc<ReloadingCert>,
    acceptor: tokio_rustls::TlsAcceptor,
    reload_every: Duration,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("cert", &self.cert).finish()
    }
}

impl ServerTls {
    /// The TLS `config` asks for (none without a certificate), offering HTTP/2 and, when
    /// `http1` (gRPC-Web from browsers), HTTP/1.1.
    pub fn load(config: &TlsConfig, http1: bool) -> anyhow::Result<Option<Self>> {
        let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
            return Ok(None);
        };
        let cert = ReloadingCert::load(cert, key).context("the server's TLS certificate")?;
        let alpn: &[&[u8]] = if http1 { &[b"h2", b"http/1.1"] } else { &[b"h2"] };
        let server = crm_tls::server_config(cert.clone(), config.tls_client_ca.as_deref(), alpn)?;
        Ok(Some(Self {
            cert,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            reload_every: config.tls_reload_interval,
        }))
    }

    /// The connections accepted on `listener` whose handshake succeeded, until `stop`. Each
    /// handshake runs on its own (a slow client holds up no other); the certificate files are
    /// checked for a renewal every reload interval.
    pub fn incoming(
        self,
        listener: tokio::net::TcpListener,
        stop: CancellationToken,
    ) -> impl Stream<Item = Result<TlsConn, io::Error>> + Send + 'static {
        let (sender, mut connections) = tokio::sync::mpsc::channel(64);
        tokio::spawn(reload(self.cert.clone(), self.reload_every, stop.clone()));
        tokio::spawn(accept(listener, self.acceptor, sender, stop));
        futures::stream::poll_fn(move |cx| connections.poll_recv(cx))
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    connections: tokio::sync::mpsc::Sender<Result<TlsConn, io::Error>>,
    stop: CancellationToken,
) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, connections) = (acceptor.clone(), connections.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let info = tcp.connect_info();
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = connections.send(Ok(TlsConn { stream, info })).await;
                }
                Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Reads the certificate again whenever its files change, until `stop`.
async fn reload(cert: Arc<ReloadingCert>, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match cert.refresh() {
            Ok(true) => tracing::info!("TLS certificate renewed: new connections get the new one"),
            Ok(false) => {}
            Err(err) => {
                tracing::error!("the renewed TLS certificate is unusable, keeping the current one: {err:#}")
            }
        }
    }
}

/// An accepted TLS connection. It reports the TCP peer as a plain connection does, so that
/// what reads the caller's address (rate limits, call records, spans) works alike.
#[derive(Debug)]
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    info: TcpConnectInfo,
}

impl Connected for TlsConn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The client side of calls to `https://` services as `config` says: their certificates checked
/// against its CA file (or the system's authorities) for the name `host`, and its own
/// certificate presented when it has one. Read from the files each time, so a channel made
/// after a renewal uses the renewed certificate.
pub fn client_tls(config: &TlsConfig, host: &str) -> anyhow::Result<ClientTlsConfig> {
    let mut tls = ClientTlsConfig::new().domain_name(host);
    tls = match &config.tls_ca_file {
        Some(ca) => {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            tls.ca_certificate(Certificate::from_pem(pem))
        }
        None => tls.with_native_roots(),
    };
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Ok(tls)
}

/// What the client side's files look like now: a change means channels should be remade.
pub fn client_stamp(config: &TlsConfig) -> FileStamp {
    let files: Vec<_> = [&config.tls_ca_file, &config.tls_cert, &config.tls_key]
        .into_iter()
        .flatten()
        .collect();
    FileStamp::of(&files)
}
