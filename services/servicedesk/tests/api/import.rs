//! Bulk import of cases with their history, and of knowledge-base articles.

use std::time::Duration;

use crm_proto::common::v1::{ImportOptions, ImportSummary};
use crm_proto::customers::v1 as cpb;
use crm_proto::servicedesk::v1::{self as pb, CaseChannel, CaseStatus, CaseType};
use crm_testkit::{Backend, authed, backend_tests, eventually};
use futures::StreamExt as _;

use crate::helpers::{MINUTE, MONDAY_10AM, Suite, agent_token, customer_token, micros};

const DAY: i64 = 24 * 60 * MINUTE;

fn at(micros: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: micros / 1_000_000,
        nanos: 0,
    })
}

fn options(validate_only: bool) -> Option<ImportOptions> {
    Some(ImportOptions {
        source: "legacy".into(),
        validate_only,
    })
}

fn row(line: i64, id: &str, customer: &str, status: CaseStatus, opened: i64) -> pb::CaseImportRow {
    pb::CaseImportRow {
        row: line,
        external_id: id.into(),
        party_external_id: customer.into(),
        case: Some(pb::Case {
            r#type: CaseType::Complaint as i32,
            channel: CaseChannel::Email as i32,
            category: "billing".into(),
            severity: 2,
            subject: format!("Case {id}"),
            ..Default::default()
        }),
        queue_name: "Support".into(),
        status: status as i32,
        open_time: at(opened),
        ..Default::default()
    }
}

async fn import(suite: &Suite, rows: Vec<pb::CaseImportRow>, validate_only: bool) -> ImportSummary {
    suite
        .desk()
        .import_cases(suite.req(futures::stream::iter([pb::ImportCasesRequest {
            options: options(validate_only),
            rows,
        }])))
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap()
}

async fn imported_events(suite: &Suite) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM crm_outbox WHERE event_type = 'crm.servicedesk.case.imported.v1'",
    )
    .fetch_one(suite.desk_db.pool())
    .await
    .unwrap()
}

