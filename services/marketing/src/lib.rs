//! The marketing service (`crm.marketing.v1`): a marketing view of every customer built from
//! customers and sales events, RFM scores and cells, segments, consent and suppression, and
//! campaigns run with the test-cell method.
//!
//! Layers: [`api`], [`domain`] (rules and statistics, no I/O), [`storage`], [`view`] (the base
//! at a date), [`events`] and [`consumers`].

pub mod api;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod policy;
pub mod storage;
pub mod view;

pub use crm_platform::errors as error;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use crm_events::{Consumer, Relay, StreamSpec};
use crm_platform::{GrpcServer, Supervisor};
use crm_proto::marketing::v1::campaign_service_server::CampaignServiceServer;
use crm_proto::marketing::v1::marketing_service_server::MarketingServiceServer;
use crm_proto::marketing::v1::prediction_service_server::PredictionServiceServer;
use crm_storage::{Db, Migrations};
use tokio_util::sync::CancellationToken;

pub use config::MarketingConfig;

/// The domain name: stream `CRM_MARKETING`, subjects `crm.marketing.>`.
pub const DOMAIN: &str = "marketing";

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

/// A built, not yet running, marketing service.
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Db,
    server: GrpcServer,
    relay: Relay,
    nats: async_nats::Client,
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
    pub async fn build(config: MarketingConfig, nats: async_nats::Client) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_max_connections).await?;
        migrate(&db).await.context("migrating the marketing database")?;
        let relay = Relay::new(db.clone(), nats.clone(), StreamSpec::new(DOMAIN));
        let verifier = config.auth.verifier().await?;
        let auth = crm_auth::AuthLayer::new(verifier, policy::policy());
        let api = api::MarketingApi::new(db.clone(), Arc::new(config.clone()), relay.waker());
        let max = config.server.max_message_bytes;
        let server = GrpcServer::new(DOMAIN, config.server.clone(), auth)
            .add_service(
                MarketingServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                CampaignServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                PredictionServiceServer::new(api)
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
        workers.spawn("marketing-outbox-relay", move |stop| relay.run(stop));
        let customers = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::customer_options(),
            consumers::CustomerEvents,
        );
        workers.spawn("marketing-customer-events", move |stop| customers.run(stop));
        let orders = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::order_options(),
            consumers::OrderEvents,
        );
        workers.spawn("marketing-order-events", move |stop| orders.run(stop));
        let result = crm_platform::run(self.server, self.listener, workers, stop).await;
        self.db.close().await;
        result
    }
}
