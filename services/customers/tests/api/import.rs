//! Bulk import of parties and relationships, and the party export.

use crm_auth::Role;
use crm_proto::common::v1::{ImportOptions, ImportSummary};
use crm_proto::customers::v1::{self as pb, ContactPointKind, PartyKind, RelationshipType};
use crm_testkit::{Backend, authed, backend_tests, eventually, token};
use futures::StreamExt as _;
use tonic::Code;

use crate::helpers::{TestApp, person, token_for};

pub(crate) fn options(source: &str, validate_only: bool) -> Option<ImportOptions> {
    Some(ImportOptions {
        source: source.into(),
        validate_only,
    })
}

pub(crate) fn row(line: i64, external_id: &str, given: &str, email: &str) -> pb::PartyImportRow {
    let mut party = person(given, "Import", email);
    party.tags = vec!["imported".into()];
    pb::PartyImportRow {
        row: line,
        external_id: external_id.into(),
        party: Some(party),
        create_time: Some(prost_types::Timestamp {
            seconds: 852_076_800, // 1997-01-01
            nanos: 0,
        }),
    }
}

/// Sends `batches` as one import stream (options with the first) as `token`.
pub(crate) async fn import(
    app: &TestApp,
    token: &str,
    source: &str,
    validate_only: bool,
    batches: Vec<Vec<pb::PartyImportRow>>,
) -> Result<ImportSummary, tonic::Status> {
    let messages: Vec<pb::ImportPartiesRequest> = batches
        .into_iter()
        .enumerate()
        .map(|(i, rows)| pb::ImportPartiesRequest {
            options: if i == 0 {
                options(source, validate_only)
            } else {
                None
            },
            rows,
        })
        .collect();
    Ok(app
        .client
        .clone()
        .import_parties(authed(futures::stream::iter(messages), token))
        .await?
        .into_inner()
        .summary
        .unwrap())
}

/// The parties announced by `parties.imported` events, in order, and how many such events.
async fn announced(app: &TestApp) -> (Vec<pb::Party>, usize) {
    let mut parties = Vec::new();
    let mut events = 0;
    for e in app.events().await {
        if e.event_type == "crm.customers.parties.imported.v1" {
            events += 1;
            parties.extend(e.decode::<pb::PartiesImported>().unwrap().parties);
        }
    }
    (parties, events)
}

fn rejected(summary: &ImportSummary) -> Vec<(i64, String)> {
    summary
        .rejections
        .iter()
        .map(|r| (r.row, r.field.clone()))
        .collect()
}

async fn bad_rows_are_refused_with_row_and_field_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut long = row(4, "c-4", &"x".repeat(201), "");
    long.party.as_mut().unwrap().family_name.clear();
    let mut region = row(5, "c-5", "Reg", "");
    region.party.as_mut().unwrap().region_code = "NOWHERE".into();
    let mut future = row(6, "c-6", "Fut", "");
    future.create_time = Some(prost_types::Timestamp {
        seconds: 4_102_444_800, // 2100
        nanos: 0,
    });
    let mut no_id = row(7, "", "NoId", "");
    no_id.external_id.clear();
    let summary = import(
        &app,
        &app.admin,
        "legacy",
        false,
        vec![
            vec![
                row(2, "c-2", "Ann", "ann@example.com"),
                row(3, "c-3", "Bad", "not-an-email"),
                long,
            ],
            // The same external id as row 2, in a later message of the same import.
            vec![
                region,
                future,
                no_id,
                row(8, "c-2", "Ann", "again@example.com"),
                row(9, "c-9", "Bo", ""),
            ],
        ],
    )
    .await
    .unwrap();
    assert_eq!((summary.created, summary.updated, summary.unchanged), (2, 0, 0));
    assert_eq!(summary.rejected, 6);
    assert_eq!(
        rejected(&summary),
        [
            (3, "contact_points[0].value".to_string()),
            (4, "given_name".into()),
            (5, "region_code".into()),
            (6, "create_time".into()),
            (7, "external_id".into()),
            (8, "external_id".into()),
        ]
    );
    assert!(
        summary.rejections[5].reason.contains("row 2"),
        "{:?}",
        summary.rejections[5]
    );
    assert_eq!(app.party_rows().await, 2);
    // One batch event per message with good rows, each party in it as stored.
    assert_eq!(app.event_types().await, ["parties.imported", "parties.imported"]);
    let (parties, _) = announced(&app).await;
    assert_eq!(parties.len(), 2);
    for party in &parties {
        assert_eq!(party, &app.get(&party.id).await.unwrap());
    }

    // The imported party keeps the source's creation time, source and external id.
    let found = app
        .client
        .clone()
        .resolve_external_ids(app.req(pb::ResolveExternalIdsRequest {
            source: "legacy".into(),
            external_ids: vec!["c-2".into(), "c-404".into()],
        }))
        .await
        .unwrap()
        .into_inner()
        .parties;
    assert_eq!(found.len(), 1);
    let ann = &found[0];
    assert_eq!((ann.external_id.as_str(), ann.source.as_str()), ("c-2", "legacy"));
    assert_eq!(ann.create_time.unwrap().seconds, 852_076_800);
    assert_eq!(ann.contact_points[0].kind, ContactPointKind::Email as i32);
    assert_eq!(ann.kind, PartyKind::Person as i32);
}

