//! The knowledge base: articles, ranked search and suggestions for a case.

use crm_auth::Principal;
use crm_proto::servicedesk::v1 as pb;

use super::{ServiceDeskApi, visible_case};
use crate::domain::search::score;
use crate::error::{Result, Violations};
use crate::storage::kb;

const DEFAULT_LIMIT: i32 = 10;
const MAX_LIMIT: i32 = 50;
const SUGGESTIONS: usize = 5;

/// Articles matching `query`, best first (ties: most used, then id).
fn rank(articles: Vec<pb::Article>, query: &str, limit: usize) -> Vec<pb::ArticleHit> {
    let mut hits: Vec<pb::ArticleHit> = articles
        .into_iter()
        .map(|a| pb::ArticleHit {
            score: score(query, &a.title, &a.body),
            article: Some(a),
        })
        .filter(|h| h.score > 0.0)
        .collect();
    hits.sort_by(|a, b| {
        let key = |h: &pb::ArticleHit| {
            h.article
                .as_ref()
                .map(|a| (a.usage_count, a.id.clone()))
                .unwrap_or_default()
        };
        b.score.total_cmp(&a.score).then_with(|| {
            let (ua, ia) = key(a);
            let (ub, ib) = key(b);
            ub.cmp(&ua).then(ia.cmp(&ib))
        })
    });
    hits.truncate(limit);
    hits
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
        let articles = kb::in_language(&mut *self.store.conn().await?, req.language.trim()).await?;
        Ok(pb::SearchArticlesResponse {
            hits: rank(articles, &req.query, limit),
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
        let hits = rank(kb::in_language(&mut tx, "").await?, &query, SUGGESTIONS);
        for hit in &hits {
            if let Some(a) = &hit.article {
                kb::count_use(&mut tx, &a.id).await?;
            }
        }
        self.store.commit(tx).await?;
        Ok(pb::SuggestArticlesResponse { hits })
    }
}
