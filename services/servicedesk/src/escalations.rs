//! The overdue-case job: raises each due level of the escalation chain once per case, on a
//! timer and on demand (`RunEscalations`), and notifies the people of each level and the
//! watchers of the customer.

use crm_platform::Store;
use crm_proto::servicedesk::v1 as pb;
use crm_proto::servicedesk::v1::events as ev;

use crate::config::ServicedeskSettings;
use crate::domain::escalation::{CaseClock, Trigger, due_levels, next_check_at, overdue_minutes};
use crate::error::Result;
use crate::events;
use crate::staff_notices;
use crate::storage::cases;

/// Due cases looked at per transaction.
const PAGE: i64 = 500;

/// Raises the escalations due now; returns the ones raised by this run. Levels raised before
/// are not raised again, so concurrent or repeated runs are harmless.
pub async fn run_once(store: &Store, config: &ServicedeskSettings) -> Result<Vec<pb::Escalation>> {
    let (db, relay) = (store.db(), store.relay());
    let now = store.now_micros();
    let (chain, calendar) = (&config.escalation_chain, &config.calendar);
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
                waited_minutes: case.waited_minutes,
            };
            let raised_before = levels.entry(case.case.id.clone()).or_default();
            let due: Vec<_> = due_levels(chain, calendar, &clock, now)
                .into_iter()
                .filter(|l| !raised_before.contains(&l.name))
                .collect();
            for level in due {
                let reason = match level.trigger {
                    Trigger::ResponseOverdue => "first response overdue".to_string(),
                    Trigger::ResolutionOverdue => "resolution overdue".to_string(),
                    Trigger::OpenFor(span) => format!("unresolved for {}", span.describe()),
                };
                let mut escalation = pb::Escalation {
                    case_id: case.case.id.clone(),
                    level: level.name.clone(),
                    raise_time: Some(crate::storage::timestamp(now)),
                    reason,
                    notified: Vec::new(),
                    overdue_minutes: overdue_minutes(calendar, &clock, now),
                };
                raised_before.push(level.name.clone());
                // Notices are keyed by case, level and person: a concurrent run raising the
                // same level queues nothing twice.
                escalation.notified = staff_notices::tell_escalation(
                    &mut tx,
                    &config.escalation_recipients,
                    case,
                    &escalation.level,
                    &escalation.reason,
                    escalation.overdue_minutes,
                    now,
                )
                .await?;
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
                    let what = format!("overdue:{}", escalation.level);
                    staff_notices::tell_watchers(&mut tx, case, &what, &escalation.reason, "system", now)
                        .await?;
                    raised.push(escalation);
                }
            }
            let next = next_check_at(chain, calendar, &clock, raised_before);
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