async fn reimport_changes_only_what_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let file = || {
        vec![
            vec![row(2, "c-1", "Ann", "ann@example.com"), row(3, "c-2", "Bo", "")],
            vec![row(4, "c-3", "Cy", "")],
        ]
    };
    let first = import(&app, &app.admin, "erp", false, file()).await.unwrap();
    assert_eq!(
        (first.created, first.updated, first.unchanged, first.rejected),
        (3, 0, 0, 0)
    );
    let (parties, events) = announced(&app).await;
    assert_eq!((parties.len(), events), (3, 2), "one batch event per message");

    // The same file again: nothing changes, nothing is announced.
    let again = import(&app, &app.admin, "erp", false, file()).await.unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged, again.rejected),
        (0, 0, 3, 0)
    );
    assert_eq!(app.party_rows().await, 3);
    assert_eq!(app.event_types().await.len(), 2);

    // One changed row: one update, one event.
    let mut changed = file();
    changed[0][1] = row(3, "c-2", "Bob", "");
    let third = import(&app, &app.admin, "erp", false, changed).await.unwrap();
    assert_eq!((third.created, third.updated, third.unchanged), (0, 1, 2));
    assert_eq!(app.event_types().await[2..], ["party.updated"]);

    // The same external ids from another source are other records.
    let other = import(&app, &app.admin, "crm_b", false, file()).await.unwrap();
    assert_eq!(other.created, 3);
    assert_eq!(app.party_rows().await, 6);
}

async fn an_interrupted_import_run_again_leaves_no_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rows: Vec<pb::PartyImportRow> = (0..6)
        .map(|i| row(i + 2, &format!("c-{i}"), &format!("P{i}"), ""))
        .collect();
    // The client sends the first half, then dies while the service waits for more.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::ImportPartiesRequest {
        options: options("erp", false),
        rows: rows[..3].to_vec(),
    })
    .await
    .unwrap();
    let mut client = app.client.clone();
    let call = tokio::spawn({
        let admin = app.admin.clone();
        async move {
            client
                .import_parties(authed(tokio_stream::wrappers::ReceiverStream::new(rx), &admin))
                .await
        }
    });
    eventually(
        std::time::Duration::from_secs(20),
        "first half stored",
        || async { (app.party_rows().await == 3).then_some(()) },
    )
    .await;
    call.abort();
    drop(tx);

    let summary = import(&app, &app.admin, "erp", false, vec![rows.clone()])
        .await
        .unwrap();
    assert_eq!((summary.created, summary.unchanged, summary.rejected), (3, 3, 0));
    assert_eq!(app.party_rows().await, 6);
    let (parties, _) = announced(&app).await;
    let ids: std::collections::BTreeSet<&str> = parties.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(
        (parties.len(), ids.len()),
        (6, 6),
        "each party announced once, none repeated"
    );
}

