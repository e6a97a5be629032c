//! What the gateway costs and what its fan-out saves, measured on the whole suite (SQLite, a
//! local nats-server) in one run:
//!
//! - a unary call (GetParty) straight to the customers service, then the same call through the
//!   gateway: the forwarding overhead per call;
//! - the customer 360 through the gateway, against its baseline: the same eight reads made one
//!   after the other, straight to each service, as a client without the gateway would.
//!
//! `cargo bench -p crm --bench gateway` (release build). Figures are per call, after a warm-up.

#[path = "../../../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use crm::services::Service;
use crm_auth::Role;
use crm_proto::customers::v1 as customers;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::gateway::v1 as gateway;
use crm_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use crm_proto::marketing::v1 as marketing;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::marketing::v1::prediction_service_client::PredictionServiceClient;
use crm_proto::sales::v1 as sales;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::sales::v1::sales_org_service_client::SalesOrgServiceClient;
use crm_proto::servicedesk::v1 as servicedesk;
use crm_proto::servicedesk::v1::service_desk_service_client::ServiceDeskServiceClient;
use crm_testkit::authed;

/// The allocator of the `crm` binary, so that the figures are those of the suite as shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CALLS: usize = 2_000;
const VIEWS: usize = 300;

/// Latency figures of a series of calls.
struct Figures(Vec<Duration>);

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    fn mean(&self) -> Duration {
        self.0.iter().sum::<Duration>() / self.0.len() as u32
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<44} mean {:>8.3} ms   p50 {:>8.3} ms   p99 {:>8.3} ms",
            ms(self.mean()),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99))
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn time<F, Fut>(n: usize, mut call: F) -> Figures
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..n / 10 {
        call().await;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        call().await;
        out.push(started.elapsed());
    }
    Figures(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let suite = support::start(crm_testkit::Backend::Sqlite, support::gateway_settings()).await;
    let token = crm_testkit::token("bench", &[Role::Admin]);
    let direct = |service| crm_testkit::channel(suite.suite.addr(service));
    let party = CustomersServiceClient::new(suite.gateway())
        .create_party(authed(
            customers::CreatePartyRequest {
                party: Some(customers::Party {
                    kind: customers::PartyKind::Organization as i32,
                    organization_name: "Bench Corp".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .expect("a party")
        .into_inner()
        .party
        .expect("the party");
    // Marketing learns of the party from its event before the views are timed.
    crm_testkit::eventually(Duration::from_secs(20), "marketing's profile", || {
        let mut client = MarketingServiceClient::new(direct(Service::Marketing));
        let request = authed(
            marketing::GetProfileRequest {
                party_id: party.id.clone(),
            },
            &token,
        );
        async move { client.get_profile(request).await.ok() }
    })
    .await;

    let get_party = |channel: tonic::transport::Channel| {
        let client = CustomersServiceClient::new(channel);
        let (id, token) = (party.id.clone(), token.clone());
        move || {
            let mut client = client.clone();
            let request = authed(customers::GetPartyRequest { id: id.clone() }, &token);
            async move {
                client.get_party(request).await.expect("GetParty");
            }
        }
    };
    let straight = time(CALLS, get_party(direct(Service::Customers))).await;
    let forwarded = time(CALLS, get_party(suite.gateway())).await;

    let view = {
        let client = GatewayServiceClient::new(suite.gateway());
        let (id, token) = (party.id.clone(), token.clone());
        move || {
            let mut client = client.clone();
            let request = authed(
                gateway::GetCustomer360Request {
                    party_id: id.clone(),
                    ..Default::default()
                },
                &token,
            );
            async move {
                let view = client.get_customer360(request).await.expect("360").into_inner();
                assert!(view.statuses.iter().all(|s| s.code == 0), "{:?}", view.statuses);
            }
        }
    };
    let fanned_out = time(VIEWS, view).await;
    let one_by_one = {
        let customers = CustomersServiceClient::new(direct(Service::Customers));
        let orders = OrderServiceClient::new(direct(Service::Sales));
        let pipeline = PipelineServiceClient::new(direct(Service::Sales));
        let profiles = MarketingServiceClient::new(direct(Service::Marketing));
        let predictions = PredictionServiceClient::new(direct(Service::Marketing));
        let org = SalesOrgServiceClient::new(direct(Service::Sales));
        let desk = ServiceDeskServiceClient::new(direct(Service::Servicedesk));
        let (id, token) = (party.id.clone(), token.clone());
        move || {
            let (mut customers, mut orders, mut pipeline, mut profiles, mut desk) = (
                customers.clone(),
                orders.clone(),
                pipeline.clone(),
                profiles.clone(),
                desk.clone(),
            );
            let (mut predictions, mut org) = (predictions.clone(), org.clone());
            let (id, token) = (id.clone(), token.clone());
            async move {
                customers
                    .get_party(authed(customers::GetPartyRequest { id: id.clone() }, &token))
                    .await
                    .unwrap();
                customers
                    .list_relationships(authed(
                        customers::ListRelationshipsRequest {
                            party_id: id.clone(),
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .unwrap();
                orders
                    .list_orders(authed(
                        sales::ListOrdersRequest {
                            party_id: id.clone(),
                            page_size: 200,
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .unwrap();
                pipeline
                    .list_opportunities(authed(
                        sales::ListOpportunitiesRequest {
                            party_id: id.clone(),
                            page_size: 200,
                            ..Default::default()
                        },
                        &token,
                    ))
                    .await
                    .unwrap();
                profiles
                    .get_profile(authed(
                        marketing::GetProfileRequest { party_id: id.clone() },
                        &token,
                    ))
                    .await
                    .unwrap();
                // Not found without purchases or an assignment, as for the 360.
                let _ = org
                    .get_account_assignment(authed(
                        sales::GetAccountAssignmentRequest { party_id: id.clone() },
                        &token,
                    ))
                    .await;
                let _ = predictions
                    .get_prediction(authed(
                        marketing::GetPredictionRequest {
                            party_id: id.clone(),
                            horizon_weeks: 0,
                        },
                        &token,
                    ))
                    .await;
                desk.list_cases(authed(
                    servicedesk::ListCasesRequest {
                        party_id: id.clone(),
                        open_only: true,
                        with_sla: true,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap();
            }
        }
    };
    let sequential = time(VIEWS, one_by_one).await;

    println!("gateway benchmark (SQLite, {CALLS} unary calls, {VIEWS} views, after a warm-up)");
    println!("{}", straight.line("GetParty straight to customers (baseline)"));
    println!("{}", forwarded.line("GetParty through the gateway"));
    println!(
        "{:<44} {:>+8.3} ms per call at p50",
        "forwarding overhead",
        ms(forwarded.percentile(0.5)) - ms(straight.percentile(0.5))
    );
    println!(
        "{}",
        sequential.line("the same eight reads one by one (baseline)")
    );
    println!("{}", fanned_out.line("GetCustomer360 through the gateway"));
    println!(
        "{:<44} {:>8.2}x at p50",
        "360 speed-up over the one-by-one reads",
        ms(sequential.percentile(0.5)) / ms(fanned_out.percentile(0.5))
    );
    suite.suite.shutdown().await.expect("stopping the suite");
}
