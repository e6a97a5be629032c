//! How every domain service is built and run, once: connect and migrate its database, prepare
//! the relay of its outbox, bind its listener, then run its gRPC server beside its background
//! workers (the relay, its event consumers, its jobs) under one supervisor.
//!
//! A service declares only what is its own: its name, migrations and settings block, and how
//! its API, consumers and jobs are built on the [`Foundation`]:
//!
//! ```ignore
//! pub struct Marketing;
//!
//! impl crm_platform::Service for Marketing {
//!     const NAME: &'static str = "marketing";
//!     type Settings = MarketingSettings;
//!     const MIGRATIONS: &'static Migrations = &MIGRATIONS;
//!
//!     async fn build(base: Foundation, settings: MarketingSettings) -> anyhow::Result<App> {
//!         let api = api::MarketingApi::new(base.store(), Arc::new(settings));
//!         let server = base.server(policy::policy()).await?
//!             .add_service(limited!(MarketingServiceServer::new(api), base.max_message_bytes()));
//!         Ok(base.bind(server).await?
//!             .consumer(consumers::order_options(), consumers::OrderEvents))
//!     }
//! }
//! ```
//!
//! [`build`] runs it: `crm serve marketing`, `crm up` and the tests all start a service so.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use crm_auth::AuthConfig;
use crm_events::permissions::Reading;
use crm_events::{Consumer, ConsumerOptions, EventHandler, Relay, StreamSettings, StreamSpec};
use crm_storage::{DatabaseConfig, Db, Migrating, Migrations, Tx};
use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::{GrpcServer, ServerConfig, Supervisor};

/// A domain service of the suite, as it declares itself to the platform.
pub trait Service: Send + Sync + 'static {
    /// Its domain: stream `CRM_<NAME>`, subjects `crm.<name>.>`, its SQLite file, its logs.
    const NAME: &'static str;
    /// Its own settings: the flags (and environment variables) `crm serve <name>` adds to
    /// those every service has.
    type Settings: clap::Args + Clone + std::fmt::Debug + Send + Sync + 'static;

    /// Its migrations.
    const MIGRATIONS: &'static Migrations;

    /// The durable consumers it reads other domains' events with: what its NATS user is allowed
    /// to read (see [`crm_events::permissions`]). A consumer it builds that is not listed here
    /// stops it at start-up, before a deployment finds its user cannot read.
    const READS: &'static [Reading];

    /// Builds its API, consumers and jobs on `base` (connected and migrated).
    fn build(base: Foundation, settings: Self::Settings) -> impl Future<Output = anyhow::Result<App>> + Send;
}

/// Builds service `S` as `instance` says: connects to its database (migrating it) and NATS,
/// binds its listener, and declares its consumers and jobs. Run it with
/// [`App::run_until_stopped`].
pub async fn build<S: Service>(
    instance: Instance,
    settings: S::Settings,
    nats: async_nats::Client,
) -> anyhow::Result<App> {
    let base = Foundation::connect(S::NAME, instance, S::MIGRATIONS, nats).await?;
    let app = S::build(base, settings).await?;
    app.check_reads(S::READS)?;
    Ok(app)
}

/// Applies the shared event tables' and service `S`'s migrations to `db`.
pub async fn migrate<S: Service>(db: &Db) -> anyhow::Result<()> {
    prepare::<S>(db, Migrating::OnStart).await
}

/// Brings `db`'s schemas (the shared tables' and service `S`'s) to this binary's versions as
/// `migrating` says (verifying: only checks that they are), or refuses naming both versions.
pub async fn prepare<S: Service>(db: &Db, migrating: Migrating) -> anyhow::Result<()> {
    prepare_all(db, S::MIGRATIONS, migrating)
        .await
        .with_context(|| format!("the {} database", S::NAME))
}

/// Brings every schema of a service's database (the shared tables: events, import keys, call
/// records; then the service's own) to the binary's versions as `migrating` says, or refuses
/// naming both versions.
async fn prepare_all(db: &Db, own: &Migrations, migrating: Migrating) -> anyhow::Result<()> {
    db.prepare(&crate::audit::MIGRATIONS, migrating).await?;
    crm_events::prepare_service(db, own, migrating).await
}

/// How one instance of a domain service runs, the same for every service: where it listens,
/// its database, its gRPC server's limits, whose tokens it trusts and the clock its rules read.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Its database.
    pub database: DatabaseConfig,
    /// gRPC server settings.
    pub server: ServerConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// The time source (a manual clock in tests).
    pub clock: Arc<dyn Clock>,
    /// How the event streams are kept (replicas, size limit).
    pub streams: StreamSettings,
}