async fn imported_cases_are_history_not_activity(backend: Backend) {
    let suite = Suite::start(backend).await;
    suite.queue("Support").await;
    suite
        .customers
        .clone()
        .import_parties(suite.req(futures::stream::iter([cpb::ImportPartiesRequest {
            options: options(false),
            rows: vec![cpb::PartyImportRow {
                row: 2,
                external_id: "K-1".into(),
                party: Some(cpb::Party {
                    kind: cpb::PartyKind::Person as i32,
                    given_name: "Kim".into(),
                    ..Default::default()
                }),
                create_time: None,
            }],
        }])))
        .await
        .unwrap();
    let two_years_ago = MONDAY_10AM - 730 * DAY;
    let mut closed = row(2, "T-1", "K-1", CaseStatus::Closed, two_years_ago);
    closed.first_response_time = at(two_years_ago + DAY);
    closed.resolve_time = at(two_years_ago + 3 * DAY);
    closed.resolution = "Refunded".into();
    closed.satisfaction = 4;
    closed.comments = vec![
        pb::ImportedComment {
            time: at(two_years_ago + DAY),
            author: "agent-7".into(),
            text: "We are looking into it".into(),
            internal: false,
        },
        pb::ImportedComment {
            time: at(two_years_ago + 2 * DAY),
            author: String::new(),
            text: "Refund approved by finance".into(),
            internal: true,
        },
    ];
    let open = row(3, "T-2", "K-1", CaseStatus::InProgress, MONDAY_10AM - 10 * DAY);
    let mut unresolved = row(4, "T-3", "K-1", CaseStatus::Resolved, two_years_ago);
    unresolved.satisfaction = 9;
    let stranger = row(5, "T-4", "K-404", CaseStatus::New, two_years_ago);
    let nowhere = pb::CaseImportRow {
        queue_name: "Nowhere".into(),
        ..row(6, "T-5", "K-1", CaseStatus::New, MONDAY_10AM + DAY)
    };
    let file = || {
        vec![
            closed.clone(),
            open.clone(),
            unresolved.clone(),
            stranger.clone(),
            nowhere.clone(),
        ]
    };
    // The desk knows imported customers from the customers service's events.
    let summary = eventually(
        Duration::from_secs(20),
        "the customer known to the desk",
        || async {
            let s = import(&suite, file(), false).await;
            (s.created == 2).then_some(s)
        },
    )
    .await;
    let refused: Vec<(i64, &str)> = summary
        .rejections
        .iter()
        .map(|r| (r.row, r.field.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            (4, "resolve_time"),
            (4, "satisfaction"),
            (5, "party_external_id"),
            (6, "queue_name"),
            (6, "open_time"),
        ]
    );
    assert_eq!(summary.rejected, 3);

    // Nothing of the history is acted on: no escalation, no notification.
    let raised = suite
        .desk()
        .run_escalations(suite.req(pb::RunEscalationsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised;
    assert!(raised.is_empty(), "{raised:?}");
    assert!(
        suite
            .notifications("", pb::NotificationStatus::Unspecified)
            .await
            .is_empty()
    );

    let cases = suite
        .desk()
        .list_cases(suite.req(pb::ListCasesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .cases;
    let by_subject = |s: &str| cases.iter().find(|c| c.subject == s).cloned().unwrap();
    let old = suite.get(&by_subject("Case T-1").id).await;
    assert_eq!(old.status, CaseStatus::Closed as i32);
    assert_eq!(old.external_id, "T-1");
    assert_eq!(micros(&old.open_time), two_years_ago);
    assert_eq!(micros(&old.resolve_time), two_years_ago + 3 * DAY);
    assert_eq!((old.satisfaction, old.resolution.as_str()), (4, "Refunded"));
    let timeline: Vec<(&str, i64)> = old
        .timeline
        .iter()
        .map(|t| (t.kind.as_str(), micros(&t.time)))
        .collect();
    assert_eq!(
        timeline,
        [
            ("opened", two_years_ago),
            ("comment", two_years_ago + DAY),
            ("comment", two_years_ago + 2 * DAY),
            ("resolved", two_years_ago + 3 * DAY),
        ]
    );

    // The case still open is worked from its import on: overdue later, it escalates then.
    suite.clock.advance(Duration::from_secs(10 * 86_400));
    let raised = suite
        .desk()
        .run_escalations(suite.req(pb::RunEscalationsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .raised;
    let open_id = by_subject("Case T-2").id;
    assert!(
        !raised.is_empty() && raised.iter().all(|e| e.case_id == open_id),
        "{raised:?}"
    );

    // Staff export them; a customer may not.
    let export = |token: String| {
        let mut client = suite.desk();
        async move {
            let mut stream = client
                .export_cases(authed(pb::ExportCasesRequest::default(), &token))
                .await?
                .into_inner();
            let mut ids = Vec::new();
            while let Some(page) = stream.next().await {
                ids.extend(page?.cases.into_iter().map(|c| c.external_id));
            }
            ids.sort();
            Ok::<_, tonic::Status>(ids)
        }
    };
    assert_eq!(export(agent_token("amy")).await.unwrap(), ["T-1", "T-2"]);
    let customer = customer_token(&old.party_id);
    assert_eq!(
        export(customer).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );

    // The same file again changes nothing and announces nothing.
    let events = imported_events(&suite).await;
    assert_eq!(events, 2);
    let again = import(&suite, file(), false).await;
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    assert_eq!(imported_events(&suite).await, events);
}

async fn articles_come_in_once(backend: Backend) {
    let suite = Suite::start(backend).await;
    let article = |line: i64, id: &str, title: &str, body: &str| pb::ArticleImportRow {
        row: line,
        external_id: id.into(),
        article: Some(pb::Article {
            title: title.into(),
            body: body.into(),
            language: "en".into(),
            ..Default::default()
        }),
    };
    let send = |rows: Vec<pb::ArticleImportRow>| async {
        suite
            .desk()
            .import_articles(suite.req(futures::stream::iter([pb::ImportArticlesRequest {
                options: options(false),
                rows,
            }])))
            .await
            .unwrap()
            .into_inner()
            .summary
            .unwrap()
    };
    let file = || {
        vec![
            article(2, "KB-1", "Reset your router", "Unplug it for ten seconds."),
            article(3, "KB-2", "Empty", ""),
        ]
    };
    let summary = send(file()).await;
    assert_eq!((summary.created, summary.rejected), (1, 1));
    assert_eq!(summary.rejections[0].field, "body");
    assert_eq!(send(file()).await.unchanged, 1);
    let mut changed = file();
    changed[0].article.as_mut().unwrap().body = "Unplug it for thirty seconds.".into();
    assert_eq!(send(changed).await.updated, 1);
    let found = suite
        .desk()
        .search_articles(suite.req(pb::SearchArticlesRequest {
            query: "router".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.hits.len(), 1);
    assert!(found.hits[0].article.as_ref().unwrap().body.contains("thirty"));
}

/// A case naming an erased customer by id is refused, as OpenCase refuses one.
async fn an_imported_case_about_an_erased_customer_is_refused(backend: Backend) {
    let suite = Suite::start(backend).await;
    suite.queue("Support").await;
    let ada = suite.customer("Ada", "0911111111").await;
    suite.erase(&ada.id).await;
    let mut about_ada = row(2, "T-9", "", CaseStatus::New, MONDAY_10AM - DAY);
    if let Some(case) = about_ada.case.as_mut() {
        case.party_id = ada.id.clone();
        case.description = "Ada asked us to call her at home".into();
    }
    let summary = import(&suite, vec![about_ada], false).await;
    assert_eq!((summary.created, summary.rejected), (0, 1));
    let refused = &summary.rejections[0];
    assert_eq!(refused.field, "case.party_id");
    assert!(refused.reason.contains("erased"), "{}", refused.reason);
}

backend_tests!(
    imported_cases_are_history_not_activity,
    articles_come_in_once,
    an_imported_case_about_an_erased_customer_is_refused
);
