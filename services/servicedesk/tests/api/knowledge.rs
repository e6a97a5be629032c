use std::sync::Arc;
use std::time::Duration;

use crm_platform::Store;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_proto::servicedesk::v1::{self as pb, CaseType};
use crm_servicedesk::kb_backfill;
use crm_testkit::{Backend, authed, backend_tests, eventually, start};

use tokio_util::sync::CancellationToken;

use crate::helpers::{Suite, case, customer_token, violated};

async fn the_knowledge_base_ranks_articles_and_suggests_them_for_cases(backend: Backend) {
    let suite = Suite::start(backend).await;
    let article = |title: &str, body: &str, language: &str| pb::Article {
        title: title.into(),
        body: body.into(),
        language: language.into(),
        ..Default::default()
    };
    let mut ids = Vec::new();
    for a in [
        article(
            "Reset your voicemail password",
            "Dial 123, choose 9, then enter a new password.",
            "en",
        ),
        article(
            "Roaming charges",
            "Roaming abroad is billed per day. A password is not needed.",
            "en",
        ),
        article("Shipping times", "SIM cards arrive in two working days.", "en"),
        article("如何重設語音信箱密碼", "撥打123，選擇9，輸入新密碼。", "zh-TW"),
    ] {
        let stored = suite
            .desk()
            .upsert_article(suite.req(pb::UpsertArticleRequest { article: Some(a) }))
            .await
            .unwrap()
            .into_inner()
            .article
            .unwrap();
        ids.push(stored.id);
    }
    let search = |query: &str, language: &str| pb::SearchArticlesRequest {
        query: query.into(),
        language: language.into(),
        limit: 0,
    };
    let titles = |hits: Vec<pb::ArticleHit>| {
        hits.into_iter()
            .map(|h| h.article.unwrap().title)
            .collect::<Vec<_>>()
    };

    // A title match outranks a body mention; unrelated articles are not returned.
    let hits = suite
        .desk()
        .search_articles(suite.req(search("voicemail password", "en")))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!(titles(hits), ["Reset your voicemail password", "Roaming charges"]);
    // Chinese text is searchable without spaces; customers can search too.
    let hits = suite
        .desk()
        .search_articles(authed(search("密碼", ""), &customer_token("p-1")))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!(titles(hits), ["如何重設語音信箱密碼"]);
    let err = suite
        .desk()
        .search_articles(suite.req(pb::SearchArticlesRequest {
            query: " ".into(),
            language: String::new(),
            limit: 99,
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["query", "limit"]);

    // Editing keeps the id.
    let mut edited = article(
        "Reset your voicemail PIN",
        "Dial 123, choose 9, then enter a new PIN.",
        "en",
    );
    edited.id = ids[0].clone();
    suite
        .desk()
        .upsert_article(suite.req(pb::UpsertArticleRequest {
            article: Some(edited),
        }))
        .await
        .unwrap();
    let hits = suite
        .desk()
        .search_articles(suite.req(search("voicemail", "")))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!(titles(hits), ["Reset your voicemail PIN"]);
    let hits = suite
        .desk()
        .search_articles(suite.req(search("password", "en")))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!(
        titles(hits),
        ["Roaming charges"],
        "the edited article's old terms are gone"
    );

    // Suggestions for a case come from its subject and description, and count as uses.
    let queue = suite.queue("General").await;
    let mut c = case("p-1", &queue, CaseType::Inquiry, 3, "Roaming in Japan");
    c.description = "How much is roaming per day?".into();
    let c = suite.open(&suite.admin, c).await.unwrap();
    let hits = suite
        .desk()
        .suggest_articles(suite.req(pb::SuggestArticlesRequest {
            case_id: c.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!(hits[0].article.as_ref().unwrap().title, "Roaming charges");
    let again = suite
        .desk()
        .search_articles(suite.req(search("roaming", "en")))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert_eq!(again[0].article.as_ref().unwrap().usage_count, 1);
}

/// Articles stored before search read postings are indexed by a desk when it starts.
async fn articles_stored_before_the_postings_are_indexed_at_start(backend: Backend) {
    let suite = Suite::start(backend).await;
    sqlx::query(
        "INSERT INTO articles (id, title, body, language, tags) \
         VALUES ('a-old', 'Legacy modem setup', 'Plug the modem in and wait.', 'en', '[]')",
    )
    .execute(suite.desk_db.pool())
    .await
    .unwrap();
    let restarted =
        start::<crm_servicedesk::Servicedesk>(&suite.desk_url, suite.nats.client().await, |_, _| {}).await;
    let desk = ServiceDeskServiceClient::new(restarted.channel());
    eventually(Duration::from_secs(30), "the article stored before", || {
        let mut desk = desk.clone();
        let req = suite.req(pb::SearchArticlesRequest {
            query: "modem".into(),
            language: "en".into(),
            limit: 0,
        });
        async move {
            let hits = desk.search_articles(req).await.ok()?.into_inner().hits;
            let ids: Vec<String> = hits
                .into_iter()
                .map(|h| h.article.unwrap_or_default().id)
                .collect();
            (ids == ["a-old"]).then_some(())
        }
    })
    .await;
    let store = Store::new(suite.desk_db.clone(), Arc::default(), suite.clock.clone());
    let stop = CancellationToken::new();
    assert_eq!(
        kb_backfill::run_once(&store, &stop).await.unwrap(),
        0,
        "nothing left"
    );
}

backend_tests!(
    the_knowledge_base_ranks_articles_and_suggests_them_for_cases,
    articles_stored_before_the_postings_are_indexed_at_start
);