impl Instance {
    /// An instance on the database at `database_url`: a free loopback port, 10 connections,
    /// the default server limits and the system clock.
    pub fn new(database_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            listen: "127.0.0.1:0".into(),
            database: DatabaseConfig {
                url: database_url.into(),
                max_connections: 10,
                min_connections: 0,
                ssl_mode: None,
                ssl_root_cert: None,
                migrating: Migrating::OnStart,
            },
            server: ServerConfig::default(),
            auth,
            clock: Arc::new(SystemClock),
            streams: StreamSettings::default(),
        }
    }
}

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
    instance: Instance,
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
    /// Connects to the database `instance` names, applies the shared tables' and the service's
    /// `migrations`, and prepares the relay into the stream of the domain `name`.
    async fn connect(
        name: &'static str,
        instance: Instance,
        migrations: &Migrations,
        nats: async_nats::Client,
    ) -> anyhow::Result<Self> {
        let db = Db::connect_with(
            &instance.database.url,
            instance.database.max_connections,
            instance.database.min_connections,
        )
        .await?;
        prepare_all(&db, migrations, instance.database.migrating)
            .await
            .with_context(|| format!("the {name} database"))?;
        crate::metrics::watch_pool(name, db.clone());
        let relay = Relay::new(
            db.clone(),
            nats.clone(),
            StreamSpec::new(name).with(&instance.streams),
        );
        Ok(Self {
            name,
            instance,
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

    /// The clock the service's rules read.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.instance.clock.clone()
    }

    /// The JetStream API on the service's NATS connection (what its event handlers purge with
    /// when a party is erased).
    pub fn jetstream(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.nats.clone())
    }

    /// How the service speaks TLS, as a server and to the services it calls.
    pub fn tls(&self) -> &crate::config::TlsConfig {
        &self.instance.server.tls
    }

    /// The largest message the service's gRPC services take or give (see [`limited!`]).
    pub fn max_message_bytes(&self) -> usize {
        self.instance.server.max_message_bytes
    }

    /// The service's gRPC server: tokens verified as the instance's auth settings say, every
    /// call authorized by `policy`.
    pub async fn server(&self, policy: crm_auth::Policy) -> anyhow::Result<GrpcServer> {
        let verifier = self.instance.auth.verifier().await?;
        let audit =
            crate::audit::CallAudit::new(self.name, self.db.clone(), self.instance.server.audit_retention);
        Ok(GrpcServer::new(
            self.name,
            self.instance.server.clone(),
            crm_auth::AuthLayer::new(verifier, policy),
        )
        .audit(audit))
    }

    /// What the service's handlers read and write through: the database, the relay woken
    /// after each commit, and the clock.
    pub fn store(&self) -> Store {
        Store::new(self.db.clone(), self.relay.waker(), self.clock())
    }

    /// Binds the instance's address (port 0 picks a free port) for `server`: a built service,
    /// ready to run.
    pub async fn bind(self, server: GrpcServer) -> anyhow::Result<App> {
        let listener = crate::bind(&self.instance.listen).await?;
        let server = server.readiness(readiness(self.name, self.db.clone(), self.nats.clone()));
        Ok(App {
            name: self.name,
            listener,
            streams: self.instance.streams.clone(),
            db: self.db,
            nats: self.nats,
            relay: self.relay,
            server,
            workers: Vec::new(),
            reads: Vec::new(),
        })
    }
}

/// Ready while the database answers a query and the broker connection is up; each is
/// recorded as `crm.dependency.up`, for alerts that name which one is away.
fn readiness(service: &'static str, db: Db, nats: async_nats::Client) -> crate::server::ReadinessCheck {
    Arc::new(move || {
        let (db, nats) = (db.clone(), nats.clone());
        Box::pin(async move {
            let broker = nats.connection_state() == async_nats::connection::State::Connected;
            let database = sqlx::query("SELECT 1").execute(db.pool()).await.is_ok();
            crate::metrics::dependency_up(service, "nats", broker);
            crate::metrics::dependency_up(service, "database", database);
            broker && database
        })
    })
}

