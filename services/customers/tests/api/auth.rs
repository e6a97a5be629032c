use std::time::Duration;

use crm_auth::{Claims, Role, Signer};
use crm_proto::customers::v1::{self as pb, LifecycleStage};
use crm_testkit::{Backend, authed, backend_tests, token, token_with};
use tonic::Code;

use crate::helpers::{TestApp, mask, person, token_for};

async fn tokens_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let req = || pb::ListPartiesRequest::default();
    let no_token = app
        .client
        .clone()
        .list_parties(tonic::Request::new(req()))
        .await
        .unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);
    let mut expired = Claims::new("alice", &[Role::Admin], Duration::from_secs(60));
    expired.exp = expired.iat - 3600;
    let err = app
        .client
        .clone()
        .list_parties(authed(req(), &token_with(expired)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("expired"), "{}", err.message());
    let forged = Signer::hs256(b"not-the-secret")
        .sign(&Claims::new("mallory", &[Role::Admin], Duration::from_secs(60)))
        .unwrap();
    let err = app
        .client
        .clone()
        .list_parties(authed(req(), &forged))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = app
        .client
        .clone()
        .list_parties(authed(req(), "not.a.jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Wrong role for the call.
    let marketer = token("mark", &[Role::Marketer]);
    let err = app
        .client
        .clone()
        .erase_party(authed(
            pb::ErasePartyRequest {
                id: "x".into(),
                reason: String::new(),
            },
            &marketer,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let partner = token("p", &[Role::PartnerUser]);
    let err = app
        .client
        .clone()
        .list_parties(authed(req(), &partner))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(app.party_rows().await, 0);
}

async fn record_and_field_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice_token = token_for("alice", &[Role::SalesRep], |c| c.team = Some("north".into()));
    // A rep's new party is theirs.
    let mine = app
        .client
        .clone()
        .create_party(authed(
            pb::CreatePartyRequest {
                party: Some(person("Own", "Customer", "own@example.com")),
                ..Default::default()
            },
            &alice_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(
        (mine.owner_id.as_str(), mine.team_id.as_str()),
        ("alice", "north")
    );
    let mut theirs = person("Bobs", "Customer", "");
    theirs.owner_id = "bob".into();
    theirs.team_id = "south".into();
    let theirs = app.create(theirs).await;
    let update = |p: &pb::Party| pb::UpdatePartyRequest {
        party: Some(pb::Party {
            id: p.id.clone(),
            etag: p.etag.clone(),
            lifecycle_stage: LifecycleStage::Customer as i32,
            ..Default::default()
        }),
        update_mask: mask(&["lifecycle_stage"]),
    };
    app.client
        .clone()
        .update_party(authed(update(&mine), &alice_token))
        .await
        .unwrap();
    let err = app
        .client
        .clone()
        .update_party(authed(update(&theirs), &alice_token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a rep cannot change another rep's customer"
    );
    let south_manager = token_for("sam", &[Role::SalesManager], |c| c.team = Some("south".into()));
    app.client
        .clone()
        .update_party(authed(update(&theirs), &south_manager))
        .await
        .unwrap();

    // A customer sees their own record without internal fields, and nobody else's.
    let me = token_for("self-service", &[Role::Customer], |c| {
        c.customer_id = Some(mine.id.clone())
    });
    let own = app
        .client
        .clone()
        .get_party(authed(pb::GetPartyRequest { id: mine.id.clone() }, &me))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    assert_eq!(own.display_name, "Own Customer");
    assert!(
        own.owner_id.is_empty() && own.value.is_none(),
        "internal fields are hidden from customers"
    );
    // So is their audit trail: the changes without staff fields, the staff member unnamed.
    let export = app
        .client
        .clone()
        .export_party(authed(pb::ExportPartyRequest { id: mine.id.clone() }, &me))
        .await
        .unwrap()
        .into_inner();
    assert!(!export.audit_entries.is_empty());
    for entry in &export.audit_entries {
        assert!(
            !entry.changes_json.contains("owner_id") && entry.actor_id.is_empty(),
            "{entry:?}"
        );
    }
    assert!(export.audit_entries[0].changes_json.contains("Own"));
    let err = app
        .client
        .clone()
        .get_party(authed(
            pb::GetPartyRequest {
                id: theirs.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .client
        .clone()
        .export_party(authed(
            pb::ExportPartyRequest {
                id: theirs.id.clone(),
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = app
        .client
        .clone()
        .list_parties(authed(pb::ListPartiesRequest::default(), &me))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

backend_tests!(tokens_are_checked, record_and_field_rules);

/// A peer that keeps failing authentication is refused before its tokens are looked at, for a
/// while, whatever it sends; other callers are not affected, and probes still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_limited_per_peer() {
    let test_db = crm_testkit::TestDb::new(Backend::Sqlite);
    let nats = crm_testkit::TestNats::start();
    let service =
        crm_testkit::start::<crm_customers::Customers>(&test_db.url, nats.client().await, |instance, _| {
            instance.server.auth_failure_rate = 0.01;
            instance.server.auth_failure_burst = 5;
        })
        .await;
    let client = pb::customers_service_client::CustomersServiceClient::new(service.channel());
    let get = |token: &str| {
        let mut client = client.clone();
        let request = authed(pb::GetPartyRequest { id: "p-1".into() }, token);
        async move { client.get_party(request).await.unwrap_err().code() }
    };
    let admin = token("admin-1", &[Role::Admin]);
    assert_eq!(get(&admin).await, Code::NotFound, "a good token passes");
    for _ in 0..5 {
        assert_eq!(get("forged").await, Code::Unauthenticated);
    }
    assert_eq!(get("forged").await, Code::ResourceExhausted);
    assert_eq!(
        get(&admin).await,
        Code::ResourceExhausted,
        "until the peer's allowance refills, nothing of it is verified"
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(service.channel());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("probes carry no token and are not refused");
}

/// Health and reflection answer without a token, in both reflection versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_public() {
    use futures::StreamExt as _;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "crm.customers.v1.CustomersService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1 as r1;
    let mut v1 = r1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = v1
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"crm.customers.v1.CustomersService".to_string()),
        "{names:?}"
    );
    // This port describes itself, not the rest of the suite.
    assert!(
        !names.iter().any(|n| n.starts_with("crm.marketing.")),
        "{names:?}"
    );

    use tonic_reflection::pb::v1alpha as ra;
    let mut alpha = ra::server_reflection_client::ServerReflectionClient::new(channel);
    let request = ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(ra::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = alpha
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    assert!(responses.next().await.unwrap().is_ok());
}

/// A call to another service of the suite at this port is a wrong address: UNIMPLEMENTED naming
/// the service, even for an administrator, rather than a permission error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_not_served_here_is_unimplemented() {
    use crm_proto::marketing::v1 as marketing;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let channel = crm_testkit::channel(app.addr);
    let err = marketing::marketing_service_client::MarketingServiceClient::new(channel)
        .get_rfm_cells(authed(
            marketing::GetRfmCellsRequest::default(),
            &token("admin", &[Role::Admin]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(
        err.message().contains("crm.marketing.v1.MarketingService"),
        "{err:?}"
    );
}
