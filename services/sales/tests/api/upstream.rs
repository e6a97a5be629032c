//! Sales asks the customers service about a party it has not seen yet outside any write
//! transaction: a customers service that does not answer holds up that one call, not the writes
//! beside it (on SQLite a write transaction holds the database's only write lock). The question
//! carries the time the caller's call has left as its deadline. A customers service that is
//! unavailable is asked again, a bounded number of times.

use crm_auth::Role;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_testkit::{Backend, TestDb, TestNats, authed, fixtures, start, token};

/// An opportunity for a party sales has not seen: sales asks customers about it.
fn deal_with_an_unseen_party() -> pb::CreateOpportunityRequest {
    pb::CreateOpportunityRequest {
        opportunity: Some(pb::Opportunity {
            name: "Deal".into(),
            party_id: uuid::Uuid::now_v7().to_string(),
            amount: fixtures::money(100_00, "USD"),
            expected_close_date: "2030-06-30".into(),
            ..Default::default()
        }),
    }
}

/// Serves `customers` (a stand-in for the customers service) on a free port; its address.
async fn serve_customers(customers: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::from(customers))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

/// Sales on `backend`, asking the customers service at `customers`; what keeps it running.
async fn sales_in_front_of(
    customers: std::net::SocketAddr,
    backend: Backend,
) -> (crm_testkit::Running, TestNats, TestDb) {
    let nats = TestNats::start();
    let db = TestDb::new(backend);
    let sales = start::<crm_sales::Sales>(&db.url, nats.client().await, |_, s| {
        s.customers.urls = vec![format!("http://{customers}")]
    })
    .await;
    (sales, nats, db)
}

async fn a_call_to_customers_holds_no_write_transaction(backend: Backend) {
    // A customers service that takes every call and never answers; it says when GetParty came,
    // with its deadline.
    let (called, asked) = tokio::sync::oneshot::channel::<Option<String>>();
    let called = std::sync::Arc::new(std::sync::Mutex::new(Some(called)));
    let never = axum::Router::new().fallback(move |request: axum::extract::Request| {
        if request.uri().path().ends_with("/GetParty")
            && let Some(called) = called.lock().unwrap().take()
        {
            let timeout = request.headers().get("grpc-timeout");
            let _ = called.send(timeout.and_then(|t| t.to_str().ok()).map(String::from));
        }
        std::future::pending::<axum::response::Response>()
    });
    let (sales, _nats, _db) = sales_in_front_of(serve_customers(never).await, backend).await;
    let admin = token("admin-1", &[Role::Admin]);

    // An opportunity for a party sales has not seen: sales asks customers, which never answers.
    let mut pipeline = PipelineServiceClient::new(sales.channel());
    let mut request = authed(deal_with_an_unseen_party(), &admin);
    request.set_timeout(std::time::Duration::from_secs(20));
    let waiting = tokio::spawn(async move { pipeline.create_opportunity(request).await });
    let timeout = asked
        .await
        .unwrap()
        .expect("a deadline on the question to customers");
    let (digits, unit) = timeout.split_at(timeout.len() - 1);
    let nanos = digits.parse::<u64>().unwrap()
        * match unit {
            "S" => 1_000_000_000,
            "m" => 1_000_000,
            "u" => 1_000,
            "n" => 1,
            other => panic!("unit {other}"),
        };
    assert!(
        nanos <= 20_000_000_000,
        "no longer than the caller's 20 s left: {timeout}"
    );

    // Meanwhile another write goes through.
    let product = fixtures::create_product(
        CatalogServiceClient::new(sales.channel()),
        &admin,
        fixtures::product("SKU-1"),
    )
    .await;
    assert_eq!(product.sku, "SKU-1");
    assert!(!waiting.is_finished(), "the opportunity still waits on customers");
    waiting.abort();
}

/// Serves every call with UNAVAILABLE (an instance shutting down) and counts the GetParty calls.
async fn unavailable_customers() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = asked.clone();
    let refusing = axum::Router::new().fallback(move |request: axum::extract::Request| {
        if request.uri().path().ends_with("/GetParty") {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        std::future::ready(tonic::Status::unavailable("shutting down").into_http::<axum::body::Body>())
    });
    (serve_customers(refusing).await, asked)
}

async fn an_unavailable_customers_service_is_asked_again(backend: Backend) {
    let (upstream, asked) = unavailable_customers().await;
    let (sales, _nats, _db) = sales_in_front_of(upstream, backend).await;
    let admin = token("admin-1", &[Role::Admin]);
    let err = PipelineServiceClient::new(sales.channel())
        .create_opportunity(authed(deal_with_an_unseen_party(), &admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "the first question and two retries"
    );
}

crm_testkit::backend_tests!(
    a_call_to_customers_holds_no_write_transaction,
    an_unavailable_customers_service_is_asked_again
);
