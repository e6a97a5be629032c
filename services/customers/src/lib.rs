//! The customers service (`crm.customers.v1`): parties (people and organizations) with contact
//! points, tags and custom attributes; the relationship network; value tiers, lifecycle and the
//! Pareto figure; duplicates and merges; verification; export and erasure; competitors and
//! regions; and the audit trail of every change.
//!
//! Layers: [`api`] (validation, mapping, record rules), [`domain`] (rules, no I/O), [`storage`]
//! (SQL for PostgreSQL and SQLite), [`events`] (what the service publishes).

pub mod api;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod policy;
pub mod storage;
pub mod value;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use crm_events::{Consumer, Relay, StreamSpec};
use crm_platform::{GrpcServer, Supervisor};
use crm_proto::customers::v1::customers_service_server::CustomersServiceServer;
use crm_storage::{Db, Migrations};
use tokio_util::sync::CancellationToken;

pub use config::CustomersConfig;

/// The domain name: stream `CRM_CUSTOMERS`, subjects `crm.customers.>`.
pub const DOMAIN: &str = "customers";

/// This service's migrations.
pub static MIGRATIONS: Migrations = Migrations {
    table: "_sqlx_migrations",
    postgres: sqlx::migrate!("migrations/postgres"),
    sqlite: sqlx::migrate!("migrations/sqlite"),
};

/// Applies the shared event tables' and this service's migrations.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    crm_events::migrate_service(db, &MIGRATIONS).await
}

/// A built, not yet running, customers service.
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Db,
    server: GrpcServer,
    relay: Relay,
    nats: async_nats::Client,
    config: CustomersConfig,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Application {
    /// Connects to the database (migrating it) and NATS, and binds `config.listen`
    /// (port 0 picks a free port).
    pub async fn build(config: CustomersConfig, nats: async_nats::Client) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_max_connections).await?;
        migrate(&db).await.context("migrating the customers database")?;
        let relay = Relay::new(db.clone(), nats.clone(), StreamSpec::new(DOMAIN));
        let verifier = config.auth.verifier().await?;
        let auth = crm_auth::AuthLayer::new(verifier, policy::policy());
        let service = api::CustomersApi::new(db.clone(), Arc::new(config.clone()), relay.waker());
        let config = config.clone();
        let server = GrpcServer::new(DOMAIN, config.server.clone(), auth).add_service(
            CustomersServiceServer::new(service)
                .max_decoding_message_size(config.server.max_message_bytes)
                .max_encoding_message_size(config.server.max_message_bytes),
        );
        let listener = crm_platform::bind(&config.listen).await?;
        Ok(Self {
            listener,
            db,
            server,
            relay,
            nats,
            config,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The database (tests inspect it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `stop` is cancelled; then drains calls and stops the outbox relay.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut workers = Supervisor::new();
        let relay = self.relay;
        let waker = relay.waker();
        workers.spawn("customers-outbox-relay", move |stop| relay.run(stop));
        let config = self.config;
        let orders = value::OrderEvents {
            currency: config.reporting_currency.clone(),
            rules: config.lifecycle_rules(),
            imports: Default::default(),
        };
        let consumer = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            value::order_consumer_options(),
            orders.clone(),
        );
        workers.spawn("customers-sales-orders", move |stop| consumer.run(stop));
        let at_risk = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            value::at_risk_consumer_options(),
            value::AtRiskEvents,
        );
        workers.spawn("customers-at-risk", move |stop| at_risk.run(stop));
        let db = self.db.clone();
        let (interval, full) = (config.value_refresh_interval, config.full_value_sweep_interval);
        workers.spawn("customers-value-sweeper", move |stop| {
            value::run_sweeper(db, orders, interval, full, waker, stop)
        });
        let result = crm_platform::run(self.server, self.listener, workers, stop).await;
        self.db.close().await;
        result
    }
}
