//! The partner channels service (`crm.partners.v1`): the channel hierarchy and partner
//! lifecycle, targets, sell-through from sales orders and partner reports, and performance
//! against target with drill-down and exceptions.
//!
//! Layers: [`api`] (validation, partner scoping, mapping), [`domain`] (rules and performance
//! arithmetic, no I/O), [`storage`] (SQL for PostgreSQL and SQLite), [`events`] (published) and
//! [`consumers`] (sales events consumed).

pub mod api;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod policy;
pub mod storage;

pub use crm_platform::errors as error;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use crm_events::{Consumer, Relay, StreamSpec};
use crm_platform::{GrpcServer, Supervisor};
use crm_proto::partners::v1::partner_portal_service_server::PartnerPortalServiceServer;
use crm_proto::partners::v1::partner_service_server::PartnerServiceServer;
use crm_proto::partners::v1::scorecard_service_server::ScorecardServiceServer;
use crm_storage::{Db, Migrations};
use tokio_util::sync::CancellationToken;

pub use config::PartnersConfig;

/// The domain name: stream `CRM_PARTNERS`, subjects `crm.partners.>`.
pub const DOMAIN: &str = "partners";

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

/// A built, not yet running, partners service.
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Db,
    server: GrpcServer,
    relay: Relay,
    nats: async_nats::Client,
    config: PartnersConfig,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Application {
    /// Connects to the database (migrating it) and NATS, and binds `config.listen`.
    pub async fn build(config: PartnersConfig, nats: async_nats::Client) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_max_connections).await?;
        migrate(&db).await.context("migrating the partners database")?;
        let relay = Relay::new(db.clone(), nats.clone(), StreamSpec::new(DOMAIN));
        let verifier = config.auth.verifier().await?;
        let auth = crm_auth::AuthLayer::new(verifier, policy::policy());
        let api = api::PartnersApi::new(db.clone(), Arc::new(config.clone()), relay.waker());
        let config = config.clone();
        let max = config.server.max_message_bytes;
        let server = GrpcServer::new(DOMAIN, config.server.clone(), auth)
            .add_service(
                PartnerServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                PartnerPortalServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                ScorecardServiceServer::new(api)
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
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

    /// The database (tests inspect it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `stop` is cancelled; then drains calls and stops the workers.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut workers = Supervisor::new();
        let relay = self.relay;
        let waker = relay.waker();
        workers.spawn("partners-outbox-relay", move |stop| relay.run(stop));
        let (db, threshold, interval) = (
            self.db.clone(),
            self.config.exception_threshold_bps,
            self.config.exception_interval,
        );
        workers.spawn("partners-exceptions", move |stop| {
            api::run_exception_evaluator(db, threshold, interval, waker, stop)
        });
        let consumer = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::options(),
            consumers::SalesEvents,
        );
        workers.spawn("partners-sales-events", move |stop| consumer.run(stop));
        let complaints = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::servicedesk_options(),
            consumers::ServicedeskEvents,
        );
        workers.spawn("partners-servicedesk-events", move |stop| complaints.run(stop));
        let result = crm_platform::run(self.server, self.listener, workers, stop).await;
        self.db.close().await;
        result
    }
}
