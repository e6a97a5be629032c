use crm_auth::Role;
use crm_proto::customers::v1::{self as pb, LifecycleStage, PartyKind, PartyStatus};
use crm_testkit::{Backend, authed, backend_tests};
use tonic::Code;

use crate::helpers::{TestApp, mask, organization, person, phone, violated};

async fn create_get_update_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ada = person(" Ada ", "Lovelace", "Ada@Example.com");
    ada.contact_points.push(phone("+44 20 7946 0000"));
    ada.tags = vec!["VIP".into(), "math".into()];
    ada.attributes
        .insert("favourite_engine".into(), "analytical".into());
    ada.birth_date = "1815-12-10".into();
    ada.owner_id = "rep-1".into();
    let created = app.create(ada).await;
    assert!(!created.id.is_empty());
    assert_eq!(created.display_name, "Ada Lovelace");
    assert_eq!(created.status, PartyStatus::Active as i32);
    assert_eq!(
        created.lifecycle_stage,
        LifecycleStage::Prospect as i32,
        "new parties are prospects"
    );
    assert_eq!(created.tags, vec!["math", "vip"]);
    assert_eq!(created.contact_points[0].normalized, "ada@example.com");
    assert!(created.contact_points.iter().all(|c| c.primary));
    assert_eq!(created.etag, "1");
    assert_eq!(app.get(&created.id).await.unwrap(), created);

    let patch = pb::Party {
        id: created.id.clone(),
        etag: created.etag.clone(),
        industry: "Computing".into(),
        lifecycle_stage: LifecycleStage::Customer as i32,
        family_name: "ignored".into(),
        ..Default::default()
    };
    let updated = app
        .client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(patch.clone()),
            update_mask: mask(&["industry", "lifecycle_stage"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(updated.industry, "Computing");
    assert_eq!(
        updated.family_name, "Lovelace",
        "fields outside the mask are kept"
    );
    assert_eq!(updated.etag, "2");

    // The same etag again is stale: rejected, and nothing changes.
    let stale = app
        .client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(pb::Party {
                industry: "Poetry".into(),
                ..patch
            }),
            update_mask: mask(&["industry"]),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert_eq!(app.get(&created.id).await.unwrap().industry, "Computing");
    assert_eq!(
        app.event_types().await,
        vec!["party.created", "party.updated", "party.lifecycle_changed"]
    );
}

async fn bad_input_names_each_field_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bad = person("", "", "not-an-email");
    bad.birth_date = "1815-13-45".into();
    bad.attributes.insert("Bad Key".into(), "x".into());
    bad.contact_points.push(phone("12"));
    let err = app
        .client
        .clone()
        .create_party(app.req(pb::CreatePartyRequest {
            party: Some(bad),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    let fields = violated(&err);
    for expected in [
        "party.given_name",
        "party.contact_points[0].value",
        "party.contact_points[1].value",
        "party.birth_date",
        "party.attributes[Bad Key]",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} not in {fields:?}"
        );
    }
    let err = app
        .client
        .clone()
        .create_party(app.req(pb::CreatePartyRequest {
            party: None,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["party"]);
    let mut unknown_region = organization("Acme");
    unknown_region.region_code = "MARS".into();
    let err = app
        .client
        .clone()
        .create_party(app.req(pb::CreatePartyRequest {
            party: Some(unknown_region),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["party.region_code"]);

    let acme = app.create(organization("Acme")).await;
    let bad_update = pb::UpdatePartyRequest {
        party: Some(pb::Party {
            id: acme.id.clone(),
            etag: "1".into(),
            organization_name: String::new(),
            ..Default::default()
        }),
        update_mask: mask(&["organization_name", "id"]),
    };
    let err = app
        .client
        .clone()
        .update_party(app.req(bad_update))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["update_mask"]);
    let blank_name = pb::UpdatePartyRequest {
        party: Some(pb::Party {
            id: acme.id.clone(),
            etag: "1".into(),
            ..Default::default()
        }),
        update_mask: mask(&["organization_name"]),
    };
    let err = app
        .client
        .clone()
        .update_party(app.req(blank_name))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["party.organization_name"]);
    let no_etag = pb::UpdatePartyRequest {
        party: Some(pb::Party {
            id: acme.id.clone(),
            ..Default::default()
        }),
        update_mask: None,
    };
    let err = app
        .client
        .clone()
        .update_party(app.req(no_etag))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["update_mask", "party.etag"]);

    assert_eq!(app.party_rows().await, 1, "only the valid create stored a party");
    assert_eq!(app.get(&acme.id).await.unwrap().etag, "1");
    assert_eq!(app.event_types().await, vec!["party.created"]);
    let missing = app.get("0192f0c0-0000-7000-8000-000000000000").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn list_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut p = person(&format!("Person{i}"), "Test", "");
        p.tags = if i % 2 == 0 { vec!["even".into()] } else { vec![] };
        p.industry = "Retail".into();
        ids.push(app.create(p).await.id);
    }
    app.create(organization("Org")).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .clone()
            .list_parties(app.req(pb::ListPartiesRequest {
                page_size: 2,
                page_token: token.clone(),
                kind: PartyKind::Person as i32,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.parties.len() <= 2);
        seen.extend(page.parties.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ids, "every person once, in id order");
    let tagged = app
        .client
        .clone()
        .list_parties(app.req(pb::ListPartiesRequest {
            tag: "EVEN".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tagged.parties.len(), 3);
    // A tag's pages walk its parties in id order, with the other filters applied.
    let (tagged_pages, _) = crm_testkit::all_pages(|page_token| {
        let app = &app;
        async move {
            let page = app
                .client
                .clone()
                .list_parties(app.req(pb::ListPartiesRequest {
                    page_size: 2,
                    page_token,
                    tag: "even".into(),
                    industry: "Retail".into(),
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            (
                page.parties.into_iter().map(|p| p.id).collect::<Vec<_>>(),
                page.next_page_token,
            )
        }
    })
    .await;
    assert_eq!(tagged_pages, [ids[0].clone(), ids[2].clone(), ids[4].clone()]);
    let retail = app
        .client
        .clone()
        .list_parties(app.req(pb::ListPartiesRequest {
            industry: "Retail".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retail.parties.len(), 5);
    let err = app
        .client
        .clone()
        .list_parties(app.req(pb::ListPartiesRequest {
            page_token: "garbage!".into(),
            page_size: -1,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["page_size", "page_token"]);
}

async fn search_by_name_email_and_phone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut grace = person("Grace", "Hopper", "grace.hopper@navy.example");
    grace.contact_points.push(phone("+1 (202) 555-0147"));
    let grace = app.create(grace).await;
    app.create(person("Alan", "Turing", "alan@example.org")).await;
    let search = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            app.client
                .clone()
                .search_parties(app.req(pb::SearchPartiesRequest {
                    query: q,
                    page_size: 0,
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner()
                .parties
        }
    };
    assert_eq!(
        search("hopp")
            .await
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![grace.id.clone()]
    );
    assert_eq!(search("GRACE.HOPPER@NAVY.EXAMPLE").await[0].id, grace.id);
    assert_eq!(search("001-202-555-0147").await[0].id, grace.id);
    assert!(search("nobody at all").await.is_empty());
    assert!(
        search("50%_").await.is_empty(),
        "LIKE wildcards in the query are literal"
    );

    // Pages by name: every match once, in name order; a shared e-mail pages the same way.
    let shared = "team@hopper.example";
    for given in ["Zed", "Ann", "Bo"] {
        app.create(person(given, "Hopper", shared)).await;
    }
    let pages_of = |query: &str| {
        let query = query.to_string();
        let app = &app;
        crm_testkit::all_pages(move |page_token| {
            let mut client = app.client.clone();
            let req = app.req(pb::SearchPartiesRequest {
                query: query.clone(),
                page_size: 2,
                page_token,
            });
            async move {
                let r = client.search_parties(req).await.unwrap().into_inner();
                (r.parties, r.next_page_token)
            }
        })
    };
    let (found, pages) = pages_of("hopper").await;
    let names: Vec<String> = found.into_iter().map(|p| p.display_name).collect();
    assert_eq!(
        (names, pages),
        (
            vec![
                "Ann Hopper".into(),
                "Bo Hopper".into(),
                "Grace Hopper".into(),
                "Zed Hopper".into()
            ],
            2
        )
    );
    let (found, pages) = pages_of(shared).await;
    assert_eq!((found.len(), pages), (3, 2));

    // A renamed party is found by its new name only.
    let renamed = app
        .client
        .clone()
        .update_party(app.req(pb::UpdatePartyRequest {
            party: Some(pb::Party {
                id: grace.id.clone(),
                etag: grace.etag.clone(),
                family_name: "Murray".into(),
                ..Default::default()
            }),
            update_mask: mask(&["family_name"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(renamed.display_name, "Grace Murray");
    assert_eq!(search("murr").await.len(), 1);
    assert_eq!(pages_of("hopper").await.0.len(), 3, "the old name is gone");

    // Parties stored before the index existed are indexed by its migration, with the same
    // sequences as a write gives.
    let written: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT gram, name_key, party_id FROM party_search_grams ORDER BY gram, name_key, party_id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    sqlx::query("DELETE FROM party_search_grams")
        .execute(app.db.pool())
        .await
        .unwrap();
    let folder = match app.db.backend() {
        crm_testkit::Backend::Postgres => "postgres",
        crm_testkit::Backend::Sqlite => "sqlite",
    };
    let migration = std::fs::read_to_string(format!(
        "{}/migrations/{folder}/20261205000001_name_search.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    // Everything after the table's definition.
    let table = &migration[migration.find("CREATE TABLE").unwrap()..];
    let backfill = table.split_once("\n\n").unwrap().1;
    sqlx::raw_sql(sqlx::AssertSqlSafe(backfill.to_string()))
        .execute(app.db.pool())
        .await
        .unwrap();
    let backfilled: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT gram, name_key, party_id FROM party_search_grams ORDER BY gram, name_key, party_id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(backfilled, written);

    let err = app
        .client
        .clone()
        .search_parties(app.req(pb::SearchPartiesRequest {
            query: "x".into(),
            page_size: 0,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["query"]);
}

async fn verification_due_lists_stale_records(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = app.create(person("Old", "Record", "")).await;
    let older = app.create(person("Older", "Record", "")).await;
    let fresh = app.create(person("Fresh", "Record", "")).await;
    // Age two records well past the quarterly default period.
    let day: i64 = 86_400_000_000;
    let now = chrono::Utc::now().timestamp_micros();
    for (id, age_days) in [(&old.id, 400), (&older.id, 500)] {
        sqlx::query("UPDATE parties SET verified_at = $1 WHERE id = $2")
            .bind(now - age_days * day)
            .bind(id)
            .execute(app.db.pool())
            .await
            .unwrap();
    }
    let due = |app: &TestApp| {
        let mut client = app.client.clone();
        let req = app.req(pb::ListVerificationDueRequest::default());
        async move {
            client
                .list_verification_due(req)
                .await
                .unwrap()
                .into_inner()
                .parties
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        due(&app).await,
        vec![older.id.clone(), old.id.clone()],
        "oldest first, fresh records not due"
    );
    let verified = app
        .client
        .clone()
        .verify_party(app.req(pb::VerifyPartyRequest {
            id: older.id.clone(),
            etag: older.etag.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(verified.etag, "2");
    assert_eq!(due(&app).await, vec![old.id.clone()]);
    let stale = app
        .client
        .clone()
        .verify_party(app.req(pb::VerifyPartyRequest {
            id: older.id.clone(),
            etag: "1".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    let shorter = app
        .client
        .clone()
        .list_verification_due(app.req(pb::ListVerificationDueRequest {
            not_verified_for: Some(prost_types::Duration {
                seconds: 450 * 86_400,
                nanos: 0,
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        shorter.parties.is_empty(),
        "nothing unverified for 450 days any more"
    );
    let _ = fresh;
    let err = app
        .client
        .clone()
        .list_verification_due(app.req(pb::ListVerificationDueRequest {
            not_verified_for: Some(prost_types::Duration {
                seconds: -5,
                nanos: 0,
            }),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), vec!["not_verified_for"]);

    // Pages of two, parties verified at the same time in id order: each due party once.
    let mut tied = Vec::new();
    for i in 0..3 {
        let p = app.create(person(&format!("Tied{i}"), "Record", "")).await;
        sqlx::query("UPDATE parties SET verified_at = $1 WHERE id = $2")
            .bind(now - 300 * day)
            .bind(&p.id)
            .execute(app.db.pool())
            .await
            .unwrap();
        tied.push(p.id);
    }
    tied.sort();
    let (mut walked, mut token) = (Vec::new(), String::new());
    loop {
        let page = app
            .client
            .clone()
            .list_verification_due(app.req(pb::ListVerificationDueRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.parties.len() <= 2);
        walked.extend(page.parties.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut expected = vec![old.id.clone()];
    expected.extend(tied);
    assert_eq!(
        walked, expected,
        "400 days unverified, then the three of 300 days"
    );
}

/// Customer data is confirmed every quarter by default, and a customer confirms or corrects
/// their own contact data themselves, which counts as a verification; nothing else of their
/// record, and nobody else's.
async fn customers_confirm_and_correct_their_own_contact_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut mine = person("Mei", "Chen", "mei@example.com");
    mine.owner_id = "rep-1".into();
    let mine = app.create(mine).await;
    let theirs = app.create(person("Other", "Customer", "other@example.com")).await;
    let day: i64 = 86_400_000_000;
    let age = |id: String, days: i64| {
        let db = app.db.clone();
        async move {
            sqlx::query("UPDATE parties SET verified_at = $1 WHERE id = $2")
                .bind(chrono::Utc::now().timestamp_micros() - days * day)
                .bind(id)
                .execute(db.pool())
                .await
                .unwrap();
        }
    };
    let due = || {
        let mut client = app.client.clone();
        let req = app.req(pb::ListVerificationDueRequest::default());
        async move {
            let parties = client
                .list_verification_due(req)
                .await
                .unwrap()
                .into_inner()
                .parties;
            parties.into_iter().map(|p| p.id).collect::<Vec<_>>()
        }
    };
    // 100 days unconfirmed is due under the 90-day default; 60 days is not.
    age(mine.id.clone(), 100).await;
    age(theirs.id.clone(), 60).await;
    assert_eq!(due().await, vec![mine.id.clone()]);

    let me = crate::helpers::token_for("mei", &[Role::Customer], |c| {
        c.customer_id = Some(mine.id.clone())
    });
    let current = |id: String| {
        let mut client = app.client.clone();
        let req = app.req(pb::GetPartyRequest { id });
        async move { client.get_party(req).await.unwrap().into_inner().party.unwrap() }
    };
    let confirmed = app
        .client
        .clone()
        .verify_party(authed(
            pb::VerifyPartyRequest {
                id: mine.id.clone(),
                etag: String::new(),
            },
            &me,
        ))
        .await
        .expect("a customer confirms their own record")
        .into_inner()
        .party
        .unwrap();
    assert!(confirmed.owner_id.is_empty(), "internal fields stay hidden");
    assert!(due().await.is_empty(), "confirmed: no longer due");

    // Correcting the phone number counts as a verification too.
    age(mine.id.clone(), 100).await;
    let before = current(mine.id.clone()).await;
    let mut corrected = before.clone();
    corrected.contact_points.push(phone("+886 2 2345 6789"));
    let updated = app
        .client
        .clone()
        .update_party(authed(
            pb::UpdatePartyRequest {
                party: Some(corrected),
                update_mask: mask(&["contact_points"]),
            },
            &me,
        ))
        .await
        .expect("a customer corrects their contact data")
        .into_inner()
        .party
        .unwrap();
    assert!(
        updated.contact_points.iter().any(|c| c.value.contains("2345")),
        "{updated:?}"
    );
    assert!(due().await.is_empty(), "the correction counts as a verification");

    // Nothing else of theirs, and nobody else's record.
    let mut tagged = current(mine.id.clone()).await;
    tagged.tags = vec!["self-promoted".into()];
    let err = app
        .client
        .clone()
        .update_party(authed(
            pb::UpdatePartyRequest {
                party: Some(tagged),
                update_mask: mask(&["tags"]),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(current(mine.id.clone()).await.tags.is_empty());
    let err = app
        .client
        .clone()
        .update_party(authed(
            pb::UpdatePartyRequest {
                party: Some(theirs.clone()),
                update_mask: mask(&["contact_points"]),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .client
        .clone()
        .verify_party(authed(
            pb::VerifyPartyRequest {
                id: theirs.id.clone(),
                etag: String::new(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Everyone who meets customers gathers their data: service agents and marketers correct the
/// contact points and attributes of any customer they can read, whoever owns it (audited under
/// their name), and nothing else of a record they do not own.
async fn agents_and_marketers_correct_what_they_gather_on_any_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut owned = person("Lin", "Wang", "lin@example.com");
    owned.owner_id = "rep-1".into();
    owned.team_id = "north".into();
    let owned = app.create(owned).await;
    let update = |party: pb::Party, paths: &[&str], token: &str| {
        let mut client = app.client.clone();
        let req = authed(
            pb::UpdatePartyRequest {
                party: Some(party),
                update_mask: mask(paths),
            },
            token,
        );
        async move {
            client
                .update_party(req)
                .await
                .map(|r| r.into_inner().party.unwrap())
        }
    };
    let agent = crm_testkit::token("agent-7", &[Role::ServiceAgent]);
    let marketer = crm_testkit::token("marketer-3", &[Role::Marketer]);

    let mut called = owned.clone();
    called.contact_points.push(phone("+886 2 2345 0001"));
    let after_call = update(called, &["contact_points"], &agent)
        .await
        .expect("an agent corrects the contact points of a customer they do not own");
    assert_eq!(after_call.contact_points.len(), 2);
    let mut surveyed = after_call.clone();
    surveyed
        .attributes
        .insert("preferred_channel".into(), "line".into());
    let after_survey = update(surveyed, &["attributes"], &marketer)
        .await
        .expect("a marketer records an attribute");
    assert_eq!(after_survey.attributes["preferred_channel"], "line");

    for (paths, token) in [
        (&["tags"][..], &agent),
        (&["given_name"][..], &marketer),
        (&["owner_id"][..], &agent),
    ] {
        let mut changed = after_survey.clone();
        changed.tags = vec!["x".into()];
        changed.given_name = "Changed".into();
        changed.owner_id = "agent-7".into();
        let err = update(changed, paths, token).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{paths:?}: {err:?}");
    }
    let trail = app
        .client
        .clone()
        .list_audit_entries(app.req(pb::ListAuditEntriesRequest {
            entity_id: owned.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actors: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.action.as_str(), e.actor_id.as_str()))
        .collect();
    assert_eq!(
        actors,
        vec![
            ("created", "admin-1"),
            ("updated", "agent-7"),
            ("updated", "marketer-3")
        ]
    );
}

/// A creation sent again with the same request id (a retry after a lost answer, a lead
/// converted again) returns the first party and creates nothing; the id is checked.
async fn a_repeated_creation_request_returns_the_first_party(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let create = |name: &str, request_id: &str| {
        app.req(pb::CreatePartyRequest {
            party: Some(organization(name)),
            request_id: request_id.into(),
        })
    };
    let mut client = app.client.clone();
    let first = client
        .create_party(create("Acme", "lead-conversion:42"))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    // The retry's body does not matter: the request was already carried out.
    let again = client
        .create_party(create("Acme Corporation", "lead-conversion:42"))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.display_name, "Acme");
    let other = client
        .create_party(create("Acme", "lead-conversion:43"))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_ne!(other.id, first.id, "another request id is another request");
    assert_eq!(app.party_rows().await, 2);
    assert_eq!(app.event_types().await, ["party.created", "party.created"]);

    let err = client
        .create_party(create("Too long", &"x".repeat(129)))
        .await
        .unwrap_err();
    assert_eq!(violated(&err), ["request_id"]);
    assert_eq!(app.party_rows().await, 2);
}

/// A name search walks so many entries of the name index per page at most: a fragment of
/// common pairs that few names contain gives short pages, each going on from the last entry it
/// walked, which together give every match once, in name order.
async fn a_name_search_of_common_pairs_ends_its_pages_short(backend: Backend) {
    use crm_customers::storage::parties;
    let app = TestApp::spawn(backend).await;
    // Each pair of "abba" (ab, bb, ba) is in 43 names, the whole fragment in three.
    for i in 0..20 {
        for given in ["Abb", "Bba", "Aba"] {
            app.create(person(given, &format!("Xq{i:02}"), "")).await;
        }
    }
    let mut matching = Vec::new();
    for i in 0..3 {
        matching.push(app.create(person("Abba", &format!("Xq{i:02}"), "")).await.id);
    }
    let mut conn = app.db.pool().acquire().await.unwrap();
    let whole = parties::search_name(&mut conn, "abba", None, 8, i64::MAX)
        .await
        .unwrap();
    assert!(whole.walked_to.is_none());
    let whole: Vec<String> = whole.parties.into_iter().map(|p| p.id).collect();
    assert_eq!(whole, matching, "by name: Abba Xq00, Xq01, Xq02");
    // Pages of at most eight that walk sixteen entries each: 16, 16, then the last 11.
    let (mut found, mut after, mut short) = (Vec::new(), None, 0);
    loop {
        let page = parties::search_name(&mut conn, "abba", after.clone(), 8, 16)
            .await
            .unwrap();
        found.extend(page.parties.into_iter().map(|p| p.id));
        let Some(walked_to) = page.walked_to else {
            break;
        };
        after = Some(walked_to);
        short += 1;
    }
    assert_eq!(found, whole);
    assert_eq!(short, 2);
}

backend_tests!(
    a_name_search_of_common_pairs_ends_its_pages_short,
    agents_and_marketers_correct_what_they_gather_on_any_customer,
    customers_confirm_and_correct_their_own_contact_data,
    a_repeated_creation_request_returns_the_first_party,
    create_get_update_round_trip,
    bad_input_names_each_field_and_changes_nothing,
    list_filters_and_pages,
    search_by_name_email_and_phone,
    verification_due_lists_stale_records,
);
