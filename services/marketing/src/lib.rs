//! The marketing service (`crm.marketing.v1`): a marketing view of every customer built from
//! customers and sales events, RFM scores and cells, segments, consent and suppression, and
//! campaigns run with the test-cell method.
//!
//! Layers: [`api`], [`domain`] (rules and statistics, no I/O), [`storage`], [`view`] (the base
//! at a date), [`events`] and [`consumers`]; [`contacting`] goes through campaigns' contact runs a
//! page at a time; [`lists`] gives static lists stored by the earlier release their member rows.

pub mod api;
pub mod config;
pub mod consumers;
pub mod contacting;
pub mod domain;
pub mod events;
pub mod fitting;
pub mod lists;
pub mod policy;
pub mod responses;
pub mod scores;
pub mod selecting;
pub mod storage;

pub use crm_platform::errors as error;

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::marketing::v1::campaign_service_server::CampaignServiceServer;
use crm_proto::marketing::v1::marketing_service_server::MarketingServiceServer;
use crm_proto::marketing::v1::prediction_service_server::PredictionServiceServer;
use crm_storage::Migrations;

pub use config::MarketingSettings;

/// How often static lists stored without member rows are looked for (they come only from a
/// server of the earlier release during an upgrade).
const LIST_MEMBERS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// This service's migrations.
pub static MIGRATIONS: Migrations = crm_storage::service_migrations!();

/// The marketing service, as the platform runs it.
#[derive(Debug, Clone, Copy)]
pub struct Marketing;

impl crm_platform::Service for Marketing {
    /// Stream `CRM_MARKETING`, subjects `crm.marketing.>`.
    const NAME: &'static str = "marketing";
    type Settings = MarketingSettings;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;
    const READS: &'static [crm_events::permissions::Reading] =
        &[consumers::CUSTOMER_EVENTS, consumers::ORDER_EVENTS];

    /// Its APIs and the customer and order consumers.
    async fn build(base: Foundation, settings: MarketingSettings) -> anyhow::Result<App> {
        let (store, currency, interval) = (
            base.store(),
            settings.reporting_currency.clone(),
            settings.rfm_refresh_interval,
        );
        let settings = Arc::new(settings);
        let api = api::MarketingApi::new(base.store(), settings.clone());
        let orders = consumers::OrderEvents::default();
        let max = base.max_message_bytes();
        let js = base.jetstream();
        let server = base
            .server(policy::policy())
            .await?
            .add_service(limited!(MarketingServiceServer::new(api.clone()), max))
            .add_service(limited!(CampaignServiceServer::new(api.clone()), max))
            .add_service(limited!(PredictionServiceServer::new(api), max));
        Ok(base
            .bind(server)
            .await?
            .consumer(consumers::customer_options(), consumers::CustomerEvents { js })
            .consumer(consumers::order_options(), orders.clone())
            .job("marketing-rfm-boundaries", interval, {
                let (store, pace) = (store.clone(), Arc::new(scores::Pace::default()));
                move || {
                    let (store, currency, imports, pace) = (
                        store.clone(),
                        currency.clone(),
                        orders.imports.clone(),
                        pace.clone(),
                    );
                    async move {
                        scores::refresh_cuts_between_imports(&store, &currency, &imports, &pace)
                            .await
                            .map(drop)
                    }
                }
            })
            .job("marketing-contact-runs", settings.contact_run_interval, {
                let (store, settings) = (store.clone(), settings.clone());
                move || {
                    let (store, settings) = (store.clone(), settings.clone());
                    async move { Ok(contacting::run_pending(&store, &settings).await.map(drop)?) }
                }
            })
            .job("marketing-member-selections", settings.contact_run_interval, {
                let store = store.clone();
                move || {
                    let (store, settings) = (store.clone(), settings.clone());
                    async move { Ok(selecting::run_pending(&store, &settings).await.map(drop)?) }
                }
            })
            .job("marketing-list-members", LIST_MEMBERS_INTERVAL, move || {
                let store = store.clone();
                async move { lists::run_once(&store).await.map(drop) }
            }))
    }
}
