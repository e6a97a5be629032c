//! The knowledge base: articles, ranked search and suggestions for a case.

use crm_auth::Principal;
use crm_proto::servicedesk::v1 as pb;
use crm_storage::Conn;

use super::{ServiceDeskApi, visible_case};
use crate::domain::search::query_terms;
use crate::error::{Result, Violations};
use crate::storage::kb;

const DEFAULT_LIMIT: i32 = 10;
const MAX_LIMIT: i32 = 50;
const SUGGESTIONS: usize = 5;

/// The best `limit` articles in `language` (empty: every language) for `query`.
async fn rank(conn: &mut Conn, query: &str, language: &str, limit: usize) -> Result<Vec<pb::ArticleHit>> {
    let found = kb::search(conn, &query_terms(query), language, limit as i64).await?;
    Ok(found
        .into_iter()
        .map(|(article, score)| pb::ArticleHit {
            article: Some(article),
            score,
        })
        .collect())
}

/// Checks an article's fields (paths prefixed `article.`); title and language trimmed first.
pub(super) fn check_article(a: &pb::Article) -> Violations {
    let mut v = Violations::new();
    v.check(a.title.is_empty(), "article.title", "required");
    v.check(
        a.title.chars().count() > 500,
        "article.title",
        "at most 500 characters",
    );
    v.check(a.body.trim().is_empty(), "article.body", "required");
    v.check(
        a.language.is_empty(),
        "article.language",
        "required: a language tag such as en or zh-TW",
    );
    v.check(a.body.len() > 1_000_000, "article.body", "at most 1 MB");
    v
}

impl ServiceDeskApi {
    pub(super) async fn handle_upsert_article(
        &self,
        _p: &Principal,
        req: pb::UpsertArticleRequest,
    ) -> Result<pb::UpsertArticleResponse> {
        let mut a = req.article.unwrap_or_default();
        a.title = a.title.trim().to_string();
        a.language = a.language.trim().to_string();
        check_article(&a).finish()?;
        let mut tx = self.store.begin().await?;
        kb::upsert(&mut tx, &mut a).await?;
        self.store.commit(tx).await?;
        Ok(pb::UpsertArticleResponse { article: Some(a) })
    }

    pub(super) async fn handle_search_articles(
        &self,
        _p: &Principal,
        req: pb::SearchArticlesRequest,
    ) -> Result<pb::SearchArticlesResponse> {
        let mut v = Violations::new();
        v.check(req.query.trim().is_empty(), "query", "required");
        v.check(
            !(0..=MAX_LIMIT).contains(&req.limit),
            "limit",
            "0 (default 10) to 50",
        );
        v.finish()?;
        let limit = if req.limit == 0 { DEFAULT_LIMIT } else { req.limit } as usize;
        let mut conn = self.store.conn().await?;
        Ok(pb::SearchArticlesResponse {
            hits: rank(&mut conn, &req.query, req.language.trim(), limit).await?,
        })
    }

    pub(super) async fn handle_suggest_articles(
        &self,
        p: &Principal,
        req: pb::SuggestArticlesRequest,
    ) -> Result<pb::SuggestArticlesResponse> {
        let mut tx = self.store.begin().await?;
        let case = visible_case(&mut tx, p, &req.case_id).await?;
        let query = format!(
            "{} {} {}",
            case.case.subject, case.case.category, case.case.description
        );
        let hits = rank(&mut tx, &query, "", SUGGESTIONS).await?;
        for hit in &hits {
            if let Some(a) = &hit.article {
                kb::count_use(&mut tx, &a.id).await?;
            }
        }
        self.store.commit(tx).await?;
        Ok(pb::SuggestArticlesResponse { hits })
    }
}
