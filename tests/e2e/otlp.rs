//! Traces as an operator's collector receives them: `crm up` pointed at an OTLP receiver in the
//! test exports one trace per call over OTLP/gRPC, the gateway's span and each service's in it,
//! and the spans of the consumers that applied the events the call caused.

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

use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_testkit::fixtures;

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

impl Receiver {
    /// A receiver serving OTLP/gRPC on a free port, and its endpoint.
    async fn start() -> (Self, String) {
        let receiver = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(receiver.clone()))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (receiver, endpoint)
    }

    /// The spans received so far of the trace whose root is the gateway's server span for
    /// `method`.
    fn trace_of(&self, method: &str) -> Option<Vec<(String, Span)>> {
        let received = self.0.lock().expect("the received spans").clone();
        let root = received.iter().find(|(_, s)| {
            s.name == method
                && s.kind == SpanKind::Server as i32
                && text(&s.attributes, "crm.service").as_deref() == Some("gateway")
        })?;
        let trace = root.1.trace_id.clone();
        Some(
            received
                .into_iter()
                .filter(|(_, s)| s.trace_id == trace)
                .collect(),
        )
    }
}

/// `crm up` exporting its traces to a receiver of the test's, with one customer created, and
/// the gateway serving.
struct Traced {
    receiver: Receiver,
    up: crate::Up,
    _data: tempfile::TempDir,
    token: String,
    party: crm_proto::customers::v1::Party,
    gateway: tonic::transport::Channel,
}

async fn traced_suite() -> Traced {
    let (receiver, endpoint) = Receiver::start().await;
    let data = tempfile::tempdir().unwrap();
    let up = start_crm_up(data.path(), &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]).await;
    let token = up.token.clone();
    wait_serving(up.port).await;
    let party = create_party(up.port, &token).await;
    let gateway = up.port + 5;
    wait_serving(gateway).await;
    Traced {
        receiver,
        up,
        _data: data,
        token,
        party,
        gateway: crm_testkit::channel(([127, 0, 0, 1], gateway).into()),
    }
}

/// The services whose server spans a trace holds.
fn served(in_trace: &[(String, Span)]) -> BTreeSet<String> {
    in_trace
        .iter()
        .filter(|(_, s)| s.kind == SpanKind::Server as i32)
        .filter_map(|(_, s)| text(&s.attributes, "crm.service"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_one_trace_at_the_otlp_receiver() {
    let Traced {
        receiver,
        up,
        _data,
        token,
        party,
        gateway,
    } = traced_suite().await;
    let view = GatewayServiceClient::new(gateway)
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
            let in_trace = receiver.trace_of("crm.gateway.v1.GatewayService/GetCustomer360")?;
            let served = served(&in_trace);
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

/// One AcceptQuote through the gateway: at the receiver, the order it places is applied by each
/// of its consumers in the call's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_quote_s_trace_continues_into_every_consumer_of_its_order() {
    let Traced {
        receiver,
        up,
        _data,
        token,
        party,
        gateway: channel,
    } = traced_suite().await;
    let catalog = CatalogServiceClient::new(channel.clone());
    let product = fixtures::create_product(catalog.clone(), &token, fixtures::product("OTLP-1")).await;
    let book = fixtures::create_price_book(catalog.clone(), &token, "List", "USD").await;
    fixtures::set_price(catalog, &token, &book, &product, 50_000).await;
    // Sales takes the deal once it has heard of the customer.
    let pipeline = PipelineServiceClient::new(channel.clone());
    let deal = crm_testkit::eventually(Duration::from_secs(60), "sales knows the customer", || {
        let mut pipeline = pipeline.clone();
        let request = authed(
            spb::CreateOpportunityRequest {
                opportunity: Some(spb::Opportunity {
                    name: "Traced deal".into(),
                    party_id: party.id.clone(),
                    amount: fixtures::money(50_000, "USD"),
                    expected_close_date: "2030-06-30".into(),
                    ..Default::default()
                }),
            },
            &token,
        );
        async move { pipeline.create_opportunity(request).await.ok() }
    })
    .await
    .into_inner()
    .opportunity
    .expect("the deal");
    let mut orders = OrderServiceClient::new(channel);
    let quote = fixtures::create_quote(orders.clone(), &token, &deal, &book, &product, 1).await;
    let accepted = orders
        .accept_quote(authed(
            spb::AcceptQuoteRequest {
                id: quote.id.clone(),
                etag: quote.etag.clone(),
                channel: None,
            },
            &token,
        ))
        .await
        .expect("AcceptQuote")
        .into_inner();
    assert!(accepted.order.is_some(), "the order placed");

    // Every consumer of the order's placement, in the trace of the call that placed it.
    let consumers = [
        "customers-sales-orders",
        "partners-sales-events",
        "marketing-order-events",
    ];
    crm_testkit::eventually(
        Duration::from_secs(60),
        "the accepted quote's trace at the receiver, with its consumers",
        || async {
            let in_trace = receiver.trace_of("crm.sales.v1.OrderService/AcceptQuote")?;
            let served = served(&in_trace);
            let consumed: BTreeSet<String> = in_trace
                .iter()
                .filter_map(|(_, s)| text(&s.attributes, "messaging.consumer"))
                .collect();
            (served.contains("sales") && consumers.iter().all(|c| consumed.contains(*c))).then_some(())
        },
    )
    .await;
    drop(up);
}
