//! Queues and agents.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;

/// Inserts a queue (id set here).
pub async fn insert_queue(conn: &mut Conn, q: &mut pb::Queue) -> sqlx::Result<()> {
    q.id = uuid::Uuid::now_v7().to_string();
    sqlx::query("INSERT INTO queues (id, name) VALUES ($1, $2)")
        .bind(&q.id)
        .bind(&q.name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every queue by name.
pub async fn queues(conn: &mut Conn) -> sqlx::Result<Vec<pb::Queue>> {
    let rows = sqlx::query("SELECT id, name FROM queues ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Queue {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
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

/// Every agent with its load (open cases assigned), by user id.
pub async fn agents(conn: &mut Conn) -> sqlx::Result<Vec<pb::Agent>> {
    let rows = sqlx::query(
        "SELECT a.user_id, a.name, a.queue_ids, a.skills, a.capacity, \
         (SELECT COUNT(*) FROM cases c WHERE c.agent_id = a.user_id AND c.status IN (2, 3, 4)) AS load \
         FROM agents a ORDER BY a.user_id",
    )
    .fetch_all(&mut *conn)
    .await?;
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
