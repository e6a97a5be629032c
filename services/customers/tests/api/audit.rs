//! The service's call records (crm.audit.v1): every change and export, every refused call, with
//! the caller, the record, the outcome and the request id; never a token; readable by
//! administrators and auditors; kept for the retention period.

use std::time::Duration;

use crm_auth::Role;
use crm_proto::audit::v1 as apb;
use crm_proto::audit::v1::audit_service_client::AuditServiceClient;
use crm_proto::customers::v1 as pb;
use crm_testkit::{Backend, authed, backend_tests, eventually, token};
use tonic::Code;

use crate::helpers::{TestApp, mask, person, token_for};

/// The records `token` may list with `filter`, once `wanted` of them are there.
async fn records(
    client: &AuditServiceClient<tonic::transport::Channel>,
    token: &str,
    filter: apb::ListCallRecordsRequest,
    wanted: usize,
) -> Vec<apb::CallRecord> {
    eventually(Duration::from_secs(20), "the call records are written", || {
        let (mut client, filter) = (client.clone(), filter.clone());
        async move {
            let records = client
                .list_call_records(authed(filter, token))
                .await
                .ok()?
                .into_inner()
                .records;
            (records.len() >= wanted).then_some(records)
        }
    })
    .await
}

async fn calls_that_change_or_are_refused_are_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let audit = AuditServiceClient::new(crm_testkit::channel(app.addr));
    let alice = token_for("alice", &[Role::SalesRep], |c| c.team = Some("north".into()));
    let bob = token_for("bob", &[Role::SalesRep], |c| c.team = Some("south".into()));
    let created = app
        .client
        .clone()
        .create_party(authed(
            pb::CreatePartyRequest {
                party: Some(person("Ann", "Lee", "ann@example.com")),
                ..Default::default()
            },
            &alice,
        ))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    let mut change = created.clone();
    change.given_name = "Anne".into();
    let update = |party: &pb::Party| pb::UpdatePartyRequest {
        party: Some(party.clone()),
        update_mask: mask(&["given_name"]),
    };
    let mut request = authed(update(&change), &alice);
    request
        .metadata_mut()
        .insert("x-request-id", "req-update-1".parse().unwrap());
    app.client.clone().update_party(request).await.unwrap();
    // Reads are not recorded; refusals are, read or not.
    app.client
        .clone()
        .get_party(authed(
            pb::GetPartyRequest {
                id: created.id.clone(),
            },
            &alice,
        ))
        .await
        .unwrap();
    let err = app
        .client
        .clone()
        .update_party(authed(update(&change), &bob))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let customer = token_for("cust", &[Role::Customer], |c| c.customer_id = Some("p-x".into()));
    let err = app
        .client
        .clone()
        .list_parties(authed(pb::ListPartiesRequest::default(), &customer))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "refused by the access policy");
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.forged-signature";
    let err = app
        .client
        .clone()
        .get_party(authed(
            pb::GetPartyRequest {
                id: created.id.clone(),
            },
            forged,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let auditor = token("audrey", &[Role::Auditor]);
    let all = records(&audit, &auditor, apb::ListCallRecordsRequest::default(), 5).await;
    let summary: Vec<(&str, &str, &str, &str)> = all
        .iter()
        .map(|r| {
            (
                r.method.rsplit('/').next().unwrap(),
                r.actor_id.as_str(),
                r.record_id.as_str(),
                r.outcome.as_str(),
            )
        })
        .collect();
    let id = created.id.as_str();
    assert_eq!(
        summary,
        [
            // Refused before its request was read: no caller, no record.
            ("GetParty", "", "", "UNAUTHENTICATED"),
            ("ListParties", "cust", "", "PERMISSION_DENIED"),
            ("UpdateParty", "bob", id, "PERMISSION_DENIED"),
            ("UpdateParty", "alice", id, "OK"),
            ("CreateParty", "alice", id, "OK"),
        ],
        "newest first; the read that succeeded is not there"
    );
    assert!(all.iter().all(|r| r.service == "customers" && r.time.is_some()));
    assert_eq!(all[3].request_id, "req-update-1");
    assert_eq!(all[3].roles, ["sales_rep"]);
    assert!(all[2].message.contains("may not change"), "{:?}", all[2]);
    for record in &all {
        let shown = format!("{record:?}");
        assert!(
            !shown.contains("eyJ") && !shown.contains("forged-signature"),
            "{shown}"
        );
    }

    // Filters and pages.
    let refused = records(
        &audit,
        &auditor,
        apb::ListCallRecordsRequest {
            refused_only: true,
            ..Default::default()
        },
        3,
    )
    .await;
    assert_eq!(refused.len(), 3);
    let bobs = records(
        &audit,
        &auditor,
        apb::ListCallRecordsRequest {
            actor_id: "bob".into(),
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(bobs.len(), 1);
    let first = audit
        .clone()
        .list_call_records(authed(
            apb::ListCallRecordsRequest {
                record_id: created.id.clone(),
                page_size: 2,
                ..Default::default()
            },
            &app.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.records.len(), 2);
    let second = audit
        .clone()
        .list_call_records(authed(
            apb::ListCallRecordsRequest {
                record_id: created.id.clone(),
                page_size: 2,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
            &app.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    // Three calls were about the party: its creation and the two updates.
    assert_eq!(second.records.len(), 1);
    assert!(second.records[0].sequence < first.records[1].sequence);
    assert_eq!(
        second.records[0].method,
        "/crm.customers.v1.CustomersService/CreateParty"
    );
    let err = audit
        .clone()
        .list_call_records(authed(
            apb::ListCallRecordsRequest {
                page_token: "bogus".into(),
                ..Default::default()
            },
            &app.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated(&err), ["page_token"]);

    // Only administrators and auditors read them.
    let err = audit
        .clone()
        .list_call_records(authed(apb::ListCallRecordsRequest::default(), &alice))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

/// Records past the retention period are purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_records_are_kept_for_the_retention_period() {
    let test_db = crm_testkit::TestDb::new(Backend::Sqlite);
    let nats = crm_testkit::TestNats::start();
    let service =
        crm_testkit::start::<crm_customers::Customers>(&test_db.url, nats.client().await, |instance, _| {
            instance.server.audit_retention = Duration::from_secs(1);
        })
        .await;
    let admin = token("admin-1", &[Role::Admin]);
    pb::customers_service_client::CustomersServiceClient::new(service.channel())
        .create_party(authed(
            pb::CreatePartyRequest {
                party: Some(person("Old", "Record", "old@example.com")),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap();
    let audit = AuditServiceClient::new(service.channel());
    records(&audit, &admin, apb::ListCallRecordsRequest::default(), 1).await;
    eventually(Duration::from_secs(20), "the record is purged", || {
        let mut audit = audit.clone();
        let admin = admin.clone();
        async move {
            let left = audit
                .list_call_records(authed(apb::ListCallRecordsRequest::default(), &admin))
                .await
                .ok()?
                .into_inner()
                .records;
            left.is_empty().then_some(())
        }
    })
    .await;
}

backend_tests!(calls_that_change_or_are_refused_are_recorded);
