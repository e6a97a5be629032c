//! The overdue-case job: raises each due level of the escalation chain once per case, on a
//! timer and on demand (`RunEscalations`).

use crm_platform::Store;
use crm_proto::servicedesk::v1 as pb;
use crm_proto::servicedesk::v1::events as ev;

use crate::config::ServicedeskSettings;
use crate::domain::escalation::{CaseClock, Trigger, due_levels, next_check_at};
use crate::error::Result;
use crate::events;
use crate::storage::cases;

/// Due cases looked at per transaction.
const PAGE: i64 = 500;

/// Raises the escalations due now; returns the ones raised by this run. Levels raised before
/// are not raised again, so concurrent or repeated runs are harmless.
pub async fn run_once(store: &Store, config: &ServicedeskSettings) -> Result<Vec<pb::Escalation>> {
    let (db, relay) = (store.db(), store.relay());
    let now = store.now_micros();
    let chain = &config.escalation_chain;
    let mut raised = Vec::new();
    let mut tx = db.begin().await?;
    cases::schedule_for(&mut tx, &chain.spec()).await?;
    tx.commit().await?;
    // A page of due cases per transaction: the memory and the locks held follow the page, not
    // the backlog. Each case looked at gets its next check time, after `now`, so it leaves the
    // due cases and the next page reads the ones after it.
    loop {
        let mut tx = db.begin().await?;
        let page = cases::escalation_due(&mut tx, now, PAGE).await?;
        if page.is_empty() {
            break;
        }
        let ids: Vec<&str> = page.iter().map(|c| c.case.id.as_str()).collect();
        let mut levels = cases::escalation_levels(&mut tx, &ids).await?;
        for case in &page {
            let clock = CaseClock {
                opened_at: case.clock_from.unwrap_or(case.opened_at),
                response_due_at: case.response_due_at,
                first_response_at: case.first_response_at,
                resolution_due_at: case.resolution_due_at,
            };
            let raised_before = levels.entry(case.case.id.clone()).or_default();
            let due: Vec<_> = due_levels(chain, &clock, now)
                .into_iter()
                .filter(|l| !raised_before.contains(&l.name))
                .collect();
            for level in due {
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
                raised_before.push(level.name.clone());
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
            let next = next_check_at(chain, &clock, raised_before);
            cases::set_escalation_check(&mut tx, &case.case.id, case.version, next).await?;
        }
        tx.commit().await?;
    }
    if !raised.is_empty() {
        relay.notify_one();
        tracing::info!(raised = raised.len(), "cases escalated");
    }
    Ok(raised)
}
