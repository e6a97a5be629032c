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

use std::sync::Arc;

use anyhow::Context as _;
use crm_platform::{App, Foundation, limited};
use crm_proto::servicedesk::v1::service_desk_service_server::ServiceDeskServiceServer;
use crm_storage::{Db, Migrations};

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

/// Builds the service desk: connects to its database (migrating it) and NATS, binds
/// `config.listen`, and declares its consumers, the escalation job and notification delivery.
pub async fn build(config: ServicedeskConfig, nats: async_nats::Client) -> anyhow::Result<App> {
    let base = Foundation::connect(
        DOMAIN,
        &config.database_url,
        config.database_max_connections,
        &MIGRATIONS,
        nats,
    )
    .await?;
    let config = Arc::new(config);
    // A bad CA file is a configuration error: said at start, not at the first delivery.
    let deliverer = notifications::Deliverer::new(config.webhook_ca_file.as_deref())
        .context("the notification webhook's trust roots")?;
    let api = api::ServiceDeskApi::new(base.store(), config.clone(), deliverer.clone());
    let server = base
        .server(config.server.clone(), &config.auth, policy::policy())
        .await?
        .add_service(limited!(
            ServiceDeskServiceServer::new(api),
            config.server.max_message_bytes
        ));
    let customers = consumers::CustomerEvents {
        clock: config.clock.clone(),
    };
    let marketing = consumers::MarketingEvents {
        clock: config.clock.clone(),
    };
    let (db, waker) = (base.db().clone(), base.relay_waker());
    let (escalation_db, escalation_config) = (db.clone(), config.clone());
    Ok(base
        .bind(&config.listen, server)
        .await?
        .consumer(consumers::customer_options(), customers)
        .consumer(consumers::marketing_options(), marketing)
        .worker("servicedesk-escalations", move |stop| {
            escalations::run(escalation_db, escalation_config, waker, stop)
        })
        .worker("servicedesk-notifications", move |stop| {
            notifications::run(db, config, deliverer, stop)
        }))
}
