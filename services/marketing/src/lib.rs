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

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::marketing::v1::campaign_service_server::CampaignServiceServer;
use crm_proto::marketing::v1::marketing_service_server::MarketingServiceServer;
use crm_proto::marketing::v1::prediction_service_server::PredictionServiceServer;
use crm_storage::{Db, Migrations};

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

/// Builds the marketing service: connects to its database (migrating it) and NATS, binds
/// `config.listen`, and declares its consumers.
pub async fn build(config: MarketingConfig, nats: async_nats::Client) -> anyhow::Result<App> {
    let base = Foundation::connect(
        DOMAIN,
        &config.database_url,
        config.database_max_connections,
        &MIGRATIONS,
        nats,
    )
    .await?;
    let api = api::MarketingApi::new(base.store(), Arc::new(config.clone()));
    let max = config.server.max_message_bytes;
    let server = base
        .server(config.server.clone(), &config.auth, policy::policy())
        .await?
        .add_service(limited!(MarketingServiceServer::new(api.clone()), max))
        .add_service(limited!(CampaignServiceServer::new(api.clone()), max))
        .add_service(limited!(PredictionServiceServer::new(api), max));
    Ok(base
        .bind(&config.listen, server)
        .await?
        .consumer(consumers::customer_options(), consumers::CustomerEvents)
        .consumer(consumers::order_options(), consumers::OrderEvents))
}
