//! Customers, sales and marketing on port 0, each with its own database, sharing a nats-server.

pub use crm_testkit::violated;
use std::time::Duration;

use crm_auth::Role;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::marketing::v1::campaign_service_client::CampaignServiceClient;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::marketing::v1::prediction_service_client::PredictionServiceClient;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, eventually, start, token};
use tonic::transport::Channel;

pub struct Suite {
    pub marketing: MarketingServiceClient<Channel>,
    pub campaigns: CampaignServiceClient<Channel>,
    pub predictions: PredictionServiceClient<Channel>,
    pub customers: CustomersServiceClient<Channel>,
    pub catalog: CatalogServiceClient<Channel>,
    pub orders: OrderServiceClient<Channel>,
    pub pipeline: PipelineServiceClient<Channel>,
    pub marketing_db: Db,
    pub admin: String,
    pub nats: TestNats,
    // Services first: they stop before their databases go.
    _services: [Running; 3],
    _dbs: Vec<TestDb>,
}

impl Suite {
    pub async fn start(backend: Backend) -> Self {
        let nats = TestNats::start();
        let dbs = vec![TestDb::new(backend), TestDb::new(backend), TestDb::new(backend)];
        let customers = start::<crm_customers::Customers>(&dbs[0].url, nats.client().await, |_, _| {}).await;
        let sales = start::<crm_sales::Sales>(&dbs[1].url, nats.client().await, |_, s| {
            s.customers_url = vec![customers.url()]
        })
        .await;
        let marketing = start::<crm_marketing::Marketing>(&dbs[2].url, nats.client().await, |_, _| {}).await;
        Self {
            marketing: MarketingServiceClient::new(marketing.channel()),
            campaigns: CampaignServiceClient::new(marketing.channel()),
            predictions: PredictionServiceClient::new(marketing.channel()),
            customers: CustomersServiceClient::new(customers.channel()),
            catalog: CatalogServiceClient::new(sales.channel()),
            orders: OrderServiceClient::new(sales.channel()),
            pipeline: PipelineServiceClient::new(sales.channel()),
            marketing_db: marketing.db.clone(),
            admin: token("admin-1", &[Role::Admin]),
            nats,
            _services: [customers, sales, marketing],
            _dbs: dbs,
        }
    }

    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        authed(message, &self.admin)
    }

    pub async fn person(&self, given: &str, city: &str, income: &str) -> cpb::Party {
        let mut party = cpb::Party {
            kind: cpb::PartyKind::Person as i32,
            given_name: given.into(),
            family_name: "Test".into(),
            ..Default::default()
        };
        party.attributes.insert("city".into(), city.into());
        party.attributes.insert("income".into(), income.into());
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

    /// A product priced at `price` in a default USD price book; returns the book id.
    pub async fn shop(&self, price: i64) -> (spb::Product, String) {
        let product = spb::Product {
            sku: "WIDGET".into(),
            name: "Widget".into(),
            active: true,
            ..Default::default()
        };
        let product = self
            .catalog
            .clone()
            .create_product(self.req(spb::CreateProductRequest {
                product: Some(product),
            }))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        let book = spb::PriceBook {
            name: "USD".into(),
            currency_code: "USD".into(),
            is_default: true,
            ..Default::default()
        };
        let book = self
            .catalog
            .clone()
            .create_price_book(self.req(spb::CreatePriceBookRequest {
                price_book: Some(book),
            }))
            .await
            .unwrap()
            .into_inner()
            .price_book
            .unwrap();
        let price = spb::Price {
            price_book_id: book.id.clone(),
            product_id: product.id.clone(),
            unit_price: money(price),
        };
        self.catalog
            .clone()
            .set_price(self.req(spb::SetPriceRequest { price: Some(price) }))
            .await
            .unwrap();
        (product, book.id)
    }

    pub async fn order(&self, party: &str, product: &spb::Product, book: &str, quantity: i64) {
        let order = spb::Order {
            party_id: party.into(),
            lines: vec![spb::LineItem {
                product_id: product.id.clone(),
                quantity,
                ..Default::default()
            }],
            ..Default::default()
        };
        self.orders
            .clone()
            .place_order(self.req(spb::PlaceOrderRequest {
                order: Some(order),
                price_book_id: book.into(),
            }))
            .await
            .unwrap();
    }

    /// Waits until marketing has `n` purchases.
    pub async fn purchases(&self, n: i64) {
        let db = self.marketing_db.clone();
        eventually(Duration::from_secs(30), "purchases recorded", || {
            let db = db.clone();
            async move {
                (sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM purchases")
                    .fetch_one(db.pool())
                    .await
                    .ok()?
                    == n)
                    .then_some(())
            }
        })
        .await;
    }

    /// Waits until marketing has `n` profiles.
    pub async fn profiles(&self, n: i64) {
        let db = self.marketing_db.clone();
        eventually(Duration::from_secs(30), "profiles recorded", || {
            let db = db.clone();
            async move {
                (sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM profiles")
                    .fetch_one(db.pool())
                    .await
                    .ok()?
                    == n)
                    .then_some(())
            }
        })
        .await;
    }
}

pub fn money(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: "USD".into(),
    })
}
