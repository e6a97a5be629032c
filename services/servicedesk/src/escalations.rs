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

/// Open cases looked at per transaction.
const PAGE: i64 = 500;

/// Raises the escalations due now; returns the ones raised by this run. Levels raised before
/// are not raised again, so concurrent or repeated runs are harmless.
pub async fn run_once(store: &Store, config: &ServicedeskSettings) -> Result<Vec<pb::Escalation>> {
    let (db, relay) = (store.db(), store.relay());
    let now = store.now_micros();
    let chain = &config.escalation_chain;
    let filter = CaseFilter {
        open_only: true,
        ..Default::default()
    };
    let mut raised = Vec::new();
    let mut after: Option<cases::UrgencyKey> = None;
    // A page of open cases per transaction: the memory and the locks held follow the page, not
    // the backlog.
    loop {
        let mut tx = db.begin().await?;
        let page = cases::list(&mut tx, &filter, after.as_ref(), PAGE).await?;
        let ids: Vec<&str> = page.iter().map(|c| c.case.id.as_str()).collect();
        let already = cases::escalation_levels(&mut tx, &ids).await?;
        // The clock is stopped while a case waits on the customer.
        for case in page.iter().filter(|c| c.paused_at.is_none()) {
            let clock = CaseClock {
                opened_at: case.clock_from.unwrap_or(case.opened_at),
                response_due_at: case.response_due_at,
                first_response_at: case.first_response_at,
                resolution_due_at: case.resolution_due_at,
            };
            let raised_before = already.get(&case.case.id);
            for level in due_levels(chain, &clock, now)
                .into_iter()
                .filter(|l| raised_before.is_none_or(|levels| !levels.contains(&l.name)))
            {
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
                    cases::add_timeline(&mut tx, &case.case.id, now, "system", "escalation", &text, true)
                        .await?;
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
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                after = Some((
                    i64::from(last.case.priority),
                    last.resolution_due_at,
                    last.case.id.clone(),
                ));
            }
            _ => break,
        }
    }
    if !raised.is_empty() {
        relay.notify_one();
        tracing::info!(raised = raised.len(), "cases escalated");
    }
    Ok(raised)
}
