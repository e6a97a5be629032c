//! Knowledge-base articles and their search postings.

use crm_proto::servicedesk::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::domain::search::term_weights;

/// Inserts (empty id: a new id is set) or replaces an article and its postings; keeps the usage
/// count.
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
    index_terms(conn, a).await
}

/// Replaces an article's postings: its weight for each of its terms (see
/// [`crate::domain::search::term_weights`]), and marks it indexed.
pub async fn index_terms(conn: &mut Conn, a: &pb::Article) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM article_terms WHERE article_id = $1")
        .bind(&a.id)
        .execute(&mut *conn)
        .await?;
    let weights = term_weights(&a.title, &a.body);
    for chunk in crm_storage::insert_chunks(&weights, 500) {
        SqlBuilder::insert_rows(
            "article_terms (term, article_id, language, weight)",
            chunk.iter().map(|(term, weight)| {
                [
                    Arg::from(term.as_str()),
                    Arg::from(a.id.as_str()),
                    Arg::from(a.language.as_str()),
                    Arg::Float(*weight),
                ]
            }),
        )
        .build()
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("UPDATE articles SET terms_indexed = 1 WHERE id = $1")
        .bind(&a.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The best `limit` articles in `language` (empty: every language) for a query's distinct
/// `terms`, with their scores: the sums of their postings' weights, summed in SQL. Ties go to the
/// most used, then to the lower id.
pub async fn search(
    conn: &mut Conn,
    terms: &[String],
    language: &str,
    limit: i64,
) -> sqlx::Result<Vec<(pb::Article, f64)>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new("");
    let list = q.in_list(terms.iter().map(String::as_str));
    let mut postings =
        format!("SELECT article_id, SUM(weight) AS score FROM article_terms WHERE term IN ({list})");
    if !language.is_empty() {
        postings.push_str(&format!(" AND language = {}", q.arg(language)));
    }
    let limit = q.arg(limit);
    q.push(&format!(
        "SELECT {COLUMNS}, s.score FROM ({postings} GROUP BY article_id) s JOIN articles a ON a.id = s.article_id \
         ORDER BY s.score DESC, a.usage_count DESC, a.id LIMIT {limit}"
    ));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((from_row(r)?, r.try_get("score")?)))
        .collect()
}

/// Up to `limit` articles stored before search read postings, not yet indexed.
pub async fn unindexed(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<pb::Article>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM articles a WHERE terms_indexed = 0 ORDER BY id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

const COLUMNS: &str = "a.id, a.title, a.body, a.language, a.tags, a.usage_count";

fn from_row(r: &AnyRow) -> sqlx::Result<pb::Article> {
    Ok(pb::Article {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        language: r.try_get("language")?,
        tags: serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
        usage_count: r.try_get("usage_count")?,
    })
}

/// Counts a use of an article (suggested for a case).
pub async fn count_use(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE articles SET usage_count = usage_count + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