/// Runs `run_once` every `interval` until `stop`; a failed run is logged.
async fn every<F, Fut>(
    name: &'static str,
    interval: Duration,
    run_once: F,
    stop: CancellationToken,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {
                if let Err(err) = run_once().await {
                    tracing::warn!(job = name, error = %format!("{err:#}"), "job failed; it runs again at the next tick");
                }
            }
        }
    }
}

/// A service's database, the relay of its outbox and its clock: what its handlers read and
/// write through. A commit wakes the relay, so the events a transaction wrote go out at once.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    relay: Arc<Notify>,
    clock: Arc<dyn Clock>,
}

impl Store {
    /// A store on `db` waking `relay` after commits, its time read from `clock`.
    pub fn new(db: Db, relay: Arc<Notify>, clock: Arc<dyn Clock>) -> Self {
        Self { db, relay, clock }
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Now by the clock, in µs since the epoch.
    pub fn now_micros(&self) -> i64 {
        self.clock.now_micros()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The relay's wake-up handle (for jobs that commit on their own).
    pub fn relay(&self) -> &Arc<Notify> {
        &self.relay
    }

    /// Begins a transaction; inside a call, its statements end with the call's deadline (see
    /// [`Db::begin_within`]). A transaction that cannot begin is a transient failure (see
    /// [`crm_storage::errors::unreachable`]).
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.db
            .begin_within(crate::deadline::remaining())
            .await
            .map_err(crm_storage::errors::unreachable)
    }

    /// Commits `tx` and wakes the outbox relay.
    pub async fn commit(&self, tx: Tx) -> sqlx::Result<()> {
        tx.commit().await?;
        self.relay.notify_one();
        Ok(())
    }

    /// A connection for reads outside a transaction (one that cannot be had is a transient
    /// failure).
    pub async fn conn(&self) -> sqlx::Result<crm_storage::ReadConn> {
        self.db
            .read_conn()
            .await
            .map_err(crm_storage::errors::unreachable)
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
    streams: StreamSettings,
    /// Its consumers: (durable, producing domain).
    reads: Vec<(String, String)>,
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
    pub fn consumer<H: EventHandler>(mut self, mut options: ConsumerOptions, handler: H) -> Self {
        options.stream = options.stream.with(&self.streams);
        self.reads
            .push((options.durable.clone(), options.stream.domain.clone()));
        let name = options.durable.clone();
        let consumer = Consumer::new(self.db.clone(), self.nats.clone(), options, handler);
        self.worker(name, move |stop| consumer.run(stop))
    }

    /// Refuses consumers that `declared` does not list, and listed ones it does not build.
    fn check_reads(&self, declared: &[Reading]) -> anyhow::Result<()> {
        let built: std::collections::BTreeSet<(&str, &str)> = self
            .reads
            .iter()
            .map(|(durable, domain)| (durable.as_str(), domain.as_str()))
            .collect();
        let listed: std::collections::BTreeSet<(&str, &str)> =
            declared.iter().map(|r| (r.durable, r.domain)).collect();
        let unlisted: Vec<_> = built.difference(&listed).collect();
        let unbuilt: Vec<_> = listed.difference(&built).collect();
        anyhow::ensure!(
            unlisted.is_empty() && unbuilt.is_empty(),
            "{}: consumers not in its READS (its NATS user could not read with them): {unlisted:?}; \
             listed in READS but not built: {unbuilt:?}",
            self.name
        );
        Ok(())
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

    /// Declares a job: `run_once` every `interval` (the first run one interval after the start)
    /// until the service stops. A failed run is logged and the job runs again at the next tick.
    /// The same `run_once` is what an RPC or a test calls to run the job at once.
    pub fn job<F, Fut>(self, name: &'static str, interval: Duration, run_once: F) -> Self
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.worker(name, move |stop| every(name, interval, run_once, stop))
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
        if let Some(audit) = self.server.call_audit() {
            supervisor.spawn(format!("{}-call-audit", self.name), move |stop| {
                audit.writer(stop)
            });
        }
        let result = crate::run(self.server, self.listener, supervisor, stop).await;
        self.db.close().await;
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_job_runs_at_every_tick_goes_on_after_a_failed_run_and_stops_when_told() {
        let runs = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let counted = runs.clone();
        let job = tokio::spawn(every(
            "test-job",
            Duration::from_millis(5),
            move || {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    anyhow::ensure!(run > 0, "the first run fails");
                    Ok(())
                }
            },
            stop.clone(),
        ));
        while runs.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.cancel();
        job.await.unwrap().unwrap();
    }
}
