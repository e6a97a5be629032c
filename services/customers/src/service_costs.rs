//! The cost to serve, from the service desk's cases: each case of a customer is recorded with
//! the priority it was opened with, and (when a cost per case is configured, `--case-cost`) the
//! customer's value is refreshed. A case keeps its opening priority: priced by its current one,
//! a tier change would move the priority, the priority the cost, the cost the tier again.

use crm_events::permissions::Reading;
use crm_events::{CloudEvent, ConsumerOptions, EventHandler};
use crm_proto::servicedesk::v1 as desk;
use crm_proto::servicedesk::v1::events as desk_events;
use crm_storage::Tx;

use crate::storage::{micros_of, now_micros, orders};
use crate::value::{OrderEvents, live_party_ids};

/// The durable consumer `customers-service-cases`, reading the service desk's stream.
pub const CASE_EVENTS: Reading = Reading {
    durable: "customers-service-cases",
    domain: "servicedesk",
};

/// The durable consumer of cases opened and imported.
pub fn options() -> ConsumerOptions {
    ConsumerOptions::reading(CASE_EVENTS).subjects(&[
        desk_events::CASE_OPENED.subject,
        desk_events::CASE_IMPORTED.subject,
    ])
}

/// Records customers' cases and refreshes their value when the batch ends.
#[derive(Debug, Clone)]
pub struct CaseEvents {
    /// How values are figured (shared with the order consumer).
    pub value: OrderEvents,
}

impl EventHandler for CaseEvents {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        let case = match event.event_type.as_str() {
            desk_events::types::CASE_OPENED => event.decode::<desk::CaseOpened>()?.case,
            desk_events::types::CASE_IMPORTED => event.decode::<desk::CaseImported>()?.case,
            other => {
                tracing::debug!(event_type = other, "ignored");
                return Ok(());
            }
        };
        let Some(case) = case else { return Ok(()) };
        // A case of a merged party is its survivor's; an erased party keeps no figures.
        let live = live_party_ids(tx, std::slice::from_ref(&case.party_id)).await?;
        let Some(party_id) = live.get(&case.party_id) else {
            return Ok(());
        };
        let opened_at = case.open_time.as_ref().map(micros_of).unwrap_or_else(now_micros);
        orders::record_cases(
            tx,
            &[(case.id.clone(), party_id.clone(), opened_at, case.priority)],
        )
        .await?;
        // Without a cost per case, a case changes no figure.
        if !self.value.case_costs.is_empty() {
            orders::mark_for_refresh(tx, std::slice::from_ref(party_id)).await?;
        }
        Ok(())
    }

    async fn finish(&self, tx: &mut Tx) -> anyhow::Result<()> {
        self.value.refresh_marked(tx).await
    }
}
