//! The sales service (`crm.sales.v1`): product catalog and price books; leads and their
//! qualification and conversion; a configurable pipeline of opportunities with plan and actual
//! dates per stage; quotes with revisions that become orders; orders by channel; activities.
//!
//! Layers: [`api`] (validation, rules, mapping), [`domain`] (rules, no I/O), [`storage`] (SQL for
//! PostgreSQL and SQLite), [`events`] (published) and [`consumers`] (customers events consumed).

pub mod api;
pub mod assignment;
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
use crm_proto::sales::v1::catalog_service_server::CatalogServiceServer;
use crm_proto::sales::v1::order_service_server::OrderServiceServer;
use crm_proto::sales::v1::pipeline_service_server::PipelineServiceServer;
use crm_proto::sales::v1::sales_org_service_server::SalesOrgServiceServer;
use crm_proto::sales::v1::sales_report_service_server::SalesReportServiceServer;
use crm_storage::{Db, Migrations};
use tokio_util::sync::CancellationToken;

pub use config::SalesConfig;

/// The domain name: stream `CRM_SALES`, subjects `crm.sales.>`.
pub const DOMAIN: &str = "sales";

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

/// A built, not yet running, sales service.
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Db,
    server: GrpcServer,
    relay: Relay,
    nats: async_nats::Client,
    alert_interval: std::time::Duration,
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
    pub async fn build(config: SalesConfig, nats: async_nats::Client) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_max_connections).await?;
        migrate(&db).await.context("migrating the sales database")?;
        let relay = Relay::new(db.clone(), nats.clone(), StreamSpec::new(DOMAIN));
        let verifier = config.auth.verifier().await?;
        let auth = crm_auth::AuthLayer::new(verifier, policy::policy());
        // Every pod of the customers service, followed as it scales.
        let customer_urls: Vec<String> = config.customers_url.split(',').map(str::to_string).collect();
        let customers =
            crm_platform::client::balanced_channel(&customer_urls, std::time::Duration::from_secs(5))?;
        let api = api::SalesApi::new(db.clone(), Arc::new(config.clone()), relay.waker(), customers);
        let max = config.server.max_message_bytes;
        let server = GrpcServer::new(DOMAIN, config.server.clone(), auth)
            .add_service(
                CatalogServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                PipelineServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                OrderServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                SalesOrgServiceServer::new(api.clone())
                    .max_decoding_message_size(max)
                    .max_encoding_message_size(max),
            )
            .add_service(
                SalesReportServiceServer::new(api)
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
            alert_interval: config.alert_interval,
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
        workers.spawn("sales-outbox-relay", move |stop| relay.run(stop));
        let consumer = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::options(),
            consumers::CustomerEvents,
        );
        workers.spawn("sales-customer-events", move |stop| consumer.run(stop));
        let partner_orders = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::partner_options(),
            consumers::PartnerEvents,
        );
        workers.spawn("sales-partner-events", move |stop| partner_orders.run(stop));
        let responses = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::marketing_options(),
            consumers::MarketingEvents,
        );
        workers.spawn("sales-marketing-events", move |stop| responses.run(stop));
        let (db, interval) = (self.db.clone(), self.alert_interval);
        workers.spawn("sales-alerts", move |stop| alert_loop(db, interval, stop));
        let result = crm_platform::run(self.server, self.listener, workers, stop).await;
        self.db.close().await;
        result
    }
}

/// Evaluates the alert rules every `interval` (each condition is raised once).
async fn alert_loop(db: Db, interval: std::time::Duration, stop: CancellationToken) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
        if let Err(err) = api::evaluate_alerts(&db, chrono::Utc::now().naive_utc()).await {
            tracing::warn!("evaluating sales alerts: {err:#}");
        }
    }
}
