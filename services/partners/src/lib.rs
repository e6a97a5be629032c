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
pub mod exceptions;
pub mod policy;
pub mod storage;

pub use crm_platform::errors as error;

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::partners::v1::partner_portal_service_server::PartnerPortalServiceServer;
use crm_proto::partners::v1::partner_service_server::PartnerServiceServer;
use crm_proto::partners::v1::scorecard_service_server::ScorecardServiceServer;
use crm_storage::Migrations;

pub use config::PartnersSettings;

/// This service's migrations.
pub static MIGRATIONS: Migrations = crm_storage::service_migrations!();

/// The partners service, as the platform runs it.
#[derive(Debug, Clone, Copy)]
pub struct Partners;

impl crm_platform::Service for Partners {
    /// Stream `CRM_PARTNERS`, subjects `crm.partners.>`.
    const NAME: &'static str = "partners";
    type Settings = PartnersSettings;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;
    const READS: &'static [crm_events::permissions::Reading] =
        &[consumers::SALES_EVENTS, consumers::SERVICEDESK_EVENTS];

    /// Its APIs, the sales and service desk consumers, and the exception evaluator.
    async fn build(base: Foundation, settings: PartnersSettings) -> anyhow::Result<App> {
        let api = api::PartnersApi::new(base.store(), Arc::new(settings.clone()));
        let max = base.max_message_bytes();
        let server = base
            .server(policy::policy())
            .await?
            .add_service(limited!(PartnerServiceServer::new(api.clone()), max))
            .add_service(limited!(PartnerPortalServiceServer::new(api.clone()), max))
            .add_service(limited!(ScorecardServiceServer::new(api), max));
        let (store, threshold) = (base.store(), settings.exception_threshold_bps);
        let sales_clock = base.clock();
        Ok(base
            .bind(server)
            .await?
            .job("partners-exceptions", settings.exception_interval, move || {
                let store = store.clone();
                async move { exceptions::run_once(&store, threshold).await }
            })
            .consumer(
                consumers::options(),
                consumers::SalesEvents { clock: sales_clock },
            )
            .consumer(consumers::servicedesk_options(), consumers::ServicedeskEvents))
    }
}
