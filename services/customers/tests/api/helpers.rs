//! A customers service on port 0 with its own database and nats-server, and real clients.

pub use crm_testkit::violated;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm_auth::{Claims, Role};
use crm_customers::{Customers, CustomersSettings};
use crm_events::CloudEvent;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::customers::v1::{self as pb, ContactPointKind, PartyKind};
use crm_storage::Db;
use crm_testkit::{Backend, Running, TestDb, TestNats, authed, eventually, start, token, token_with};
use futures::StreamExt as _;
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
        self.client
            .clone()
            .create_party(self.req(pb::CreatePartyRequest {
                party: Some(party),
                ..Default::default()
            }))
            .await
            .expect("create party")
            .into_inner()
            .party
            .unwrap()
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
        eventually(Duration::from_secs(20), "outbox drained", || async {
            let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL")
                .fetch_one(self.db.pool())
                .await
                .ok()?;
            (unsent == 0).then_some(())
        })
        .await;
        let js = jetstream::new(self.nats.client().await);
        let Ok(mut stream) = js.get_stream("CRM_CUSTOMERS").await else {
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

    /// The event types published, in order.
    pub async fn event_types(&self) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .map(|e| {
                e.event_type
                    .trim_start_matches("crm.customers.")
                    .trim_end_matches(".v1")
                    .to_string()
            })
            .collect()
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
        kind: PartyKind::Person as i32,
        given_name: given.into(),
        family_name: family.into(),
        contact_points: if email.is_empty() {
            vec![]
        } else {
            vec![pb::ContactPoint {
                kind: ContactPointKind::Email as i32,
                value: email.into(),
                ..Default::default()
            }]
        },
        ..Default::default()
    }
}

pub fn organization(name: &str) -> pb::Party {
    pb::Party {
        kind: PartyKind::Organization as i32,
        organization_name: name.into(),
        ..Default::default()
    }
}

pub fn phone(value: &str) -> pb::ContactPoint {
    pb::ContactPoint {
        kind: ContactPointKind::Phone as i32,
        value: value.into(),
        ..Default::default()
    }
}

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// A token with extra claims.
pub fn token_for(user: &str, roles: &[Role], edit: impl FnOnce(&mut Claims)) -> String {
    let mut claims = Claims::new(user, roles, Duration::from_secs(3600));
    edit(&mut claims);
    token_with(claims)
}
