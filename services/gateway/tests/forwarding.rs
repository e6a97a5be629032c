//! Forwarding keeps a call's shape: a server stream forwarded through the gateway delivers each
//! message as the upstream sends it, and the caller's metadata and deadline reach the upstream.

use std::time::Duration;

use crm_gateway::forward::Forwarder;
use tokio_stream::StreamExt as _;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tonic_health::ServingStatus;
use tonic_health::pb::health_check_response::ServingStatus as Status;
use tonic_health::pb::health_client::HealthClient;

async fn serve(routes: tonic::service::Routes) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    addr
}

async fn next(
    stream: &mut tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
) -> tonic_health::pb::HealthCheckResponse {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("a message in time")
        .expect("the stream goes on")
        .expect("a message")
}

#[tokio::test]
async fn a_server_stream_is_forwarded_message_by_message() {
    // The upstream: a health service whose Watch streams every status change.
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("crm.example", ServingStatus::Serving)
        .await;
    let upstream = serve(tonic::service::Routes::new(health)).await;

    // The forwarding side, answering nothing itself.
    let channel = Endpoint::from_shared(format!("http://{upstream}"))
        .unwrap()
        .connect_lazy();
    let forwarder = Forwarder::new(vec![("/grpc.health.v1.Health/", channel)]);
    let front = serve(tonic::service::Routes::from(
        axum::Router::new().fallback_service(forwarder),
    ))
    .await;

    let mut client = HealthClient::new(
        Endpoint::from_shared(format!("http://{front}"))
            .unwrap()
            .connect_lazy(),
    );
    let mut stream = client
        .watch(tonic_health::pb::HealthCheckRequest {
            service: "crm.example".into(),
        })
        .await
        .expect("watch through the forwarder")
        .into_inner();
    let first = next(&mut stream).await;
    assert_eq!(first.status, Status::Serving as i32);
    // A change upstream arrives while the call is still open.
    reporter
        .set_service_status("crm.example", ServingStatus::NotServing)
        .await;
    let second = next(&mut stream).await;
    assert_eq!(second.status, Status::NotServing as i32);

    // A path no upstream owns is UNIMPLEMENTED, named.
    let err = tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
        Endpoint::from_shared(format!("http://{front}"))
            .unwrap()
            .connect_lazy(),
    )
    .server_reflection_info(tokio_stream::iter(Vec::new()))
    .await
    .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err:?}");
}

/// The headers the upstream received, for a call to any path.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<http::HeaderMap>>>;

#[tokio::test]
async fn metadata_and_the_deadline_reach_the_upstream() {
    // An upstream that records each call's headers and answers NOT_FOUND.
    let seen = Seen::default();
    let recorder = {
        let seen = seen.clone();
        move |request: http::Request<axum::body::Body>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(request.headers().clone());
                tonic::Status::not_found("nothing here").into_http::<axum::body::Body>()
            }
        }
    };
    let upstream = serve(tonic::service::Routes::from(
        axum::Router::new().fallback(recorder),
    ))
    .await;
    let channel = Endpoint::from_shared(format!("http://{upstream}"))
        .unwrap()
        .connect_lazy();
    let forwarder = Forwarder::new(vec![("/crm.customers.v1.", channel)]);
    let front = serve(tonic::service::Routes::from(
        axum::Router::new().fallback_service(forwarder),
    ))
    .await;

    let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
    request.set_timeout(Duration::from_millis(1500));
    let metadata = request.metadata_mut();
    metadata.insert("authorization", "Bearer caller-token".parse().unwrap());
    metadata.insert("x-tenant", "acme".parse().unwrap());
    metadata.insert("x-request-id", "req-7".parse().unwrap());
    let mut grpc = tonic::client::Grpc::new(
        Endpoint::from_shared(format!("http://{front}"))
            .unwrap()
            .connect_lazy(),
    );
    grpc.ready().await.unwrap();
    let err = grpc
        .unary::<_, tonic_health::pb::HealthCheckResponse, _>(
            request,
            http::uri::PathAndQuery::from_static("/crm.customers.v1.CustomersService/GetParty"),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    // The upstream's own status comes back.
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    assert_eq!(err.message(), "nothing here");

    let seen = seen.lock().unwrap();
    let headers = seen.first().expect("the upstream was called");
    assert_eq!(headers["authorization"], "Bearer caller-token");
    assert_eq!(headers["x-tenant"], "acme");
    assert_eq!(headers["x-request-id"], "req-7");
    let timeout = headers["grpc-timeout"].to_str().unwrap();
    let left = crm_gateway::domain::deadline::parse_grpc_timeout(timeout).expect("a grpc-timeout");
    assert!(
        left <= Duration::from_millis(1500) && left > Duration::from_millis(500),
        "{timeout}"
    );
}