async fn validate_only_checks_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let summary = import(
        &app,
        &app.admin,
        "erp",
        true,
        vec![
            vec![row(2, "c-1", "Ann", ""), row(3, "c-2", "Bad", "nope")],
            vec![row(4, "c-1", "Ann", "")],
        ],
    )
    .await
    .unwrap();
    assert_eq!((summary.created, summary.rejected), (1, 2));
    assert_eq!(rejected(&summary)[1], (4, "external_id".into()));
    assert_eq!(app.party_rows().await, 0);
    assert!(app.event_types().await.is_empty());
}

async fn only_administrators_and_data_stewards_import(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for role in [Role::SalesRep, Role::Marketer, Role::Auditor, Role::Customer] {
        let err = import(
            &app,
            &token("u", &[role]),
            "erp",
            false,
            vec![vec![row(2, "c-1", "Ann", "")]],
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{role:?}");
    }
    let steward = token("steward", &[Role::DataSteward]);
    let summary = import(&app, &steward, "erp", false, vec![vec![row(2, "c-1", "Ann", "")]])
        .await
        .unwrap();
    assert_eq!(summary.created, 1);
    // The first message must name the source.
    let err = import(&app, &steward, "", false, vec![vec![row(2, "c-1", "Ann", "")]])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(crm_testkit::violated(&err), ["options.source"]);
}

async fn relationships_name_their_parties_by_external_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    import(
        &app,
        &app.admin,
        "erp",
        false,
        vec![vec![row(2, "p-1", "Ann", ""), row(3, "p-2", "Bo", "")]],
    )
    .await
    .unwrap();
    let edge = |line: i64, id: &str, from: &str, to: &str| pb::RelationshipImportRow {
        row: line,
        external_id: id.into(),
        from_party_external_id: from.into(),
        to_party_external_id: to.into(),
        r#type: RelationshipType::Knows as i32,
        ..Default::default()
    };
    let send = |rows: Vec<pb::RelationshipImportRow>| {
        let mut client = app.client.clone();
        let admin = app.admin.clone();
        async move {
            client
                .import_relationships(authed(
                    futures::stream::iter([pb::ImportRelationshipsRequest {
                        options: options("erp", false),
                        rows,
                    }]),
                    &admin,
                ))
                .await
                .unwrap()
                .into_inner()
                .summary
                .unwrap()
        }
    };
    let summary = send(vec![
        edge(2, "r-1", "p-1", "p-2"),
        edge(3, "r-2", "p-1", "p-9"),
        edge(4, "r-3", "p-1", "p-1"),
    ])
    .await;
    assert_eq!((summary.created, summary.rejected), (1, 2));
    assert_eq!(
        rejected(&summary),
        [
            (3, "to_party_external_id".to_string()),
            (4, "to_party_external_id".into())
        ]
    );
    let again = send(vec![edge(2, "r-1", "p-1", "p-2")]).await;
    assert_eq!(again.unchanged, 1);
    // A changed row replaces its edge: the old one is deleted, the new one imported.
    let changed = send(vec![pb::RelationshipImportRow {
        role: "mentor".into(),
        ..edge(2, "r-1", "p-1", "p-2")
    }])
    .await;
    assert_eq!(changed.updated, 1);
    let edges: Vec<(String, String)> = sqlx::query_as("SELECT id, role FROM relationships")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].1, "mentor");
    let types = app.event_types().await;
    assert_eq!(
        types[types.len() - 3..],
        [
            "relationships.imported",
            "relationship.deleted",
            "relationships.imported"
        ]
    );
    let events = app.events().await;
    let last: pb::RelationshipsImported = events.last().unwrap().decode().unwrap();
    assert_eq!(last.relationships.len(), 1);
    assert_eq!(last.relationships[0].id, edges[0].0);
}

