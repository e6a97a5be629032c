//! A customers service on port 0 with its own database and nats-server, and real clients.

pub use crm_testkit::violated;
use std::time::Duration;

use crm_auth::{Claims, Role};
use crm_customers::{Customers, CustomersSettings};
use crm_events::CloudEvent;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::customers::v1::{self as pb, ContactPointKind, RelationshipType};
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, fixtures, start, token, token_with};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub type Client = CustomersServiceClient<Channel>;

pub struct TestApp {
    pub client: Client,
    pub db: Db,
    pub nats: TestNats,
    pub admin: String,
    pub addr: std::net::SocketAddr,
    service: Option<Running>,
    pub test_db: TestDb,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut CustomersSettings)) -> Self {
        Self::spawn_at(backend, None, configure).await
    }

    /// A service whose time is `clock`'s (the system's when none).
    pub async fn spawn_at(
        backend: Backend,
        clock: Option<std::sync::Arc<dyn crm_platform::clock::Clock>>,
        configure: impl FnOnce(&mut CustomersSettings),
    ) -> Self {
        let test_db = TestDb::new(backend);
        let nats = TestNats::start();
        let service = start::<Customers>(&test_db.url, nats.client().await, |instance, settings| {
            if let Some(clock) = clock {
                instance.clock = clock;
            }
            configure(settings)
        })
        .await;
        Self {
            client: CustomersServiceClient::new(service.channel()),
            db: service.db.clone(),
            nats,
            admin: token("admin-1", &[Role::Admin]),
            addr: service.addr,
            service: Some(service),
            test_db,
        }
    }

    /// A request as the administrator.
    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        authed(message, &self.admin)
    }

    /// Stops the service and waits for it, returning how it ended.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match self.service.take() {
            Some(service) => service.stop().await,
            None => Ok(()),
        }
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.service.as_ref().expect("running").stop_token()
    }

    pub async fn create(&self, party: pb::Party) -> pb::Party {
        fixtures::create_party(self.client.clone(), &self.admin, party).await
    }

    pub async fn get(&self, id: &str) -> Result<pb::Party, tonic::Status> {
        Ok(self
            .client
            .clone()
            .get_party(self.req(pb::GetPartyRequest { id: id.into() }))
            .await?
            .into_inner()
            .party
            .unwrap())
    }

    /// Every event the service published, once its outbox is drained.
    pub async fn events(&self) -> Vec<CloudEvent> {
        fixtures::published_events(&self.nats, &self.db, "CRM_CUSTOMERS").await
    }

    /// The event types published, in order.
    pub async fn event_types(&self) -> Vec<String> {
        fixtures::short_types(self.events().await, "customers")
    }

    /// Number of parties stored (any status).
    pub async fn party_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM parties")
            .fetch_one(self.db.pool())
            .await
            .unwrap()
    }
}

pub fn person(given: &str, family: &str, email: &str) -> pb::Party {
    pb::Party {
        contact_points: if email.is_empty() {
            vec![]
        } else {
            vec![fixtures::contact(ContactPointKind::Email, email)]
        },
        ..fixtures::person(given, family)
    }
}

/// Creates the edge `from` -> `to` of type `t`.
pub async fn relate(
    app: &TestApp,
    from: &pb::Party,
    to: &pb::Party,
    t: RelationshipType,
) -> pb::Relationship {
    app.client
        .clone()
        .create_relationship(app.req(pb::CreateRelationshipRequest {
            relationship: Some(pb::Relationship {
                from_party_id: from.id.clone(),
                to_party_id: to.id.clone(),
                r#type: t as i32,
                ..Default::default()
            }),
        }))
        .await
        .expect("create relationship")
        .into_inner()
        .relationship
        .unwrap()
}

pub fn phone(value: &str) -> pb::ContactPoint {
    fixtures::contact(ContactPointKind::Phone, value)
}

pub use fixtures::{mask, organization};

/// A token with extra claims.
pub fn token_for(user: &str, roles: &[Role], edit: impl FnOnce(&mut Claims)) -> String {
    let mut claims = Claims::new(user, roles, Duration::from_secs(3600));
    edit(&mut claims);
    token_with(claims)
}
