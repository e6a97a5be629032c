//! Knowledge-base articles.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::Conn;
use sqlx::Row as _;

/// Inserts (empty id: a new id is set) or replaces an article; keeps the usage count.
pub async fn upsert(conn: &mut Conn, a: &mut pb::Article) -> sqlx::Result<()> {
    if a.id.is_empty() {
        a.id = uuid::Uuid::now_v7().to_string();
    }
    sqlx::query(
        "INSERT INTO articles (id, title, body, language, tags) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, language = excluded.language, \
         tags = excluded.tags",
    )
    .bind(&a.id)
    .bind(&a.title)
    .bind(&a.body)
    .bind(&a.language)
    .bind(serde_json::to_string(&a.tags).unwrap_or_default())
    .execute(&mut *conn)
    .await?;
    a.usage_count = sqlx::query_scalar("SELECT usage_count FROM articles WHERE id = $1")
        .bind(&a.id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// Articles in `language` (empty: every language).
pub async fn in_language(conn: &mut Conn, language: &str) -> sqlx::Result<Vec<pb::Article>> {
    let rows = sqlx::query(
        "SELECT id, title, body, language, tags, usage_count FROM articles WHERE $1 = '' OR language = $1 ORDER BY id",
    )
    .bind(language)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Article {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                language: r.try_get("language")?,
                tags: serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
                usage_count: r.try_get("usage_count")?,
            })
        })
        .collect()
}

/// Counts a use of an article (suggested for a case).
pub async fn count_use(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE articles SET usage_count = usage_count + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
