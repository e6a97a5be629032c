//! The overdue-case job: raises each due level of the escalation chain once per case, on a
//! timer and on demand (`RunEscalations`).

use crm_platform::Store;
use crm_proto::servicedesk::v1 as pb;
use crm_proto::servicedesk::v1::events as ev;

use crate::config::ServicedeskSettings;
use crate::domain::escalation::{CaseClock, Trigger, due_levels};
use crate::error::Result;
use crate::events;
use crate::storage::cases::{self, CaseFilter};

/// Raises the escalations due now; returns the ones raised by this run. Levels raised before
/// are not raised again, so concurrent or repeated runs are harmless.
pub async fn run_once(store: &Store, config: &ServicedeskSettings) -> Result<Vec<pb::Escalation>> {
    let (db, relay) = (store.db(), store.relay());
    let now = store.now_micros();
    let chain = &config.escalation_chain;
    let mut tx = db.begin().await?;
    let open = cases::list(
        &mut tx,
        &CaseFilter {
            open_only: true,
            ..Default::default()
        },
    )
    .await?;
    let mut raised = Vec::new();
    // The clock is stopped while a case waits on the customer.
    for case in open.iter().filter(|c| c.paused_at.is_none()) {
        let clock = CaseClock {
            opened_at: case.clock_from.unwrap_or(case.opened_at),
            response_due_at: case.response_due_at,
            first_response_at: case.first_response_at,
            resolution_due_at: case.resolution_due_at,
        };
        for level in due_levels(chain, &clock, now) {
            let reason = match level.trigger {
                Trigger::ResponseOverdue => "first response overdue".to_string(),
                Trigger::ResolutionOverdue => "resolution overdue".to_string(),
                Trigger::OpenFor(h) if h % 24 == 0 => format!("unresolved after {} days", h / 24),
                Trigger::OpenFor(h) => format!("unresolved after {h} hours"),
            };
            let escalation = pb::Escalation {
                case_id: case.case.id.clone(),
                level: level.name.clone(),
                raise_time: Some(crate::storage::timestamp(now)),
                reason,
            };
            if cases::insert_escalation(&mut tx, &escalation, now).await? {
                let text = format!("escalated to {}: {}", escalation.level, escalation.reason);
                cases::add_timeline(&mut tx, &case.case.id, now, "system", "escalation", &text, true).await?;
                events::publish(
                    &mut tx,
                    ev::CASE_ESCALATED,
                    &case.case.id,
                    &pb::CaseEscalated {
                        escalation: Some(escalation.clone()),
                    },
                )
                .await?;
                raised.push(escalation);
            }
        }
    }
    tx.commit().await?;
    if !raised.is_empty() {
        relay.notify_one();
        tracing::info!(raised = raised.len(), "cases escalated");
    }
    Ok(raised)
}
