//! Notices to staff: the people of the escalation chain hear of an overdue case, and the
//! watchers of a customer hear of every change to the customer's cases. They go through the
//! same queue and webhook as the notices to customers, on the `staff` channel, each once.

use crm_storage::Conn;

use crate::domain::escalation::{Recipient, Recipients};
use crate::storage::cases::CaseRecord;
use crate::storage::{customers, notifications, org, watches};

/// Watchers told of one change: the fan-out of a change stays bounded however many people
/// watch a customer.
const MAX_WATCHERS: i64 = 200;

/// What a staff notice says about a case: who the customer is, their tier, and what happened.
async fn payload(
    conn: &mut Conn,
    case: &CaseRecord,
    what: &str,
    detail: &str,
) -> sqlx::Result<serde_json::Value> {
    let customer = customers::get(conn, &case.case.party_id)
        .await?
        .unwrap_or_default();
    let status = crm_proto::servicedesk::v1::CaseStatus::try_from(case.case.status).unwrap_or_default();
    Ok(serde_json::json!({
        "case_id": case.case.id,
        "subject": case.case.subject,
        "party_id": case.case.party_id,
        "customer": customer.display_name,
        "tier": case.case.customer_tier,
        "priority": case.case.priority,
        "status": status.as_str_name().trim_start_matches("CASE_STATUS_").to_lowercase(),
        "queue_id": case.case.queue_id,
        "what": what,
        "detail": detail,
    }))
}

/// Tells the watchers of the case's customer, except `actor` (who made the change), that `what`
/// happened to it (`opened`, `status_changed`, `updated`, `transferred`, `overdue:<level>`).
/// Keyed by the case's version and `what`, so a repeated change notifies nobody twice.
pub async fn tell_watchers(
    conn: &mut Conn,
    case: &CaseRecord,
    what: &str,
    detail: &str,
    actor: &str,
    now: i64,
) -> sqlx::Result<()> {
    let watchers = watches::list(conn, &case.case.party_id, "", None, MAX_WATCHERS).await?;
    let watchers: Vec<_> = watchers.into_iter().filter(|w| w.watcher_id != actor).collect();
    if watchers.is_empty() {
        return Ok(());
    }
    let payload = payload(conn, case, what, detail).await?;
    for w in watchers {
        let key = format!("watch:{}:v{}:{what}:{}", case.case.id, case.version, w.watcher_id);
        notifications::enqueue_to_staff(
            conn,
            &key,
            "watched_case",
            &w.watcher_id,
            &case.case.party_id,
            &payload,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Notifies the people `recipients` name for `level` of the case, and returns their user ids
/// (a queue without a supervisor names nobody). Once per case, level and person.
pub async fn tell_escalation(
    conn: &mut Conn,
    recipients: &Recipients,
    case: &CaseRecord,
    level: &str,
    reason: &str,
    overdue_minutes: i64,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    let mut users: Vec<String> = Vec::new();
    for recipient in recipients.of(level) {
        let user = match recipient {
            Recipient::User(user) => user,
            Recipient::QueueSupervisor => org::queue(conn, &case.case.queue_id)
                .await?
                .map(|q| q.supervisor_id)
                .unwrap_or_default(),
        };
        if !user.is_empty() && !users.contains(&user) {
            users.push(user);
        }
    }
    if users.is_empty() {
        return Ok(users);
    }
    let mut payload = payload(conn, case, &format!("overdue:{level}"), reason).await?;
    payload["level"] = level.into();
    payload["overdue_minutes"] = overdue_minutes.into();
    for user in &users {
        let key = format!("escalation:{}:{level}:{user}", case.case.id);
        notifications::enqueue_to_staff(
            conn,
            &key,
            "case_escalated",
            user,
            &case.case.party_id,
            &payload,
            now,
        )
        .await?;
    }
    Ok(users)
}
