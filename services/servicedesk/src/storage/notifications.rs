//! The notification queue.

use std::collections::HashSet;

use crm_proto::servicedesk::v1::{self as pb, NotificationStatus};
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;

use super::timestamp;

/// Queues a notification to the customer `recipient` unless one with `dedupe_key` exists; the
/// channel is SMS when the desk knows a phone number of the recipient, else the self-service
/// portal.
pub async fn enqueue(
    conn: &mut Conn,
    dedupe_key: &str,
    template: &str,
    recipient: &str,
    payload: &serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let phones: Option<String> = sqlx::query_scalar("SELECT phones FROM customers WHERE party_id = $1")
        .bind(recipient)
        .fetch_optional(&mut *conn)
        .await?;
    let has_phone =
        phones.is_some_and(|p| serde_json::from_str::<Vec<String>>(&p).is_ok_and(|v| !v.is_empty()));
    let channel = if has_phone { "sms" } else { "portal" };
    let notice = Notice {
        dedupe_key,
        channel,
        template,
        recipient,
        about: "",
    };
    insert(conn, &notice, payload, now).await
}

/// Queues a notice to the staff member `user_id` about the customer `about` unless one with
/// `dedupe_key` exists (channel `staff`).
pub async fn enqueue_to_staff(
    conn: &mut Conn,
    dedupe_key: &str,
    template: &str,
    user_id: &str,
    about: &str,
    payload: &serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let notice = Notice {
        dedupe_key,
        channel: "staff",
        template,
        recipient: user_id,
        about,
    };
    insert(conn, &notice, payload, now).await
}

/// Who a notification goes to, how, and about whom.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// Makes the notice happen once.
    pub dedupe_key: &'a str,
    /// How it is delivered.
    pub channel: &'a str,
    /// What it says.
    pub template: &'a str,
    /// Who receives it (a party or a user).
    pub recipient: &'a str,
    /// The customer it is about, when it goes to someone else (erasure reaches it).
    pub about: &'a str,
}

