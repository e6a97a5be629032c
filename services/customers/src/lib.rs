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
pub mod duplicates;
pub mod erasure;
pub mod error;
pub mod events;
pub mod policy;
pub mod ranking;
pub mod service_costs;
pub mod storage;
pub mod value;

use std::sync::Arc;

use crm_platform::{App, Foundation, limited};
use crm_proto::customers::v1::customers_service_server::CustomersServiceServer;
use crm_storage::Migrations;

pub use config::CustomersSettings;

/// This service's migrations.
pub static MIGRATIONS: Migrations = crm_storage::service_migrations!();

/// The customers service, as the platform runs it.
#[derive(Debug, Clone, Copy)]
pub struct Customers;

impl crm_platform::Service for Customers {
    /// Stream `CRM_CUSTOMERS`, subjects `crm.customers.>`.
    const NAME: &'static str = "customers";
    type Settings = CustomersSettings;
    const MIGRATIONS: &'static Migrations = &MIGRATIONS;
    const READS: &'static [crm_events::permissions::Reading] = &[
        value::ORDER_EVENTS,
        value::AT_RISK_EVENTS,
        erasure::ERASURES,
        service_costs::CASE_EVENTS,
    ];

    /// Its API, the order and at-risk consumers, and the value sweeper.
    async fn build(base: Foundation, settings: CustomersSettings) -> anyhow::Result<App> {
        let bulk = Arc::new(crm_platform::bulk::BulkActivity::default());
        let api = api::CustomersApi::new(base.store(), Arc::new(settings.clone()), bulk.clone());
        let server = base.server(policy::policy()).await?.add_service(limited!(
            CustomersServiceServer::new(api),
            base.max_message_bytes()
        ));
        // The order consumer and the sweeper share what the consumer knows of running imports.
        let orders = value::OrderEvents {
            currency: settings.reporting_currency.clone(),
            rules: settings.lifecycle_rules(),
            window_micros: i64::try_from(settings.value_window.as_micros()).unwrap_or(i64::MAX),
            case_costs: settings.case_cost.clone(),
            imports: Default::default(),
            clock: base.clock(),
            bulk: bulk.clone(),
        };
        let cases = service_costs::CaseEvents {
            value: orders.clone(),
        };
        let (db, waker, sweeper_orders) = (base.db().clone(), base.relay_waker(), orders.clone());
        let at_risk_clock = base.clock();
        let erasures = erasure::Erasures { js: base.jetstream() };
        let bulk_js = base.jetstream();
        let store = base.store();
        let ranking_store = store.clone();
        let ranking_wait = settings.ranking_wait;
        let (interval, full) = (
            settings.value_refresh_interval,
            settings.full_value_sweep_interval,
        );
        Ok(base
            .bind(server)
            .await?
            .consumer(value::order_consumer_options(), orders)
            .consumer(
                value::at_risk_consumer_options(),
                value::AtRiskEvents { clock: at_risk_clock },
            )
            .consumer(erasure::options(), erasures)
            .consumer(service_costs::options(), cases)
            .worker("customers-value-sweeper", move |stop| {
                value::run_sweeper(db, sweeper_orders, interval, full, waker, stop)
            })
            .job("customers-tier-rankings", interval, move || {
                let store = ranking_store.clone();
                async move {
                    let wait = i64::try_from(ranking_wait.as_micros()).unwrap_or(i64::MAX);
                    let waited_since = store.now_micros().saturating_sub(wait);
                    ranking::run_pending(store.db(), store.clock().as_ref(), waited_since)
                        .await
                        .map(drop)
                }
            })
            .job(
                "customers-duplicate-check",
                settings.duplicate_check_interval,
                move || {
                    let (store, bulk) = (store.clone(), bulk.clone());
                    async move { duplicates::check_due(&store, &bulk).await.map(drop) }
                },
            )
            .job("customers-bulk-purge", erasure::BULK_PURGE_INTERVAL, move || {
                let js = bulk_js.clone();
                async move { erasure::purge_settled_imports(&js).await.map(drop) }
            }))
    }
}
