//! How every domain service is built and run, once: connect and migrate its database, prepare
//! the relay of its outbox, bind its listener, then run its gRPC server beside its background
//! workers (the relay, its event consumers, its jobs) under one supervisor.
//!
//! A service declares only what is its own:
//!
//! ```ignore
//! let base = Foundation::connect(DOMAIN, &config.database_url, config.database_max_connections,
//!     &MIGRATIONS, nats).await?;
//! let api = api::MarketingApi::new(base.store(), config);
//! let server = base.server(config.server.clone(), &config.auth, policy::policy()).await?
//!     .add_service(limited!(MarketingServiceServer::new(api), max));
//! Ok(base
//!     .bind(&config.listen, server)
//!     .await?
//!     .consumer(consumers::order_options(), consumers::OrderEvents))
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use crm_events::{Consumer, ConsumerOptions, EventHandler, Relay, StreamSpec};
use crm_storage::{Db, Migrations, Tx};
use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{GrpcServer, Supervisor};

/// A generated gRPC server with the message size limit `max` both ways.
#[macro_export]
macro_rules! limited {
    ($server:expr, $max:expr) => {{
        let max = $max;
        $server
            .max_decoding_message_size(max)
            .max_encoding_message_size(max)
    }};
}

/// A service's database, connected and migrated, and the relay of its outbox: what its API
/// and consumers are built on.
pub struct Foundation {
    name: &'static str,
    db: Db,
    nats: async_nats::Client,
    relay: Relay,
}

impl std::fmt::Debug for Foundation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Foundation").field("name", &self.name).finish()
    }
}

impl Foundation {
    /// Connects to `database_url` with up to `max_connections`, applies the shared tables' and
    /// the service's `migrations`, and prepares the relay into the stream of the domain `name`.
    pub async fn connect(
        name: &'static str,
        database_url: &str,
        max_connections: u32,
        migrations: &Migrations,
        nats: async_nats::Client,
    ) -> anyhow::Result<Self> {
        let db = Db::connect(database_url, max_connections).await?;
        crm_events::migrate_service(&db, migrations)
            .await
            .with_context(|| format!("migrating the {name} database"))?;
        let relay = Relay::new(db.clone(), nats.clone(), StreamSpec::new(name));
        Ok(Self {
            name,
            db,
            nats,
            relay,
        })
    }

    /// The service's database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Wakes the relay at once: call it after committing an event.
    pub fn relay_waker(&self) -> Arc<Notify> {
        self.relay.waker()
    }

    /// The service's gRPC server: `server` settings, tokens verified as `auth` says, every call
    /// authorized by `policy`.
    pub async fn server(
        &self,
        server: crate::ServerConfig,
        auth: &crm_auth::AuthConfig,
        policy: crm_auth::Policy,
    ) -> anyhow::Result<GrpcServer> {
        let verifier = auth.verifier().await?;
        Ok(GrpcServer::new(
            self.name,
            server,
            crm_auth::AuthLayer::new(verifier, policy),
        ))
    }

    /// What the service's handlers write through: the database, and the relay woken after
    /// each commit.
    pub fn store(&self) -> Store {
        Store::new(self.db.clone(), self.relay.waker())
    }

    /// Binds `listen` (port 0 picks a free port) for `server`: a built service, ready to run.
    pub async fn bind(self, listen: &str, server: GrpcServer) -> anyhow::Result<App> {
        let listener = crate::bind(listen).await?;
        Ok(App {
            name: self.name,
            listener,
            db: self.db,
            nats: self.nats,
            relay: self.relay,
            server,
            workers: Vec::new(),
        })
    }
}

/// A service's database and the relay of its outbox: what its handlers read and write through.
/// A commit wakes the relay, so the events a transaction wrote go out at once.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    relay: Arc<Notify>,
}

impl Store {
    /// A store on `db` waking `relay` after commits.
    pub fn new(db: Db, relay: Arc<Notify>) -> Self {
        Self { db, relay }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The relay's wake-up handle (for jobs that commit on their own).
    pub fn relay(&self) -> &Arc<Notify> {
        &self.relay
    }

    /// Begins a transaction.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.db.begin().await
    }

    /// Commits `tx` and wakes the outbox relay.
    pub async fn commit(&self, tx: Tx) -> sqlx::Result<()> {
        tx.commit().await?;
        self.relay.notify_one();
        Ok(())
    }

    /// A pooled connection, for reads outside a transaction.
    pub async fn conn(&self) -> sqlx::Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.db.pool().acquire().await
    }
}

/// A background worker not yet started: it gets the stop token when the service runs.
type Worker = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// A built, not yet running service: bound, with its server and the workers it declared.
pub struct App {
    name: &'static str,
    listener: tokio::net::TcpListener,
    db: Db,
    nats: async_nats::Client,
    relay: Relay,
    server: GrpcServer,
    workers: Vec<(String, Worker)>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("name", &self.name)
            .field("addr", &self.listener.local_addr().ok())
            .field(
                "workers",
                &self.workers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl App {
    /// Declares an event consumer, run under the name of its durable consumer.
    pub fn consumer<H: EventHandler>(self, options: ConsumerOptions, handler: H) -> Self {
        let name = options.durable.clone();
        let consumer = Consumer::new(self.db.clone(), self.nats.clone(), options, handler);
        self.worker(name, move |stop| consumer.run(stop))
    }

    /// Declares a background worker (a job's timer, a delivery loop). It must run until its
    /// stop token is cancelled; ending earlier stops the service with an error.
    pub fn worker<F, Fut>(mut self, name: impl Into<String>, worker: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.workers
            .push((name.into(), Box::new(move |stop| Box::pin(worker(stop)))));
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The service's database (tests inspect it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `stop` is cancelled, with the outbox relay and every declared worker running;
    /// then drains calls, stops the workers and closes the database. A worker that dies stops
    /// the service and is the error returned.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut supervisor = Supervisor::new();
        let relay = self.relay;
        supervisor.spawn(format!("{}-outbox-relay", self.name), move |stop| relay.run(stop));
        for (name, worker) in self.workers {
            supervisor.spawn(name, worker);
        }
        let result = crate::run(self.server, self.listener, supervisor, stop).await;
        self.db.close().await;
        result
    }
}
