//! The gateway as a client meets it: one address and one token for every domain API, request
//! ids, rate limits, gRPC-Web and CORS, upstream fail-over, and the customer 360 degrading one
//! section at a time.

use std::time::Duration;

use crm::services::Service;
use crm_auth::{Claims, Role};
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use crm_proto::gateway::v1::{self as pb, Section};
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::partners::v1::partner_service_client::PartnerServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_testkit::{Backend, authed, token, token_with};
use tonic::Code;

use crate::support::{self, TestSuite};

fn admin() -> String {
    token("admin-1", &[Role::Admin])
}

async fn create_person(gw: &TestSuite, name: &str) -> customers::Party {
    let mut client = CustomersServiceClient::new(gw.gateway());
    let party = customers::Party {
        kind: customers::PartyKind::Person as i32,
        given_name: name.into(),
        family_name: "Gateway".into(),
        ..Default::default()
    };
    client
        .create_party(authed(
            customers::CreatePartyRequest {
                party: Some(party),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("creating a party through the gateway")
        .into_inner()
        .party
        .expect("the party")
}

async fn customer_360(gw: &TestSuite, token: &str, party_id: &str) -> pb::GetCustomer360Response {
    GatewayServiceClient::new(gw.gateway())
        .get_customer360(authed(
            pb::GetCustomer360Request {
                party_id: party_id.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("the customer 360")
        .into_inner()
}

fn codes(view: &pb::GetCustomer360Response) -> Vec<(Section, Code)> {
    view.statuses
        .iter()
        .map(|s| {
            (
                Section::try_from(s.section).expect("a known section"),
                Code::from_i32(s.code),
            )
        })
        .collect()
}

/// Every domain API answers through the gateway's one address with one token; the services'
/// own errors (field violations, permission) come back unchanged; every answer carries a
/// request id, the caller's when it sent one.
async fn every_domain_api_is_reachable_through_one_address(backend: Backend) {
    let gw = support::start(backend, support::gateway_settings()).await;
    let token = admin();
    let party = create_person(&gw, "Ada").await;

    let mut request = authed(customers::GetPartyRequest { id: party.id.clone() }, &token);
    request
        .metadata_mut()
        .insert("x-request-id", "req-from-client-1".parse().unwrap());
    let response = CustomersServiceClient::new(gw.gateway())
        .get_party(request)
        .await
        .expect("GetParty through the gateway");
    assert_eq!(
        response.metadata().get("x-request-id").unwrap(),
        "req-from-client-1"
    );
    assert_eq!(response.into_inner().party.unwrap().id, party.id);
    // The request id and the caller are on the call's span at the gateway and at the service
    // (the access log line of each is written inside that span, with the trace id).
    crm_testkit::eventually(Duration::from_secs(5), "the request id at both hops", || async {
        let spans = crm_testkit::finished_spans();
        let hops: Vec<String> = spans
            .iter()
            .filter(|s| support::attribute(s, "request_id").as_deref() == Some("req-from-client-1"))
            .filter(|s| support::attribute(s, "enduser.id").as_deref() == Some("admin-1"))
            .filter_map(|s| support::attribute(s, "crm.service"))
            .collect();
        (hops.iter().any(|h| h == "gateway") && hops.iter().any(|h| h == "customers")).then_some(())
    })
    .await;

    let orders = OrderServiceClient::new(gw.gateway())
        .list_orders(authed(Default::default(), &token))
        .await
        .expect("sales through the gateway");
    assert!(
        !orders.metadata().get("x-request-id").unwrap().is_empty(),
        "a request id is made up when the client sends none"
    );
    PartnerServiceClient::new(gw.gateway())
        .list_partners(authed(Default::default(), &token))
        .await
        .expect("partners through the gateway");
    MarketingServiceClient::new(gw.gateway())
        .list_segments(authed(Default::default(), &token))
        .await
        .expect("marketing through the gateway");
    ServiceDeskServiceClient::new(gw.gateway())
        .list_queues(authed(Default::default(), &token))
        .await
        .expect("the service desk through the gateway");

    // The service's field violations pass through.
    let bad = CustomersServiceClient::new(gw.gateway())
        .create_party(authed(
            customers::CreatePartyRequest {
                party: Some(customers::Party {
                    kind: customers::PartyKind::Person as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert!(
        crm_testkit::violated(&bad).iter().any(|f| f.contains("name")),
        "{bad:?}"
    );
    // No token: refused at the gateway; a customer reading someone else: refused by the service.
    let anonymous = CustomersServiceClient::new(gw.gateway())
        .get_party(tonic::Request::new(customers::GetPartyRequest {
            id: party.id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let mut claims = Claims::new("cust-1", &[Role::Customer], Duration::from_secs(600));
    claims.customer_id = Some("someone-else".into());
    let other = CustomersServiceClient::new(gw.gateway())
        .get_party(authed(
            customers::GetPartyRequest { id: party.id.clone() },
            &token_with(claims),
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied, "{other:?}");
    // The gateway's own validation.
    let unknown = GatewayServiceClient::new(gw.gateway())
        .get_customer360(authed(pb::GetCustomer360Request::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(crm_testkit::violated(&unknown), ["party_id"]);
    // The screen pop: a number is required and must look like one; an unknown one is no match.
    let pop = |phone: &str| {
        let mut client = GatewayServiceClient::new(gw.gateway());
        let request = authed(
            pb::ScreenPopRequest {
                phone: phone.into(),
                ..Default::default()
            },
            &token,
        );
        async move { client.screen_pop(request).await.map(tonic::Response::into_inner) }
    };
    assert_eq!(crm_testkit::violated(&pop("").await.unwrap_err()), ["phone"]);
    assert_eq!(pop("12").await.unwrap_err().code(), Code::InvalidArgument);
    let nobody = pop("+1 555 010 9999").await.expect("an unknown caller");
    assert!(!nobody.identified && nobody.party_id.is_empty(), "{nobody:?}");
    assert_eq!(
        nobody.statuses.len(),
        1,
        "only the service desk was asked: {nobody:?}"
    );

    // Operators see every call where it was served, with its outcome: rate, errors, durations.
    let points = crm_testkit::metric_points("rpc.server.duration");
    let served = |service: &str, code: &str| {
        points.iter().any(|p| {
            p.value >= 1.0
                && p.attributes.get("crm.service").map(String::as_str) == Some(service)
                && p.attributes.get("rpc.method").map(String::as_str)
                    == Some("/crm.customers.v1.CustomersService/GetParty")
                && p.attributes.get("rpc.grpc.status_code").map(String::as_str) == Some(code)
        })
    };
    assert!(served("gateway", "0") && served("customers", "0"), "{points:?}");
    assert!(
        served("gateway", "16"),
        "the unauthenticated call, refused at the gateway"
    );
    assert!(
        served("customers", "7"),
        "the forbidden read, refused by customers"
    );
    // Reflection on the gateway lists what one can call there: its own API and every
    // forwarded one.
    let names = reflected_services(gw.gateway()).await;
    for name in [
        "crm.gateway.v1.GatewayService",
        "crm.customers.v1.CustomersService",
        "crm.sales.v1.OrderService",
        "crm.servicedesk.v1.ServiceDeskService",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    gw.suite.shutdown().await.unwrap();
}

/// The service names reflection (v1) lists at `channel`.
async fn reflected_services(channel: tonic::transport::Channel) -> Vec<String> {
    use futures::StreamExt as _;
    use tonic_reflection::pb::v1 as r1;
    let request = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = r1::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match responses.next().await.unwrap().unwrap().message_response {
        Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("expected a service list, got {other:?}"),
    }
}

/// Each section has its own status: a stopped service costs its section (UNAVAILABLE), a
/// forbidden one is marked PERMISSION_DENIED, a subset asked for is all that is fetched.
async fn the_360_degrades_one_section_at_a_time(backend: Backend) {
    let mut gw = support::start(backend, support::gateway_settings()).await;
    let party = create_person(&gw, "Grace").await;
    // Marketing learns of the party from its event; then every section is there.
    let view = crm_testkit::eventually(Duration::from_secs(15), "every section to answer", || async {
        let view = customer_360(&gw, &admin(), &party.id).await;
        codes(&view)
            .iter()
            .all(|(_, code)| *code == Code::Ok)
            .then_some(view)
    })
    .await;
    assert_eq!(
        codes(&view).iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [
            Section::Profile,
            Section::Sales,
            Section::Channel,
            Section::Marketing,
            Section::Service
        ]
    );
    assert_eq!(view.profile.unwrap().party.unwrap().id, party.id);

    // Only what is asked for.
    let only = GatewayServiceClient::new(gw.gateway())
        .get_customer360(authed(
            pb::GetCustomer360Request {
                party_id: party.id.clone(),
                sections: vec![Section::Service as i32, Section::Profile as i32],
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        codes(&only),
        [(Section::Profile, Code::Ok), (Section::Service, Code::Ok)]
    );
    assert!(only.sales.is_none() && only.marketing.is_none());

    // A customer looking at their own record: the services decide section by section.
    let mut claims = Claims::new("cust-grace", &[Role::Customer], Duration::from_secs(600));
    claims.customer_id = Some(party.id.clone());
    let own = customer_360(&gw, &token_with(claims), &party.id).await;
    let own_codes = codes(&own);
    assert!(own_codes.contains(&(Section::Profile, Code::Ok)), "{own_codes:?}");
    assert!(own_codes.contains(&(Section::Service, Code::Ok)), "{own_codes:?}");
    assert!(
        own_codes.contains(&(Section::Marketing, Code::PermissionDenied)),
        "{own_codes:?}"
    );

    // Marketing goes away: its section says so, the rest is still there.
    gw.suite.stop_service(Service::Marketing).await.unwrap();
    let degraded = customer_360(&gw, &admin(), &party.id).await;
    let degraded_codes = codes(&degraded);
    assert!(
        degraded_codes.contains(&(Section::Marketing, Code::Unavailable)),
        "{degraded_codes:?}"
    );
    assert!(degraded_codes.contains(&(Section::Profile, Code::Ok)));
    assert!(degraded_codes.contains(&(Section::Service, Code::Ok)));
    assert!(degraded.marketing.is_none());
    assert_eq!(degraded.profile.unwrap().party.unwrap().id, party.id);
    gw.suite.shutdown().await.unwrap();
}

/// A service that accepts connections but never answers costs only its own section, and the
/// whole view still comes back before the caller's deadline. The section calls are cut at the
/// gateway's own limit (3 s), well inside the caller's 30 s: the test asserts that the degraded
/// answer arrives, not how fast (a busy machine may take longer; timings are the benchmarks').
async fn a_hanging_service_costs_its_section_within_the_callers_deadline(backend: Backend) {
    let gw = support::start(backend, support::gateway_settings()).await;
    let party = create_person(&gw, "Linus").await;
    // Accepts TCP connections and never speaks HTTP/2.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = format!("http://{}", black_hole.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            connections.push(socket);
        }
    });
    let settings = crm::services::GatewaySettings {
        sales_url: vec![support::url(&gw.suite, Service::Sales)],
        partners_url: vec![support::url(&gw.suite, Service::Partners)],
        marketing_url: vec![hole],
        servicedesk_url: vec![support::url(&gw.suite, Service::Servicedesk)],
        view_timeout: Duration::from_secs(3),
        ..support::gateway_settings()
    };
    let (addr, stop) =
        support::extra_gateway(vec![support::url(&gw.suite, Service::Customers)], settings).await;
    let mut request = authed(
        pb::GetCustomer360Request {
            party_id: party.id.clone(),
            ..Default::default()
        },
        &admin(),
    );
    request.set_timeout(Duration::from_secs(30));
    let view = GatewayServiceClient::new(crm_testkit::channel(addr))
        .get_customer360(request)
        .await
        .expect("the view, degraded, before the caller's deadline")
        .into_inner();
    let view_codes = codes(&view);
    assert!(
        view_codes.contains(&(Section::Marketing, Code::DeadlineExceeded)),
        "{view_codes:?}"
    );
    assert!(
        view_codes.contains(&(Section::Profile, Code::Ok)),
        "{view_codes:?}"
    );
    assert!(view_codes.contains(&(Section::Sales, Code::Ok)), "{view_codes:?}");
    stop.cancel();
    held.abort();
    gw.suite.shutdown().await.unwrap();
}

/// Each principal has its own budget of calls; beyond it the gateway answers
/// RESOURCE_EXHAUSTED with a retry hint, and the services never see the call.
async fn each_principal_is_rate_limited_on_its_own(backend: Backend) {
    let settings = crm::services::GatewaySettings {
        rate_limit: 0.5,
        rate_limit_burst: 3,
        ..support::gateway_settings()
    };
    let gw = support::start(backend, settings).await;
    let busy = token("busy-user", &[Role::Admin]);
    let mut client = PartnerServiceClient::new(gw.gateway());
    for _ in 0..3 {
        client
            .list_partners(authed(Default::default(), &busy))
            .await
            .expect("within the burst");
    }
    let refused = client
        .list_partners(authed(Default::default(), &busy))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    use tonic_types::StatusExt as _;
    let retry = refused
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("a retry hint");
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(2),
        "{retry:?}"
    );
    assert!(refused.metadata().get("retry-after").is_some());
    // Someone else is not held back by the busy user.
    client
        .list_partners(authed(Default::default(), &token("calm-user", &[Role::Admin])))
        .await
        .expect("another principal's own budget");
    gw.suite.shutdown().await.unwrap();
}

/// A browser calls the same port with gRPC-Web over HTTP/1.1, after a CORS preflight.
async fn browsers_call_through_grpc_web_with_cors(backend: Backend) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let gw = support::start(backend, support::gateway_settings()).await;
    let party = create_person(&gw, "Tim").await;
    let addr = gw.suite.addr(Service::Gateway);

    let exchange = |request: Vec<u8>| async move {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket.write_all(&request).await.unwrap();
        let mut response = Vec::new();
        socket.read_to_end(&mut response).await.unwrap();
        response
    };
    let preflight = exchange(
        format!(
            "OPTIONS /crm.customers.v1.CustomersService/GetParty HTTP/1.1\r\nHost: {addr}\r\n\
             Origin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,x-grpc-web,authorization\r\n\
             Connection: close\r\n\r\n"
        )
        .into_bytes(),
    )
    .await;
    let preflight = String::from_utf8_lossy(&preflight).to_ascii_lowercase();
    assert!(preflight.starts_with("http/1.1 200"), "{preflight}");
    assert!(
        preflight.contains("access-control-allow-origin: *"),
        "{preflight}"
    );
    assert!(preflight.contains("authorization"), "{preflight}");

    let message = prost::Message::encode_to_vec(&customers::GetPartyRequest { id: party.id.clone() });
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    let mut request = format!(
        "POST /crm.customers.v1.CustomersService/GetParty HTTP/1.1\r\nHost: {addr}\r\n\
         Origin: https://app.example.com\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        admin(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let response = exchange(request).await;
    let text = String::from_utf8_lossy(&response);
    let lower = text.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{text}");
    assert!(lower.contains("content-type: application/grpc-web"), "{text}");
    assert!(lower.contains("access-control-allow-origin"), "{text}");
    assert!(lower.contains("x-request-id"), "{text}");
    // The body: the party message, then the trailers frame with the status.
    assert!(text.contains(&party.id), "{text}");
    assert!(lower.contains("grpc-status:0"), "{text}");
    gw.suite.shutdown().await.unwrap();
}

/// A service behind several addresses: calls are spread over the instances, and when one
/// goes away the others keep answering.
async fn upstreams_balance_and_fail_over(backend: Backend) {
    let gw = support::start(backend, support::gateway_settings()).await;
    let party = create_person(&gw, "Barbara").await;
    // A second customers instance on the same database, as a second pod would be.
    let (second, second_stop) = support::second_instance(&gw, Service::Customers).await;
    let settings = crm::services::GatewaySettings {
        sales_url: vec![support::url(&gw.suite, Service::Sales)],
        partners_url: vec![support::url(&gw.suite, Service::Partners)],
        marketing_url: vec![support::url(&gw.suite, Service::Marketing)],
        servicedesk_url: vec![support::url(&gw.suite, Service::Servicedesk)],
        resolve_interval: Duration::from_millis(200),
        ..support::gateway_settings()
    };
    // The second instance is named by host name, resolved by the gateway.
    let customers = vec![
        support::url(&gw.suite, Service::Customers),
        format!("http://localhost:{}", second.port()),
    ];
    let (addr, stop) = support::extra_gateway(customers, settings).await;
    let mut client = CustomersServiceClient::new(crm_testkit::channel(addr));
    let get = || authed(customers::GetPartyRequest { id: party.id.clone() }, &admin());
    for _ in 0..20 {
        client.get_party(get()).await.expect("through either instance");
    }
    // Both instances served some of them.
    let first_port = gw.suite.addr(Service::Customers).port().to_string();
    let second_port = second.port().to_string();
    crm_testkit::eventually(
        Duration::from_secs(5),
        "calls spread over both instances",
        || async {
            let ports: Vec<String> = crm_testkit::finished_spans()
                .iter()
                .filter(|s| s.name == "crm.customers.v1.CustomersService/GetParty")
                .filter(|s| support::attribute(s, "crm.service").as_deref() == Some("customers"))
                .filter_map(|s| support::attribute(s, "server.port"))
                .collect();
            (ports.contains(&first_port) && ports.contains(&second_port)).then_some(())
        },
    )
    .await;
    second_stop.cancel();
    // Calls that meet the stopped instance before the gateway's probe notices fail UNAVAILABLE
    // (clients retry those); a few probe rounds later every call goes to the remaining one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    crm_testkit::eventually(
        Duration::from_secs(10),
        "calls to succeed after fail-over",
        || {
            let mut client = client.clone();
            let calls: Vec<_> = (0..10).map(|_| get()).collect();
            async move {
                for call in calls {
                    client.get_party(call).await.ok()?;
                }
                Some(())
            }
        },
    )
    .await;
    for _ in 0..20 {
        client.get_party(get()).await.expect("the remaining instance");
    }
    stop.cancel();
    gw.suite.shutdown().await.unwrap();
}

/// An auditor reads each service's call records through the gateway; the service still decides
/// who may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_records_are_read_through_the_gateway() {
    use crm_proto::audit::v1 as audit;
    use crm_proto::audit::v1::audit_service_client::AuditServiceClient;
    let gw = support::start(Backend::Sqlite, support::gateway_settings()).await;
    let admin = token("admin-1", &[Role::Admin]);
    let party = CustomersServiceClient::new(gw.gateway())
        .create_party(authed(
            customers::CreatePartyRequest {
                party: Some(crm_testkit::fixtures::organization("Audited Ltd")),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .party
        .unwrap();
    let auditor = token("audrey", &[Role::Auditor]);
    let client = AuditServiceClient::new(gw.gateway());
    let list = |service: &str, token: &str| {
        let mut client = client.clone();
        let request = authed(
            audit::ListCallRecordsRequest {
                service: service.into(),
                record_id: party.id.clone(),
                ..Default::default()
            },
            token,
        );
        async move { client.list_call_records(request).await }
    };
    let records = crm_testkit::eventually(Duration::from_secs(20), "the creation is recorded", || async {
        let records = list("customers", &auditor).await.ok()?.into_inner().records;
        (!records.is_empty()).then_some(records)
    })
    .await;
    assert_eq!(records[0].service, "customers");
    assert_eq!(records[0].actor_id, "admin-1");
    assert!(records[0].method.ends_with("/CreateParty"), "{records:?}");
    assert!(
        list("sales", &auditor)
            .await
            .unwrap()
            .into_inner()
            .records
            .is_empty()
    );
    let err = list("billing", &auditor).await.unwrap_err();
    assert_eq!(crm_testkit::violated(&err), ["service"]);
    let err = list("customers", &token("rep", &[Role::SalesRep]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    gw.suite.shutdown().await.unwrap();
}

crm_testkit::backend_tests!(
    every_domain_api_is_reachable_through_one_address,
    the_360_degrades_one_section_at_a_time,
    a_hanging_service_costs_its_section_within_the_callers_deadline,
    each_principal_is_rate_limited_on_its_own,
    browsers_call_through_grpc_web_with_cors,
    upstreams_balance_and_fail_over,
);
