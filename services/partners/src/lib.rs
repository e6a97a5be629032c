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

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::partners::v1::partner_portal_service_server::PartnerPortalServiceServer;
use crm_proto::partners::v1::partner_service_server::PartnerServiceServer;
use crm_proto::partners::v1::scorecard_service_server::ScorecardServiceServer;
use crm_storage::{Db, Migrations};

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

/// Builds the partners service: connects to its database (migrating it) and NATS, binds
/// `config.listen`, and declares its consumers and the exception evaluator.
pub async fn build(config: PartnersConfig, nats: async_nats::Client) -> anyhow::Result<App> {
    let base = Foundation::connect(
        DOMAIN,
        &config.database_url,
        config.database_max_connections,
        &MIGRATIONS,
        nats,
    )
    .await?;
    let api = api::PartnersApi::new(base.store(), Arc::new(config.clone()));
    let max = config.server.max_message_bytes;
    let server = base
        .server(config.server.clone(), &config.auth, policy::policy())
        .await?
        .add_service(limited!(PartnerServiceServer::new(api.clone()), max))
        .add_service(limited!(PartnerPortalServiceServer::new(api.clone()), max))
        .add_service(limited!(ScorecardServiceServer::new(api), max));
    let (db, waker) = (base.db().clone(), base.relay_waker());
    let (threshold, interval) = (config.exception_threshold_bps, config.exception_interval);
    Ok(base
        .bind(&config.listen, server)
        .await?
        .worker("partners-exceptions", move |stop| {
            api::run_exception_evaluator(db, threshold, interval, waker, stop)
        })
        .consumer(consumers::options(), consumers::SalesEvents)
        .consumer(consumers::servicedesk_options(), consumers::ServicedeskEvents))
}
