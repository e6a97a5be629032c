//! Customers, sales and partners on port 0, each with its own database, sharing a nats-server.

pub use crm_testkit::violated;
use std::time::Duration;

use crm_auth::Role;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::partners::v1 as pb;
use crm_proto::partners::v1::partner_portal_service_client::PartnerPortalServiceClient;
use crm_proto::partners::v1::partner_service_client::PartnerServiceClient;
use crm_proto::partners::v1::scorecard_service_client::ScorecardServiceClient;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, fixtures, start, token};
use tonic::transport::Channel;

pub struct Suite {
    pub partners: PartnerServiceClient<Channel>,
    pub portal: PartnerPortalServiceClient<Channel>,
    pub scorecards: ScorecardServiceClient<Channel>,
    pub pipeline: PipelineServiceClient<Channel>,
    pub sales_db: Db,
    pub catalog: CatalogServiceClient<Channel>,
    pub orders: OrderServiceClient<Channel>,
    pub customers: CustomersServiceClient<Channel>,
    pub partners_db: Db,
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
            s.customers.urls = vec![customers.url()]
        })
        .await;
        let partners = start::<crm_partners::Partners>(&dbs[2].url, nats.client().await, |_, s| {
            s.exception_interval = Duration::from_millis(200)
        })
        .await;
        Self {
            partners: PartnerServiceClient::new(partners.channel()),
            portal: PartnerPortalServiceClient::new(partners.channel()),
            scorecards: ScorecardServiceClient::new(partners.channel()),
            pipeline: PipelineServiceClient::new(sales.channel()),
            sales_db: sales.db.clone(),
            catalog: CatalogServiceClient::new(sales.channel()),
            orders: OrderServiceClient::new(sales.channel()),
            customers: CustomersServiceClient::new(customers.channel()),
            partners_db: partners.db.clone(),
            admin: token("admin-1", &[Role::Admin]),
            nats,
            _services: [customers, sales, partners],
            _dbs: dbs,
        }
    }

    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        authed(message, &self.admin)
    }

    pub async fn partner(
        &self,
        name: &str,
        t: pb::PartnerType,
        parent: &str,
        regions: &[&str],
    ) -> pb::Partner {
        let p = pb::Partner {
            name: name.into(),
            r#type: t as i32,
            parent_id: parent.into(),
            region_codes: regions.iter().map(|r| r.to_string()).collect(),
            operating_model: pb::OperatingModel::BuySell as i32,
            ..Default::default()
        };
        self.partners
            .clone()
            .create_partner(self.req(pb::CreatePartnerRequest { partner: Some(p) }))
            .await
            .unwrap()
            .into_inner()
            .partner
            .unwrap()
    }

    /// `partner` selling to the customer `party_id` (e-orders become that customer's orders).
    pub async fn link_party(&self, partner: &pb::Partner, party_id: &str) -> pb::Partner {
        self.partners
            .clone()
            .update_partner(self.req(pb::UpdatePartnerRequest {
                partner: Some(pb::Partner {
                    id: partner.id.clone(),
                    etag: partner.etag.clone(),
                    party_id: party_id.into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["party_id".into()],
                }),
            }))
            .await
            .unwrap()
            .into_inner()
            .partner
            .unwrap()
    }

    /// Makes `partner` (at its etag) active.
    pub async fn activate(&self, partner: &pb::Partner) {
        self.partners
            .clone()
            .change_partner_status(self.req(pb::ChangePartnerStatusRequest {
                id: partner.id.clone(),
                etag: partner.etag.clone(),
                status: pb::PartnerStatus::Active as i32,
                reason: String::new(),
                effective_date: String::new(),
            }))
            .await
            .unwrap();
    }

    /// Sets `target` as the administrator.
    pub async fn set_target(&self, target: pb::Target) {
        self.partners
            .clone()
            .set_target(self.req(pb::SetTargetRequest { target: Some(target) }))
            .await
            .unwrap();
    }

    /// A product in the sales catalog, once the partners service has its copy.
    pub async fn product(&self, sku: &str, category: &str) -> spb::Product {
        let product = spb::Product {
            category: category.into(),
            ..fixtures::product(sku)
        };
        let product = fixtures::create_product(self.catalog.clone(), &self.admin, product).await;
        let copied = "SELECT COUNT(*) FROM products WHERE id = $1";
        fixtures::rows_reach(
            &self.partners_db,
            copied,
            Some(&product.id),
            1,
            "product copied to partners",
        )
        .await;
        product
    }

    pub async fn organization(&self, name: &str) -> cpb::Party {
        fixtures::create_party(self.customers.clone(), &self.admin, fixtures::organization(name)).await
    }
}

/// `amount_minor` US cents.
pub fn money(amount_minor: i64) -> Option<Money> {
    fixtures::money(amount_minor, "USD")
}

pub fn partner_user(user: &str, partner_id: &str) -> String {
    let mut claims = crm_auth::Claims::new(user, &[Role::PartnerUser], Duration::from_secs(3600));
    claims.partner_id = Some(partner_id.into());
    crm_testkit::token_with(claims)
}
