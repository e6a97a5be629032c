//! Queues and agents.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Conn, SqlBuilder, escape_like};
use sqlx::Row as _;

/// Inserts a queue (id set here).
pub async fn insert_queue(conn: &mut Conn, q: &mut pb::Queue) -> sqlx::Result<()> {
    q.id = uuid::Uuid::now_v7().to_string();
    sqlx::query("INSERT INTO queues (id, name, supervisor_id) VALUES ($1, $2, $3)")
        .bind(&q.id)
        .bind(&q.name)
        .bind(&q.supervisor_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Renames a queue and sets its supervisor; false when there is no such queue.
pub async fn update_queue(conn: &mut Conn, q: &pb::Queue) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE queues SET name = $1, supervisor_id = $2 WHERE id = $3")
        .bind(&q.name)
        .bind(&q.supervisor_id)
        .bind(&q.id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn queue_from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<pb::Queue> {
    Ok(pb::Queue {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        supervisor_id: r.try_get("supervisor_id")?,
    })
}

/// One queue.
pub async fn queue(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Queue>> {
    sqlx::query("SELECT id, name, supervisor_id FROM queues WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(queue_from_row)
        .transpose()
}

/// The queue named `name`, letter case aside.
pub async fn queue_by_name(conn: &mut Conn, name: &str) -> sqlx::Result<Option<pb::Queue>> {
    sqlx::query("SELECT id, name, supervisor_id FROM queues WHERE LOWER(name) = LOWER($1)")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(queue_from_row)
        .transpose()
}

/// Which of `ids` name queues.
pub async fn existing_queues(conn: &mut Conn, ids: &[String]) -> sqlx::Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new("SELECT id FROM queues WHERE 1 = 1");
    let list = q.in_list(ids.iter().map(String::as_str));
    q.push(&format!(" AND id IN ({list})"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// Up to `limit` queues by name, after the name `after`.
pub async fn queues(conn: &mut Conn, after: Option<String>, limit: i64) -> sqlx::Result<Vec<pb::Queue>> {
    let mut q = SqlBuilder::new("SELECT id, name, supervisor_id FROM queues WHERE 1 = 1");
    q.after("name", after.map(|name| vec![name]));
    q.order_limit("name", limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter().map(queue_from_row).collect()
}

/// Inserts or updates an agent.
pub async fn upsert_agent(conn: &mut Conn, a: &pb::Agent) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agents (user_id, name, queue_ids, skills, capacity) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, queue_ids = excluded.queue_ids, skills = excluded.skills, \
         capacity = excluded.capacity",
    )
    .bind(&a.user_id)
    .bind(&a.name)
    .bind(serde_json::to_string(&a.queue_ids).unwrap_or_default())
    .bind(serde_json::to_string(&a.skills).unwrap_or_default())
    .bind(i64::from(a.capacity))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Agents with their load (open cases assigned), by user id.
pub async fn agents(conn: &mut Conn, filter: AgentFilter<'_>, limit: i64) -> sqlx::Result<Vec<pb::Agent>> {
    let mut q = SqlBuilder::new(
        "SELECT a.user_id, a.name, a.queue_ids, a.skills, a.capacity, \
         (SELECT COUNT(*) FROM cases c WHERE c.agent_id = a.user_id AND c.status IN (2, 3, 4)) AS load \
         FROM agents a WHERE 1 = 1",
    );
    match filter {
        AgentFilter::After(after) => {
            q.after("a.user_id", after.map(|id| vec![id]));
        }
        AgentFilter::One(user_id) => {
            q.and("a.user_id = {}", user_id);
        }
        // The queue list is JSON text: a queue's agents are the lists naming it.
        AgentFilter::OfQueue(queue_id) => {
            let pattern = format!(
                "%{}%",
                escape_like(&serde_json::to_string(queue_id).unwrap_or_default())
            );
            q.and("a.queue_ids LIKE {} ESCAPE '\\'", pattern);
        }
    }
    q.order_limit("a.user_id", limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Agent {
                user_id: r.try_get("user_id")?,
                name: r.try_get("name")?,
                queue_ids: serde_json::from_str(&r.try_get::<String, _>("queue_ids")?).unwrap_or_default(),
                skills: serde_json::from_str(&r.try_get::<String, _>("skills")?).unwrap_or_default(),
                capacity: r.try_get::<i64, _>("capacity")? as i32,
                load: r.try_get::<i64, _>("load")? as i32,
            })
        })
        .collect()
}

/// Which agents [`agents`] reads.
#[derive(Debug, Clone, Copy)]
pub enum AgentFilter<'a> {
    /// Every agent after a user id (a page of the list).
    After(Option<&'a str>),
    /// The agent with this user id.
    One(&'a str),
    /// The agents of a queue.
    OfQueue(&'a str),
}

/// The agent with `user_id`, with their load.
pub async fn agent(conn: &mut Conn, user_id: &str) -> sqlx::Result<Option<pb::Agent>> {
    Ok(agents(conn, AgentFilter::One(user_id), 1).await?.pop())
}
