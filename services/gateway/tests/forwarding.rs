//! Forwarding keeps a call's shape: a server stream forwarded through the gateway delivers each
//! message as the upstream sends it, and the caller's metadata reaches the upstream.

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
