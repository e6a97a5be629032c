//! The whole suite in one process: every domain service on its own port with its own
//! database, and the gateway in front of them, talking only over gRPC and NATS. `crm up` runs
//! it; end-to-end tests start it the same way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crm_auth::AuthConfig;
use crm_platform::clock::Clock;
use crm_platform::{Instance, ServerConfig};
use crm_storage::DatabaseConfig;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::services::{self, Running, Service, SuiteSettings};

/// How to start the suite.
pub struct SuiteConfig {
    /// Interface every service listens on.
    pub host: String,
    /// Port of the first service, the others following in [`Service::DOMAINS`] order and the
    /// gateway last; none: each picks a free port.
    pub port_base: Option<u16>,
    /// Whether `port_base` was asked for: a taken port is then an error; otherwise a service
    /// whose port is taken listens on a free one.
    pub ports_pinned: bool,
    /// Each domain service's database URL.
    pub database_urls: HashMap<Service, String>,
    /// gRPC server settings of every service.
    pub server: ServerConfig,
    /// Token verification of every service.
    pub auth: AuthConfig,
    /// Each service's own settings (where the services find each other is set here).
    pub settings: SuiteSettings,
    /// The clock of every service.
    pub clock: Arc<dyn Clock>,
    /// How the event streams are kept.
    pub streams: crm_events::StreamSettings,
}

struct Member {
    service: Service,
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// The running suite.
pub struct Suite {
    members: Vec<Member>,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.members.iter().map(|m| (m.service, m.addr)))
            .finish()
    }
}

impl Suite {
    /// Builds (connects, migrates, binds) and starts every service, the gateway last so that
    /// it knows where the others listen.
    pub async fn start(config: SuiteConfig, nats: async_nats::Client) -> anyhow::Result<Self> {
        Self::start_connected(config, |_| nats.clone()).await
    }

    /// Like [`Suite::start`], each domain service on the NATS connection `nats` gives it (its
    /// own user, as in a deployment).
    pub async fn start_connected(
        config: SuiteConfig,
        nats: impl Fn(Service) -> async_nats::Client,
    ) -> anyhow::Result<Self> {
        let mut suite = Self { members: Vec::new() };
        let listen = |i: usize| match config.port_base {
            Some(base) => {
                let addr = format!("{}:{}", config.host, base as usize + i);
                if config.ports_pinned || std::net::TcpListener::bind(&addr).is_ok() {
                    addr
                } else {
                    format!("{}:0", config.host)
                }
            }
            None => format!("{}:0", config.host),
        };
        // Servers with a certificate speak TLS only, and so do the calls between them.
        let scheme = if config.server.tls.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let url = |addr: SocketAddr| vec![format!("{scheme}://{addr}")];
        let mut settings = config.settings.clone();
        for (i, &service) in Service::DOMAINS.iter().chain([&Service::Gateway]).enumerate() {
            let running = if service == Service::Gateway {
                let gateway = &mut settings.gateway;
                gateway.customers.urls = url(suite.addr(Service::Customers));
                gateway.sales_url = url(suite.addr(Service::Sales));
                gateway.partners_url = url(suite.addr(Service::Partners));
                gateway.marketing_url = url(suite.addr(Service::Marketing));
                gateway.servicedesk_url = url(suite.addr(Service::Servicedesk));
                services::build_gateway(
                    listen(i),
                    config.server.clone(),
                    config.auth.clone(),
                    settings.gateway.clone(),
                )
                .await?
            } else {
                let instance = Instance {
                    listen: listen(i),
                    database: DatabaseConfig {
                        url: config.database_urls.get(&service).cloned().unwrap_or_default(),
                        max_connections: 10,
                        min_connections: 0,
                        ssl_mode: None,
                        ssl_root_cert: None,
                        migrating: crm_storage::Migrating::OnStart,
                    },
                    server: config.server.clone(),
                    auth: config.auth.clone(),
                    clock: config.clock.clone(),
                    streams: config.streams.clone(),
                };
                Running::domain(services::build_domain(service, instance, &settings, nats(service)).await?)
            };
            let addr = running.addr;
            if service == Service::Customers {
                // Services find each other on the suite's own ports.
                settings.sales.customers.urls = url(addr);
            }
            let stop = CancellationToken::new();
            let task = tokio::spawn(running.run(stop.clone()));
            suite.members.push(Member {
                service,
                addr,
                stop,
                task,
            });
        }
        Ok(suite)
    }

    /// Where `service` listens.
    pub fn addr(&self, service: Service) -> SocketAddr {
        self.members
            .iter()
            .find(|m| m.service == service)
            .map(|m| m.addr)
            .unwrap_or_else(|| panic!("{} is not part of the suite", service.name()))
    }

    /// Every service and where it listens, in start order.
    pub fn endpoints(&self) -> impl Iterator<Item = (Service, SocketAddr)> + '_ {
        self.members.iter().map(|m| (m.service, m.addr))
    }

    /// Stops one service (as if its pod went away), letting its in-flight calls finish.
    pub async fn stop_service(&mut self, service: Service) -> anyhow::Result<()> {
        let Some(i) = self.members.iter().position(|m| m.service == service) else {
            return Ok(());
        };
        let member = self.members.remove(i);
        member.stop.cancel();
        member.task.await?
    }

    /// Runs until `stop` is cancelled or a service stops on its own (a failure of the
    /// suite), then stops every service; returns the first failure.
    pub async fn run_until(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        let first = {
            let tasks = self
                .members
                .iter_mut()
                .map(|m| Box::pin(async { (m.service, (&mut m.task).await) }));
            tokio::select! {
                () = stop.cancelled() => None,
                ((service, joined), _, _) = futures::future::select_all(tasks) => {
                    Some(match joined {
                        Ok(Ok(())) => anyhow::anyhow!("{} stopped", service.name()),
                        Ok(Err(err)) => err.context(format!("{} failed", service.name())),
                        Err(err) => anyhow::anyhow!("{} panicked: {err}", service.name()),
                    })
                }
            }
        };
        let rest = self.shutdown().await;
        match first {
            Some(err) => Err(err),
            None => rest,
        }
    }

    /// Stops every service still running (the gateway first), and waits for them.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let mut first_error = None;
        for member in self.members.into_iter().rev() {
            member.stop.cancel();
            match member.task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::error!(service = member.service.name(), error = ?err, "service failed");
                    first_error.get_or_insert(err);
                }
                Err(err) => {
                    first_error.get_or_insert(anyhow::anyhow!("{} panicked: {err}", member.service.name()));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
