//! The reminder job: announces each task reminder once when its time comes
//! (`task.reminder_due`); the service desk delivers it to the task's owner.

use crm_platform::Store;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::events as ev;

use crate::events;
use crate::storage::tasks;

/// Reminders sent per transaction.
const PAGE: i64 = 500;

/// Sends the reminders due now, a page per transaction; returns how many were sent. A reminder
/// is cleared in the transaction that announces it, so concurrent runs send each once.
pub async fn run_once(store: &Store) -> anyhow::Result<usize> {
    let now = store.now_micros();
    let mut sent = 0;
    loop {
        let mut tx = store.begin().await?;
        let due = tasks::reminders_due(&mut tx, now, PAGE).await?;
        if due.is_empty() {
            break;
        }
        for record in &due {
            tasks::reminded(&mut tx, &record.task.id).await?;
            let reminder = pb::TaskReminderDue {
                task: Some(record.to_proto(now)),
            };
            // Its notes may speak of the customer: the event is theirs to erase.
            if record.task.party_id.is_empty() {
                events::publish(&mut tx, ev::TASK_REMINDER_DUE, &record.task.id, &reminder).await?;
            } else {
                events::publish_about(
                    &mut tx,
                    ev::TASK_REMINDER_DUE,
                    &record.task.id,
                    &record.task.party_id,
                    &reminder,
                )
                .await?;
            }
        }
        sent += due.len();
        store.commit(tx).await?;
    }
    Ok(sent)
}
