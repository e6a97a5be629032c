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

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
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

/// Builds the sales service: connects to its database (migrating it) and NATS, binds
/// `config.listen`, and declares its consumers and the alert job.
pub async fn build(config: SalesConfig, nats: async_nats::Client) -> anyhow::Result<App> {
    let base = Foundation::connect(
        DOMAIN,
        &config.database_url,
        config.database_max_connections,
        &MIGRATIONS,
        nats,
    )
    .await?;
    // Every pod of the customers service, followed as it scales.
    let customer_urls: Vec<String> = config.customers_url.split(',').map(str::to_string).collect();
    let customers =
        crm_platform::client::balanced_channel(&customer_urls, std::time::Duration::from_secs(5))?;
    let api = api::SalesApi::new(base.store(), Arc::new(config.clone()), customers);
    let max = config.server.max_message_bytes;
    let server = base
        .server(config.server.clone(), &config.auth, policy::policy())
        .await?
        .add_service(limited!(CatalogServiceServer::new(api.clone()), max))
        .add_service(limited!(PipelineServiceServer::new(api.clone()), max))
        .add_service(limited!(OrderServiceServer::new(api.clone()), max))
        .add_service(limited!(SalesOrgServiceServer::new(api.clone()), max))
        .add_service(limited!(SalesReportServiceServer::new(api), max));
    let (db, interval) = (base.db().clone(), config.alert_interval);
    Ok(base
        .bind(&config.listen, server)
        .await?
        .consumer(consumers::options(), consumers::CustomerEvents)
        .consumer(consumers::partner_options(), consumers::PartnerEvents)
        .consumer(consumers::marketing_options(), consumers::MarketingEvents)
        .worker("sales-alerts", move |stop| alert_loop(db, interval, stop)))
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
