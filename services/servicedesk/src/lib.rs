//! The service desk (`crm.servicedesk.v1`): cases from every channel, prioritised by type,
//! severity and customer tier, routed to queues and agents, held to business-hours SLAs and
//! escalated up the management chain when overdue; a knowledge base with ranked search; and
//! caller identification for the call centre.
//!
//! Layers: [`api`], [`domain`] (rules, no I/O), [`storage`], [`escalations`] (the overdue-case
//! job), [`notifications`] (proactive service and its delivery), [`staff_notices`] (escalations
//! and watch lists), [`kb_backfill`] (search postings of articles stored before them),
//! [`events`] and [`consumers`].

pub mod api;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod escalations;
pub mod events;
pub mod kb_backfill;
pub mod notifications;
pub mod policy;
pub mod staff_notices;
pub mod storage;

pub use crm_platform::errors as error;

use std::sync::Arc;

use anyhow::Context as _;
use crm_platform::{App, Foundation, limited};
use crm_proto::servicedesk::v1::service_desk_service_server::ServiceDeskServiceServer;
use crm_storage::Migrations;

pub use config::ServicedeskSettings;

/// This service's migrations.
pub static MIGRATIONS: Migrations = crm_storage::service_migrations!();

/// The service desk, as the platform runs it.
#[derive(Debug, Clone, Copy)]
pub struct Servicedesk;

impl crm_platform::Service for Servicedesk {
    /// Stream `CRM_SERVICEDESK`, subjects `crm.servicedesk.>`.
    const NAME: &'static str = "servicedesk";
    type Settings = ServicedeskSettings;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;
    const READS: &'static [crm_events::permissions::Reading] = &[
        consumers::CUSTOMER_EVENTS,
        consumers::MARKETING_EVENTS,
        consumers::SALES_EVENTS,
    ];

    /// Its API, the customer, marketing and sales consumers, the article backfill, the
    /// escalation job and notification delivery.
    async fn build(base: Foundation, settings: ServicedeskSettings) -> anyhow::Result<App> {
        // Recipients of a level the chain does not have would silently hear nothing.
        settings
            .escalation_recipients
            .check(&settings.escalation_chain)
            .map_err(anyhow::Error::msg)?;
        let config = Arc::new(settings);
        // A bad CA file is a configuration error: said at start, not at the first delivery.
        let deliverer = notifications::Deliverer::new(config.webhook_ca_file.as_deref())
            .context("the notification webhook's trust roots")?;
        let store = base.store();
        let api = api::ServiceDeskApi::new(store.clone(), config.clone(), deliverer.clone());
        let server = base.server(policy::policy()).await?.add_service(limited!(
            ServiceDeskServiceServer::new(api),
            base.max_message_bytes()
        ));
        let customers = consumers::CustomerEvents {
            clock: base.clock(),
            js: base.jetstream(),
            preferential_tiers: config.preferential_tiers.clone(),
        };
        let marketing = consumers::MarketingEvents { clock: base.clock() };
        let sales = consumers::SalesEvents { clock: base.clock() };
        let (escalation_store, escalation_config) = (store.clone(), config.clone());
        let backfill_store = store.clone();
        let (escalations, notifications) = (config.escalation_interval, config.notification_interval);
        Ok(base
            .bind(server)
            .await?
            .consumer(consumers::customer_options(), customers)
            .consumer(consumers::marketing_options(), marketing)
            .consumer(consumers::sales_options(), sales)
            .worker("servicedesk-kb-backfill", move |stop| {
                kb_backfill::worker(backfill_store, stop)
            })
            .job("servicedesk-escalations", escalations, move || {
                let (store, config) = (escalation_store.clone(), escalation_config.clone());
                async move {
                    escalations::run_once(&store, &config)
                        .await
                        .map(drop)
                        .map_err(Into::into)
                }
            })
            .job("servicedesk-notifications", notifications, move || {
                let (store, config, deliverer) = (store.clone(), config.clone(), deliverer.clone());
                async move { notifications::run_once(&store, &config, &deliverer).await }
            }))
    }
}
