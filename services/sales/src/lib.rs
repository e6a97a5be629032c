//! The sales service (`crm.sales.v1`): product catalog and price books; leads and their
//! qualification and conversion; a configurable pipeline of opportunities with plan and actual
//! dates per stage; quotes with revisions that become orders; orders by channel; activities.
//!
//! Layers: [`api`] (validation, rules, mapping), [`domain`] (rules, no I/O), [`storage`] (SQL for
//! PostgreSQL and SQLite), [`events`] (published) and [`consumers`] (customers events consumed).

pub mod alerts;
pub mod api;
pub mod assignment;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod events;
pub mod policy;
pub mod reminders;
pub mod storage;

pub use crm_platform::errors as error;

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::sales::v1::catalog_service_server::CatalogServiceServer;
use crm_proto::sales::v1::order_service_server::OrderServiceServer;
use crm_proto::sales::v1::pipeline_service_server::PipelineServiceServer;
use crm_proto::sales::v1::sales_org_service_server::SalesOrgServiceServer;
use crm_proto::sales::v1::sales_report_service_server::SalesReportServiceServer;
use crm_storage::Migrations;

pub use config::SalesSettings;

/// This service's migrations.
pub static MIGRATIONS: Migrations = crm_storage::service_migrations!();

/// The sales service, as the platform runs it.
#[derive(Debug, Clone, Copy)]
pub struct Sales;

impl crm_platform::Service for Sales {
    /// Stream `CRM_SALES`, subjects `crm.sales.>`.
    const NAME: &'static str = "sales";
    type Settings = SalesSettings;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;
    const READS: &'static [crm_events::permissions::Reading] = &[
        consumers::CUSTOMER_EVENTS,
        consumers::PARTNER_EVENTS,
        consumers::MARKETING_EVENTS,
    ];

    /// Its APIs, the customer, partner and marketing consumers, and the alert, reminder and
    /// account reassignment jobs.
    async fn build(base: Foundation, settings: SalesSettings) -> anyhow::Result<App> {
        // Every pod of the customers service, followed as it scales.
        let customers = crm_platform::client::balanced_channel(
            &settings.customers.urls,
            std::time::Duration::from_secs(5),
            base.tls(),
        )?;
        let api = api::SalesApi::new(base.store(), Arc::new(settings.clone()), customers);
        let max = base.max_message_bytes();
        let js = base.jetstream();
        let server = base
            .server(policy::policy())
            .await?
            .add_service(limited!(CatalogServiceServer::new(api.clone()), max))
            .add_service(limited!(PipelineServiceServer::new(api.clone()), max))
            .add_service(limited!(OrderServiceServer::new(api.clone()), max))
            .add_service(limited!(SalesOrgServiceServer::new(api.clone()), max))
            .add_service(limited!(SalesReportServiceServer::new(api), max));
        let (store, base_clock) = (base.store(), base.clock());
        Ok(base
            .bind(server)
            .await?
            .consumer(consumers::options(), consumers::CustomerEvents { js })
            .consumer(
                consumers::partner_options(),
                consumers::PartnerEvents {
                    clock: base_clock.clone(),
                },
            )
            .consumer(
                consumers::marketing_options(),
                consumers::MarketingEvents { clock: base_clock },
            )
            .job("sales-alerts", settings.alert_interval, {
                let store = store.clone();
                move || {
                    let store = store.clone();
                    async move { alerts::run_once(&store).await.map(drop) }
                }
            })
            .job("sales-task-reminders", settings.reminder_interval, {
                let store = store.clone();
                move || {
                    let store = store.clone();
                    async move { reminders::run_once(&store).await.map(drop) }
                }
            })
            .job(
                "sales-account-reassignment",
                settings.reassignment_interval,
                move || {
                    let store = store.clone();
                    async move { assignment::run_pending(&store).await }
                },
            ))
    }
}