async fn exports_are_for_staff_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut mine = person("Mine", "Rep", "");
    mine.owner_id = "rep-1".into();
    let mut theirs = person("Theirs", "Rep", "");
    theirs.owner_id = "rep-2".into();
    app.create(mine).await;
    app.create(theirs).await;
    app.create(person("Nobody", "Owns", "")).await;
    let export = |token: String| {
        let mut client = app.client.clone();
        async move {
            let mut stream = client
                .export_parties(authed(pb::ExportPartiesRequest::default(), &token))
                .await?
                .into_inner();
            let mut names = Vec::new();
            while let Some(page) = stream.next().await {
                names.extend(page?.parties.into_iter().map(|p| p.display_name));
            }
            names.sort();
            Ok::<_, tonic::Status>(names)
        }
    };
    assert_eq!(export(app.admin.clone()).await.unwrap().len(), 3);
    // Staff read every party (sales records are where reps are narrowed to their own).
    assert_eq!(export(token("rep-1", &[Role::SalesRep])).await.unwrap().len(), 3);
    let partner = token_for("p", &[Role::PartnerUser], |c| c.partner_id = Some("x".into()));
    assert_eq!(export(partner).await.unwrap_err().code(), Code::PermissionDenied);
    let customer = token_for("c", &[Role::Customer], |c| c.customer_id = Some("x".into()));
    assert_eq!(export(customer).await.unwrap_err().code(), Code::PermissionDenied);
}

/// Many messages (on PostgreSQL two are written at once): every row counted once, a key
/// repeated in a later message refused with the first row, each party stored once.
async fn many_messages_count_like_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut messages: Vec<Vec<pb::PartyImportRow>> = (0..6)
        .map(|m| {
            (0..50)
                .map(|i| {
                    let line = 2 + m * 50 + i;
                    row(line, &format!("c-{line}"), &format!("P{line}"), "")
                })
                .collect()
        })
        .collect();
    // Message 4 repeats the first row of message 3; message 5 a row of message 1.
    messages[4][10] = row(900, "c-152", "Again", "");
    messages[5][0] = row(901, "c-60", "Again", "");
    let summary = import(&app, &app.admin, "erp", false, messages).await.unwrap();
    assert_eq!((summary.created, summary.rejected), (298, 2), "{summary:?}");
    let refused: Vec<(i64, bool)> = summary
        .rejections
        .iter()
        .map(|r| {
            (
                r.row,
                r.reason
                    .contains(&format!("row {}", if r.row == 900 { 152 } else { 60 })),
            )
        })
        .collect();
    assert_eq!(refused, [(900, true), (901, true)]);
    assert_eq!(app.party_rows().await, 298);
}

/// Waits until the duplicate check job has checked every party due.
async fn all_checked(app: &TestApp, what: &str) {
    eventually(std::time::Duration::from_secs(60), what, || async {
        let due: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM duplicate_check_due")
            .fetch_one(app.db.pool())
            .await
            .ok()?;
        (due == 0).then_some(())
    })
    .await;
}

