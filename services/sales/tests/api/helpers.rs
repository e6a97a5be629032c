//! A sales service and a customers service on port 0, each with its own database, sharing one
//! nats-server, and real clients.

pub use crm_testkit::violated;

use crm_auth::{Claims, Role};
use crm_events::CloudEvent;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_proto::sales::v1::sales_org_service_client::SalesOrgServiceClient;
use crm_proto::sales::v1::sales_report_service_client::SalesReportServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, fixtures, start, token, token_with};
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
            s.customers.urls = vec![customers.url()]
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
        fixtures::create_party(self.customers.clone(), &self.admin, fixtures::organization(name)).await
    }

    pub async fn product(&self, sku: &str, line: &str) -> pb::Product {
        let product = pb::Product {
            product_line: line.into(),
            ..fixtures::product(sku)
        };
        fixtures::create_product(self.catalog.clone(), &self.admin, product).await
    }

    pub async fn price_book(&self, name: &str, currency: &str) -> pb::PriceBook {
        fixtures::create_price_book(self.catalog.clone(), &self.admin, name, currency).await
    }

    pub async fn set_price(&self, book: &pb::PriceBook, product: &pb::Product, amount: i64) {
        fixtures::set_price(self.catalog.clone(), &self.admin, book, product, amount).await
    }

    /// A deal with `party` of `amount` cents (USD), opened by the administrator.
    pub async fn opportunity(&self, party: &cpb::Party, amount: i64) -> pb::Opportunity {
        self.opportunity_as(&self.admin, party, amount).await
    }

    /// A deal with `party` of `amount` cents (USD), opened (and so owned) by the holder of
    /// `token`.
    pub async fn opportunity_as(&self, token: &str, party: &cpb::Party, amount: i64) -> pb::Opportunity {
        let o = pb::Opportunity {
            name: format!("Deal with {}", party.display_name),
            party_id: party.id.clone(),
            amount: money(amount, "USD"),
            expected_close_date: "2030-06-30".into(),
            ..Default::default()
        };
        self.pipeline
            .clone()
            .create_opportunity(authed(
                pb::CreateOpportunityRequest { opportunity: Some(o) },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .opportunity
            .unwrap()
    }

    /// Every event of a stream (`CRM_SALES`, `CRM_CUSTOMERS`) once `db`'s outbox is drained.
    pub async fn events(&self, stream: &str, db: &Db) -> Vec<CloudEvent> {
        fixtures::published_events(&self.nats, db, stream).await
    }

    pub async fn sales_event_types(&self) -> Vec<String> {
        fixtures::short_types(self.events("CRM_SALES", &self.sales_db).await, "sales")
    }
}

pub use fixtures::{mask, money};

/// A token for `user` with `role` in `team`, selling in `territories`.
pub fn seller(user: &str, role: Role, team: &str, territories: &[&str]) -> String {
    let mut claims = Claims::new(user, &[role], std::time::Duration::from_secs(3600));
    claims.team = Some(team.into());
    claims.territories = territories.iter().map(|t| t.to_string()).collect();
    token_with(claims)
}
