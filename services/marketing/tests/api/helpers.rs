//! Customers, sales and marketing on port 0, each with its own database, sharing a nats-server.

pub use crm_testkit::violated;

use crm_auth::Role;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::marketing::v1 as pb;
use crm_proto::marketing::v1::campaign_service_client::CampaignServiceClient;
use crm_proto::marketing::v1::marketing_service_client::MarketingServiceClient;
use crm_proto::marketing::v1::prediction_service_client::PredictionServiceClient;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, eventually, fixtures, start, token};
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
        Self::start_at(backend, None).await
    }

    /// A suite whose sales and marketing read time from `clock` (the system's when none).
    pub async fn start_at(
        backend: Backend,
        clock: Option<std::sync::Arc<crm_platform::clock::ManualClock>>,
    ) -> Self {
        Self::start_configured(backend, clock, |_| {}).await
    }

    /// A suite whose marketing service runs with `adjust`ed settings.
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut crm_marketing::MarketingSettings),
    ) -> Self {
        Self::start_configured(backend, None, adjust).await
    }

    async fn start_configured(
        backend: Backend,
        clock: Option<std::sync::Arc<crm_platform::clock::ManualClock>>,
        adjust: impl FnOnce(&mut crm_marketing::MarketingSettings),
    ) -> Self {
        let nats = TestNats::start();
        let dbs = vec![TestDb::new(backend), TestDb::new(backend), TestDb::new(backend)];
        let customers = start::<crm_customers::Customers>(&dbs[0].url, nats.client().await, |_, _| {}).await;
        let on_clock = |instance: &mut crm_platform::Instance| {
            if let Some(clock) = &clock {
                instance.clock = clock.clone();
            }
        };
        let sales = start::<crm_sales::Sales>(&dbs[1].url, nats.client().await, |instance, s| {
            on_clock(instance);
            s.customers.urls = vec![customers.url()]
        })
        .await;
        let marketing = start::<crm_marketing::Marketing>(&dbs[2].url, nats.client().await, |instance, s| {
            on_clock(instance);
            // Quintile boundaries follow new purchases within a fifth of a second here.
            s.rfm_refresh_interval = std::time::Duration::from_millis(200);
            // FitModels answers with the job still running after a second; `fit` follows it.
            s.fit_wait = std::time::Duration::from_secs(1);
            adjust(s);
        })
        .await;
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

    /// Fits the models and follows the job to its end, as a client of a large base does.
    pub async fn fit(&self) -> pb::FitModelsResponse {
        let mut fit = self
            .predictions
            .clone()
            .fit_models(self.req(pb::FitModelsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        while fit.job.as_ref().unwrap().state == pb::FitJobState::Running as i32 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            fit = self
                .predictions
                .clone()
                .get_fit_job(self.req(pb::GetFitJobRequest {
                    id: fit.job.unwrap().id,
                }))
                .await
                .unwrap()
                .into_inner()
                .result
                .unwrap();
        }
        fit
    }

    pub async fn person(&self, given: &str, city: &str, income: &str) -> cpb::Party {
        let mut party = fixtures::person(given, "Test");
        party.attributes.insert("city".into(), city.into());
        party.attributes.insert("income".into(), income.into());
        fixtures::create_party(self.customers.clone(), &self.admin, party).await
    }

    /// A product priced at `price` in a default USD price book; returns the book id.
    pub async fn shop(&self, price: i64) -> (spb::Product, String) {
        let product = spb::Product {
            name: "Widget".into(),
            ..fixtures::product("WIDGET")
        };
        let product = fixtures::create_product(self.catalog.clone(), &self.admin, product).await;
        let book = fixtures::create_price_book(self.catalog.clone(), &self.admin, "USD", "USD").await;
        fixtures::set_price(self.catalog.clone(), &self.admin, &book, &product, price).await;
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

    /// Waits until marketing has `n` purchases and its RFM boundaries have caught up with them.
    pub async fn purchases(&self, n: i64) {
        let count = "SELECT COUNT(*) FROM purchases";
        fixtures::rows_reach(&self.marketing_db, count, None, n, "purchases recorded").await;
        let stale = "SELECT COUNT(*) FROM view_version v WHERE NOT EXISTS \
            (SELECT 1 FROM rfm_cut_versions c WHERE c.version = v.version)";
        fixtures::rows_reach(&self.marketing_db, stale, None, 0, "RFM boundaries recomputed").await;
    }

    /// A store over marketing's database, for running its jobs' code from a test.
    pub fn marketing_store(&self) -> crm_platform::Store {
        crm_platform::Store::new(
            self.marketing_db.clone(),
            std::sync::Arc::default(),
            std::sync::Arc::new(crm_platform::clock::SystemClock),
        )
    }

    /// Creates `segment`; the stored segment.
    pub async fn create_segment(&self, segment: pb::Segment) -> pb::Segment {
        self.marketing
            .clone()
            .create_segment(self.req(pb::CreateSegmentRequest {
                segment: Some(segment),
            }))
            .await
            .unwrap()
            .into_inner()
            .segment
            .unwrap()
    }

    /// Creates `campaign`; the stored campaign.
    pub async fn create_campaign(&self, campaign: pb::Campaign) -> pb::Campaign {
        self.campaigns
            .clone()
            .create_campaign(self.req(pb::CreateCampaignRequest {
                campaign: Some(campaign),
            }))
            .await
            .unwrap()
            .into_inner()
            .campaign
            .unwrap()
    }

    /// Starts the campaign's test and follows its contact run to the end, as a client of a large
    /// campaign does.
    pub async fn start_test(&self, campaign_id: &str) -> Result<pb::ContactRun, tonic::Status> {
        let started = self
            .campaigns
            .clone()
            .start_test(self.req(pb::StartTestRequest {
                campaign_id: campaign_id.into(),
            }))
            .await?
            .into_inner();
        let run = started.run.expect("the test's run");
        assert_eq!(
            (started.contacted, started.suppressed, started.capped),
            (run.contacted, run.suppressed, run.capped),
            "the answer's counts are its run's"
        );
        Ok(self.run_ended(campaign_id).await)
    }

    /// Rolls the campaign out and follows its contact run to the end: the cells and the run.
    pub async fn roll_out(&self, campaign_id: &str) -> Result<(Vec<String>, pb::ContactRun), tonic::Status> {
        let rolled = self
            .campaigns
            .clone()
            .roll_out(self.req(pb::RollOutRequest {
                campaign_id: campaign_id.into(),
            }))
            .await?
            .into_inner();
        assert_eq!(
            rolled.run.as_ref().expect("the roll-out's run").cells,
            rolled.cells
        );
        Ok((rolled.cells, self.run_ended(campaign_id).await))
    }

    /// The campaign's contact run once it has ended.
    pub async fn run_ended(&self, campaign_id: &str) -> pb::ContactRun {
        eventually(
            std::time::Duration::from_secs(60),
            "the contact run's end",
            || {
                let mut campaigns = self.campaigns.clone();
                let req = self.req(pb::GetCampaignRequest {
                    id: campaign_id.into(),
                });
                async move {
                    let run = campaigns
                        .get_campaign(req)
                        .await
                        .ok()?
                        .into_inner()
                        .campaign?
                        .contact_run?;
                    run.finish_time.is_some().then_some(run)
                }
            },
        )
        .await
    }

    /// Waits until marketing has `n` profiles.
    pub async fn profiles(&self, n: i64) {
        let count = "SELECT COUNT(*) FROM profiles";
        fixtures::rows_reach(&self.marketing_db, count, None, n, "profiles recorded").await;
    }
}

/// Settings under which the calls answer a contact run or a selection at once and the service's
/// jobs stay away: a test goes through every page itself, by the jobs' own code.
pub fn by_hand() -> crm_marketing::MarketingSettings {
    crm_marketing::MarketingSettings {
        contact_wait: std::time::Duration::ZERO,
        contact_run_interval: std::time::Duration::from_secs(3600),
        ..Default::default()
    }
}

/// A segment of the customers with at least `orders` orders.
pub fn buyers(name: &str, orders: i64) -> pb::Segment {
    pb::Segment {
        name: name.into(),
        conditions: vec![pb::Condition {
            field: "order_count".into(),
            operator: pb::Operator::GreaterOrEqual as i32,
            value: orders.to_string(),
        }],
        ..Default::default()
    }
}

/// A campaign to `segment_id` on `channel`, testing 1 in `test_every_n`: a budget of 1,000.00,
/// 0.62 a contact, 35.00 a response (break-even 1.77%).
pub fn plan(name: &str, channel: pb::Channel, segment_id: &str, test_every_n: i32) -> pb::Campaign {
    pb::Campaign {
        name: name.into(),
        channel: channel as i32,
        budget: money(1_000_00),
        cost_per_contact: money(62),
        net_profit_per_response: money(35_00),
        segment_id: segment_id.into(),
        test_every_n,
        ..Default::default()
    }
}

/// `amount_minor` US cents.
pub fn money(amount_minor: i64) -> Option<Money> {
    fixtures::money(amount_minor, "USD")
}