/// Imported parties are checked for duplicates by the job; a name held by more parties than a
/// block compares nobody, while their shared e-mails and the rarer names still match.
async fn imported_parties_are_checked_for_duplicates_without_giant_blocks(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.duplicate_check_interval = std::time::Duration::from_millis(100)
    })
    .await;
    let named = |line: i64, given: &str, family: &str, email: &str| {
        let mut r = row(line, &format!("x-{line}"), given, email);
        r.party.as_mut().unwrap().family_name = family.into();
        r
    };
    // One more "Wei Chen" than a block holds.
    let mut rows: Vec<pb::PartyImportRow> = (0..=crm_customers::domain::duplicates::MAX_BLOCK as i64)
        .map(|i| named(i + 2, "Wei", "Chen", &format!("wei{i}@example.com")))
        .collect();
    rows.push(named(900, "Meiling", "Lin", ""));
    rows.push(named(901, "Meiling", "Lim", ""));
    rows.push(named(902, "Vivian", "Wu", "wei7@example.com"));
    let summary = import(
        &app,
        &app.admin,
        "erp",
        false,
        rows.chunks(200).map(<[_]>::to_vec).collect(),
    )
    .await
    .unwrap();
    assert_eq!(summary.created, rows.len() as i64);

    let find = || async {
        app.client
            .clone()
            .find_duplicates(app.req(pb::FindDuplicatesRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .groups
    };
    all_checked(&app, "imports checked").await;
    // The job also indexes imported names for search.
    let found = app
        .client
        .clone()
        .search_parties(app.req(pb::SearchPartiesRequest {
            query: "meiling".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .parties;
    assert_eq!(found.len(), 2, "both Meilings found by name once checked");
    let groups = find().await;
    assert_eq!(groups.len(), 2, "{groups:?}");
    let names = |g: &pb::DuplicateGroup| -> Vec<String> {
        let mut names: Vec<String> = g.parties.iter().map(|p| p.display_name.clone()).collect();
        names.sort();
        names
    };
    let by_email = groups
        .iter()
        .find(|g| g.reasons == [pb::DuplicateReason::SameEmail as i32])
        .expect("the shared e-mail");
    assert_eq!(names(by_email), ["Vivian Wu", "Wei Chen"]);
    let by_name = groups
        .iter()
        .find(|g| g.reasons == [pb::DuplicateReason::SimilarName as i32])
        .expect("the similar names");
    assert_eq!(names(by_name), ["Meiling Lim", "Meiling Lin"]);

    // An erased party leaves the index at once.
    app.client
        .clone()
        .erase_party(app.req(pb::ErasePartyRequest {
            id: by_name.parties[0].id.clone(),
            reason: "request 17".into(),
        }))
        .await
        .unwrap();
    let left = find().await;
    assert_eq!(left.len(), 1);
    assert_eq!(names(&left[0]), ["Vivian Wu", "Wei Chen"]);

    // Imported again with an e-mail of her own, Vivian Wu is checked again as a written party:
    // the link through the e-mail she no longer shares goes.
    let summary = import(
        &app,
        &app.admin,
        "erp",
        false,
        vec![vec![named(902, "Vivian", "Wu", "vivian@example.com")]],
    )
    .await
    .unwrap();
    assert_eq!(summary.updated, 1);
    all_checked(&app, "the update checked").await;
    assert!(find().await.is_empty(), "no group left");
}

/// The job checks several batches at once on PostgreSQL: parties whose duplicates are in another
/// batch, checked at the same time, are linked all the same.
async fn duplicates_across_batches_checked_at_once_are_found(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.duplicate_check_interval = std::time::Duration::from_millis(100)
    })
    .await;
    let batch = crm_customers::duplicates::BATCH;
    let pairs = batch + batch / 2;
    // A made-up word per number: names unlike each other.
    let word = |n: i64| -> String {
        let mut x = (n as u64)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut w = String::new();
        for i in 0..8 {
            x ^= x >> 29;
            x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let letter = char::from(b'a' + (x % 26) as u8);
            w.push(if i == 0 {
                letter.to_ascii_uppercase()
            } else {
                letter
            });
        }
        w
    };
    // Party i and party i + pairs share a name, and nothing else: each pair spans batches, and
    // only the blocking keys the check writes bring them together.
    let rows: Vec<pb::PartyImportRow> = (0..2 * pairs)
        .map(|i| {
            let mut r = row(i + 2, &format!("p-{i}"), &word(i % pairs), "");
            r.party.as_mut().unwrap().family_name = word(i % pairs + 100_000);
            r
        })
        .collect();
    let summary = import(
        &app,
        &app.admin,
        "erp",
        false,
        rows.chunks(200).map(<[_]>::to_vec).collect(),
    )
    .await
    .unwrap();
    assert_eq!(summary.created, 2 * pairs);
    all_checked(&app, "imports checked").await;
    let linked: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM duplicate_links WHERE reason = $1")
        .bind(crm_customers::domain::duplicates::Reason::SimilarName.code())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(linked, pairs, "every pair linked by its name, once");
}

backend_tests!(
    imported_parties_are_checked_for_duplicates_without_giant_blocks,
    duplicates_across_batches_checked_at_once_are_found,
    many_messages_count_like_one,
    bad_rows_are_refused_with_row_and_field_and_store_nothing,
    reimport_changes_only_what_changed,
    an_interrupted_import_run_again_leaves_no_duplicates,
    validate_only_checks_and_stores_nothing,
    only_administrators_and_data_stewards_import,
    relationships_name_their_parties_by_external_id,
    exports_are_for_staff_only,
);