/// Queues `notices` with one multi-row statement per 500 (a campaign's contacts), each unless a
/// notification with its dedupe key exists or its customer is erased.
pub async fn insert_many(
    conn: &mut Conn,
    notices: &[Notice<'_>],
    payload: &serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let payload = payload.to_string();
    for chunk in crm_storage::insert_chunks(notices, 500) {
        let erased = erased_among(conn, chunk).await?;
        let kept: Vec<&Notice<'_>> = chunk
            .iter()
            .filter(|n| !erased.contains(n.recipient) && !erased.contains(n.about))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let mut q = SqlBuilder::insert_rows(
            "notifications (id, dedupe_key, channel, template, recipient, about, payload, status, created_at, next_attempt_at)",
            kept.iter().map(|n| {
                [
                    Arg::from(uuid::Uuid::now_v7().to_string()),
                    Arg::from(n.dedupe_key),
                    Arg::from(n.channel),
                    Arg::from(n.template),
                    Arg::from(n.recipient),
                    Arg::from(n.about),
                    Arg::from(payload.as_str()),
                    Arg::Int(NotificationStatus::Pending as i64),
                    Arg::Int(now),
                    Arg::Int(now),
                ]
            }),
        );
        q.push(" ON CONFLICT (dedupe_key) DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The erased customers among those `notices` go to or are about: one read by primary key.
async fn erased_among(conn: &mut Conn, notices: &[Notice<'_>]) -> sqlx::Result<HashSet<String>> {
    let mut q = SqlBuilder::new("SELECT party_id FROM customers WHERE status = 'erased' AND party_id IN (");
    let ids = q.in_list(
        notices
            .iter()
            .flat_map(|n| [n.recipient, n.about])
            .filter(|id| !id.is_empty()),
    );
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    q.push(&ids).push(")");
    q.build()
        .fetch_all_as::<(String,)>(&mut *conn)
        .await
        .map(|rows| rows.into_iter().map(|(id,)| id).collect())
}

/// Queues `n` unless a notification with its dedupe key exists or its customer is erased (a
/// customer's events and other services' events about them arrive on separate streams, in
/// either order).
pub async fn insert(
    conn: &mut Conn,
    n: &Notice<'_>,
    payload: &serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notifications (id, dedupe_key, channel, template, recipient, about, payload, status, created_at, next_attempt_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9 WHERE NOT EXISTS (SELECT 1 FROM customers \
         WHERE party_id IN ($5, $6) AND status = 'erased') ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(n.dedupe_key)
    .bind(n.channel)
    .bind(n.template)
    .bind(n.recipient)
    .bind(n.about)
    .bind(payload.to_string())
    .bind(NotificationStatus::Pending as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, channel, template, recipient, payload, status, attempts, last_error, created_at, delivered_at FROM notifications";

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::Notification> {
    Ok(pb::Notification {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        template: r.try_get("template")?,
        recipient: r.try_get("recipient")?,
        payload: r.try_get("payload")?,
        status: r.try_get::<i64, _>("status")? as i32,
        attempts: r.try_get::<i64, _>("attempts")? as i32,
        last_error: r.try_get("last_error")?,
        create_time: Some(timestamp(r.try_get("created_at")?)),
        deliver_time: r.try_get::<Option<i64>, _>("delivered_at")?.map(timestamp),
    })
}

/// Pending notifications due at `now`, longest due first: read in the order of the (status, next
/// attempt) index, so a batch reads its own rows however long the queue behind it is.
pub async fn due(conn: &mut Conn, now: i64, limit: i64) -> sqlx::Result<Vec<pb::Notification>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} WHERE status = $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3"
    )))
    .bind(NotificationStatus::Pending as i64)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Notifications by recipient and status (empty / unspecified: all), newest first.
pub async fn list(
    conn: &mut Conn,
    recipient: &str,
    status: i32,
    before: Option<&(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, pb::Notification)>> {
    let mut q = SqlBuilder::new(&format!("SELECT created_at AS listed_at, {COLUMNS} WHERE 1 = 1"));
    if !recipient.is_empty() {
        q.and("recipient = {}", recipient.to_string());
    }
    if status != 0 {
        // With a recipient, their index leads: `+ 0` keeps SQLite, which plans without
        // statistics, from walking the status's index (every delivered notification, say).
        let condition = if recipient.is_empty() {
            "status = {}"
        } else {
            "status + 0 = {}"
        };
        q.and(condition, i64::from(status));
    }
    if let Some((at, id)) = before {
        let (at, id) = (q.arg(*at), q.arg(id.as_str()));
        q.push(&format!(" AND (created_at, id) < ({at}, {id})"));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("listed_at")?, from_row(row)?)))
        .collect()
}

/// Claims a due notification for one delivery attempt until `lease_until`, so that replicas
/// running the delivery job do not post it twice; false when another got it first.
pub async fn claim(conn: &mut Conn, id: &str, now: i64, lease_until: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE notifications SET next_attempt_at = $1 WHERE id = $2 AND status = $3 AND next_attempt_at <= $4",
    )
    .bind(lease_until)
    .bind(id)
    .bind(NotificationStatus::Pending as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the notification `id` if the customer it goes to or is about is erased; true when it
/// did.
pub async fn withdraw_if_erased(conn: &mut Conn, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM notifications WHERE id = $1 AND EXISTS (SELECT 1 FROM customers c \
         WHERE c.party_id IN (notifications.recipient, notifications.about) AND c.status = 'erased')",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records a delivery attempt: delivered, to be retried at `next_attempt_at`, or failed.
pub async fn record_attempt(
    conn: &mut Conn,
    id: &str,
    status: NotificationStatus,
    error: &str,
    now: i64,
    next_attempt_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = $1, attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
         delivered_at = CASE WHEN $1 = $4 THEN $5 ELSE delivered_at END WHERE id = $6",
    )
    .bind(status as i64)
    .bind(error)
    .bind(next_attempt_at)
    .bind(NotificationStatus::Delivered as i64)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Live customers born on one of `month_days` (`MM-DD`) whose greeting is not queued yet (its
/// dedupe key is `key_prefix`, the party id, `key_suffix`): (party id, name, birth date). Read
/// through the index on the month and day of birth, so a day reads its own birthdays only, and
/// once they are queued each run finds nothing to write.
pub async fn born_on(
    conn: &mut Conn,
    month_days: &[String],
    (key_prefix, key_suffix): (&str, &str),
) -> sqlx::Result<Vec<(String, String, String)>> {
    if month_days.is_empty() {
        return Ok(Vec::new());
    }
    // The literals repeat the partial index's condition, so that it applies to a generic plan.
    let mut q = crm_storage::SqlBuilder::new(
        "SELECT party_id, display_name, birth_date FROM customers WHERE status = 'active' AND birth_date <> ''",
    );
    let list = q.in_list(month_days.iter().map(String::as_str));
    q.push(&format!(" AND SUBSTR(birth_date, 6, 5) IN ({list})"));
    let (prefix, suffix) = (q.arg(key_prefix), q.arg(key_suffix));
    q.push(&format!(
        " AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = {prefix} || customers.party_id || {suffix})"
    ));
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("party_id")?,
                r.try_get("display_name")?,
                r.try_get("birth_date")?,
            ))
        })
        .collect()
}
