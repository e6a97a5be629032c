//! The service desk (`crm.servicedesk.v1`): cases from every channel, prioritised by type,
//! severity and customer tier, routed to queues and agents, held to business-hours SLAs and
//! escalated up the management chain when overdue; a knowledge base with ranked search; and
//! caller identification for the call centre.
//!
//! Layers: [`api`], [`domain`] (rules, no I/O), [`storage`], [`escalations`] (the overdue-case
//! job), [`notifications`] (proactive service and its delivery), [`events`] and [`consumers`].

pub mod api;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod escalations;
pub mod events;
pub mod notifications;
pub mod policy;
pub mod storage;

pub use crm_platform::errors as error;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use crm_events::{Consumer, Relay, StreamSpec};
use crm_platform::{GrpcServer, Supervisor};
use crm_proto::servicedesk::v1::service_desk_service_server::ServiceDeskServiceServer;
use crm_storage::{Db, Migrations};
use tokio_util::sync::CancellationToken;

pub use config::ServicedeskConfig;

/// The domain name: stream `CRM_SERVICEDESK`, subjects `crm.servicedesk.>`.
pub const DOMAIN: &str = "servicedesk";

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

/// A built, not yet running, service desk.
pub struct Application {
    listener: tokio::net::TcpListener,
    db: Db,
    server: GrpcServer,
    relay: Relay,
    nats: async_nats::Client,
    config: Arc<ServicedeskConfig>,
    deliverer: notifications::Deliverer,
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
    pub async fn build(config: ServicedeskConfig, nats: async_nats::Client) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url, config.database_max_connections).await?;
        migrate(&db)
            .await
            .context("migrating the service-desk database")?;
        let relay = Relay::new(db.clone(), nats.clone(), StreamSpec::new(DOMAIN));
        let verifier = config.auth.verifier().await?;
        let auth = crm_auth::AuthLayer::new(verifier, policy::policy());
        let config = Arc::new(config);
        // A bad CA file is a configuration error: said at start, not at the first delivery.
        let deliverer = notifications::Deliverer::new(config.webhook_ca_file.as_deref())
            .context("the notification webhook's trust roots")?;
        let api = api::ServiceDeskApi::new(db.clone(), config.clone(), relay.waker(), deliverer.clone());
        let max = config.server.max_message_bytes;
        let server = GrpcServer::new(DOMAIN, config.server.clone(), auth).add_service(
            ServiceDeskServiceServer::new(api)
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
            deliverer,
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
        let waker = self.relay.waker();
        let relay = self.relay;
        workers.spawn("servicedesk-outbox-relay", move |stop| relay.run(stop));
        let customers = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::customer_options(),
            consumers::CustomerEvents {
                clock: self.config.clock.clone(),
            },
        );
        workers.spawn("servicedesk-customer-events", move |stop| customers.run(stop));
        let marketing = Consumer::new(
            self.db.clone(),
            self.nats.clone(),
            consumers::marketing_options(),
            consumers::MarketingEvents {
                clock: self.config.clock.clone(),
            },
        );
        workers.spawn("servicedesk-marketing-events", move |stop| marketing.run(stop));
        let (db, config) = (self.db.clone(), self.config.clone());
        workers.spawn("servicedesk-escalations", move |stop| {
            escalations::run(db, config, waker, stop)
        });
        let (db, config) = (self.db.clone(), self.config.clone());
        let deliverer = self.deliverer;
        workers.spawn("servicedesk-notifications", move |stop| {
            notifications::run(db, config, deliverer, stop)
        });
        let result = crm_platform::run(self.server, self.listener, workers, stop).await;
        self.db.close().await;
        result
    }
}
