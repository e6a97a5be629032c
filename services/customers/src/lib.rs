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

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::customers::v1::customers_service_server::CustomersServiceServer;
use crm_storage::{Db, Migrations};

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

/// Builds the customers service: connects to its database (migrating it) and NATS, binds
/// `config.listen` (port 0 picks a free port), and declares its consumers and the value sweeper.
pub async fn build(config: CustomersConfig, nats: async_nats::Client) -> anyhow::Result<App> {
    let base = Foundation::connect(
        DOMAIN,
        &config.database_url,
        config.database_max_connections,
        &MIGRATIONS,
        nats,
    )
    .await?;
    let api = api::CustomersApi::new(base.store(), Arc::new(config.clone()));
    let server = base
        .server(config.server.clone(), &config.auth, policy::policy())
        .await?
        .add_service(limited!(
            CustomersServiceServer::new(api),
            config.server.max_message_bytes
        ));
    // The order consumer and the sweeper share what the consumer knows of running imports.
    let orders = value::OrderEvents {
        currency: config.reporting_currency.clone(),
        rules: config.lifecycle_rules(),
        imports: Default::default(),
    };
    let (db, waker, sweeper_orders) = (base.db().clone(), base.relay_waker(), orders.clone());
    let (interval, full) = (config.value_refresh_interval, config.full_value_sweep_interval);
    Ok(base
        .bind(&config.listen, server)
        .await?
        .consumer(value::order_consumer_options(), orders)
        .consumer(value::at_risk_consumer_options(), value::AtRiskEvents)
        .worker("customers-value-sweeper", move |stop| {
            value::run_sweeper(db, sweeper_orders, interval, full, waker, stop)
        }))
}
