//! A sales service and a customers service on port 0, each with its own database, sharing one
//! nats-server, and real clients.

pub use crm_testkit::violated;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm_auth::Role;
use crm_events::CloudEvent;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::sales::v1::sales_org_service_client::SalesOrgServiceClient;
use crm_proto::sales::v1::sales_report_service_client::SalesReportServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, eventually, start, token};
use futures::StreamExt as _;
use tonic::transport::Channel;

pub struct Suite {
    pub catalog: CatalogServiceClient<Channel>,
    pub pipeline: PipelineServiceClient<Channel>,
    pub orders: OrderServiceClient<Channel>,
    pub org: SalesOrgServiceClient<Channel>,
    pub reports: SalesReportServiceClient<Channel>,
    pub customers: CustomersServiceClient<Channel>,
    pub sales_db: Db,
    pub customers_db: Db,
    pub nats: TestNats,
    pub admin: String,
    // Services first: they stop before their databases go.
    _services: [Running; 2],
    _dbs: (TestDb, TestDb),
}

impl Suite {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(
        backend: Backend,
        configure: impl FnOnce(&mut crm_customers::CustomersSettings),
    ) -> Self {
        let nats = TestNats::start();
        let customers_db = TestDb::new(backend);
        let customers =
            start::<crm_customers::Customers>(&customers_db.url, nats.client().await, |_, s| configure(s))
                .await;
        let sales_db = TestDb::new(backend);
        let sales = start::<crm_sales::Sales>(&sales_db.url, nats.client().await, |_, s| {
            s.customers_url = vec![customers.url()]
        })
        .await;
        Self {
            catalog: CatalogServiceClient::new(sales.channel()),
            pipeline: PipelineServiceClient::new(sales.channel()),
            orders: OrderServiceClient::new(sales.channel()),
            org: SalesOrgServiceClient::new(sales.channel()),
            reports: SalesReportServiceClient::new(sales.channel()),
            customers: CustomersServiceClient::new(customers.channel()),
            sales_db: sales.db.clone(),
            customers_db: customers.db.clone(),
            nats,
            admin: token("admin-1", &[Role::Admin]),
            _services: [customers, sales],
            _dbs: (customers_db, sales_db),
        }
    }

    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        authed(message, &self.admin)
    }

    pub async fn organization(&self, name: &str) -> cpb::Party {
        let party = cpb::Party {
            kind: cpb::PartyKind::Organization as i32,
            organization_name: name.into(),
            ..Default::default()
        };
        self.customers
            .clone()
            .create_party(self.req(cpb::CreatePartyRequest {
                party: Some(party),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .party
            .unwrap()
    }

    pub async fn product(&self, sku: &str, line: &str) -> pb::Product {
        let product = pb::Product {
            sku: sku.into(),
            name: format!("Product {sku}"),
            product_line: line.into(),
            active: true,
            ..Default::default()
        };
        self.catalog
            .clone()
            .create_product(self.req(pb::CreateProductRequest {
                product: Some(product),
            }))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
    }

    pub async fn price_book(&self, name: &str, currency: &str) -> pb::PriceBook {
        let book = pb::PriceBook {
            name: name.into(),
            currency_code: currency.into(),
            is_default: true,
            ..Default::default()
        };
        self.catalog
            .clone()
            .create_price_book(self.req(pb::CreatePriceBookRequest {
                price_book: Some(book),
            }))
            .await
            .unwrap()
            .into_inner()
            .price_book
            .unwrap()
    }

    pub async fn set_price(&self, book: &pb::PriceBook, product: &pb::Product, amount: i64) {
        let price = pb::Price {
            price_book_id: book.id.clone(),
            product_id: product.id.clone(),
            unit_price: money(amount, &book.currency_code),
        };
        self.catalog
            .clone()
            .set_price(self.req(pb::SetPriceRequest { price: Some(price) }))
            .await
            .unwrap();
    }

    pub async fn opportunity(&self, party: &cpb::Party, amount: i64) -> pb::Opportunity {
        let o = pb::Opportunity {
            name: format!("Deal with {}", party.display_name),
            party_id: party.id.clone(),
            amount: money(amount, "USD"),
            expected_close_date: "2030-06-30".into(),
            ..Default::default()
        };
        self.pipeline
            .clone()
            .create_opportunity(self.req(pb::CreateOpportunityRequest { opportunity: Some(o) }))
            .await
            .unwrap()
            .into_inner()
            .opportunity
            .unwrap()
    }

    /// Every event of a stream (`CRM_SALES`, `CRM_CUSTOMERS`) once `db`'s outbox is drained.
    pub async fn events(&self, stream: &str, db: &Db) -> Vec<CloudEvent> {
        eventually(Duration::from_secs(20), "outbox drained", || async {
            let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL")
                .fetch_one(db.pool())
                .await
                .ok()?;
            (unsent == 0).then_some(())
        })
        .await;
        let js = jetstream::new(self.nats.client().await);
        let Ok(mut stream) = js.get_stream(stream).await else {
            return Vec::new();
        };
        let count = stream.info().await.unwrap().state.messages as usize;
        if count == 0 {
            return Vec::new();
        }
        let consumer = stream.create_consumer(pull::Config::default()).await.unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut out = Vec::new();
        while out.len() < count {
            let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            out.push(CloudEvent::from_message(m.headers.as_ref(), m.payload.clone()).unwrap());
        }
        out
    }

    pub async fn sales_event_types(&self) -> Vec<String> {
        self.events("CRM_SALES", &self.sales_db)
            .await
            .into_iter()
            .map(|e| {
                e.event_type
                    .trim_start_matches("crm.sales.")
                    .trim_end_matches(".v1")
                    .to_string()
            })
            .collect()
    }
}

pub fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: currency.into(),
    })
}

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}
