//! Traces as an operator's collector receives them: `crm up` pointed at an OTLP receiver in the
//! test exports one trace per call over OTLP/gRPC, the gateway's span and each service's in it.
//! (The journey test checks the whole shape, consumers included, with an in-process exporter.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crm_proto::gateway::v1 as gpb;
use crm_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use crm_testkit::authed;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::{create_party, start_crm_up, wait_serving};

/// Every span received, with its resource's `service.name`.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<(String, Span)>>>);

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .and_then(|v| match v {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let mut received = self.0.lock().expect("the received spans");
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| text(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                received.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_one_trace_at_the_otlp_receiver() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let data = tempfile::tempdir().unwrap();
    let up = start_crm_up(data.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]).await;
    let token = up.token.clone();
    wait_serving(up.port).await;
    let party = create_party(up.port, &token).await;
    let gateway = up.port + 5;
    wait_serving(gateway).await;
    let view = GatewayServiceClient::new(crm_testkit::channel(([127, 0, 0, 1], gateway).into()))
        .get_customer360(authed(
            gpb::GetCustomer360Request {
                party_id: party.id.clone(),
                sections: Vec::new(),
                recent_orders: 0,
            },
            &token,
        ))
        .await
        .expect("GetCustomer360")
        .into_inner();
    assert_eq!(view.party_id, party.id);

    // Spans are exported in batches: the trace is awaited until it holds the span of every
    // service the 360 of a new customer asks (partners only for one with partner orders).
    let services = ["customers", "sales", "marketing", "servicedesk"];
    crm_testkit::eventually(
        Duration::from_secs(60),
        "the 360's trace at the receiver",
        || async {
            let received = receiver.0.lock().expect("the received spans").clone();
            let root = received.iter().find(|(_, s)| {
                s.name == "crm.gateway.v1.GatewayService/GetCustomer360" && s.kind == SpanKind::Server as i32
            })?;
            let trace = &root.1.trace_id;
            let in_trace: Vec<&(String, Span)> =
                received.iter().filter(|(_, s)| &s.trace_id == trace).collect();
            let served: BTreeSet<String> = in_trace
                .iter()
                .filter(|(_, s)| s.kind == SpanKind::Server as i32)
                .filter_map(|(_, s)| text(&s.attributes, "crm.service"))
                .collect();
            let complete = services.iter().all(|s| served.contains(*s));
            // One process, one resource: the suite's.
            assert!(
                in_trace.iter().all(|(service, _)| service == "crm"),
                "{in_trace:?}"
            );
            complete.then_some(())
        },
    )
    .await;
    drop(up);
}
