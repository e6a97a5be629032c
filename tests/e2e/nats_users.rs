//! Every service on its own NATS user over TLS, as a deployment runs them (see
//! `crm::nats_users`): the customer journey still crosses every service by events, and a
//! service can neither publish another domain's events nor read a stream through a consumer it
//! did not declare.

use std::time::Duration;

use async_nats::jetstream;
use crm::services::Service;
use crm_proto::partners::v1 as ppb;
use crm_testkit::{TestNats, TestNatsUser};

use crate::journey::{assert_customer_360, run_journey, seed_purchase_history, start_micros};

/// The journey needs every consumer of every service: with each service on its own user, each
/// one's permissions are enough for what it does. Every call (client to gateway, gateway to the
/// services, sales to customers) goes over mutual TLS, as in a deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_runs_over_tls_with_one_nats_user_per_service() {
    crm_testkit::init_logging();
    let suite = crate::support::start_secured(crm_testkit::Backend::Sqlite).await;
    suite.clock.set(start_micros());
    seed_purchase_history(&suite.nats).await;
    let admin = crm_testkit::token("admin-nats-users", &[crm_auth::Role::Admin]);
    let journey = run_journey(suite.gateway(), &suite.clock, &admin).await;
    assert_customer_360(suite.gateway(), &admin, &journey).await;
    suite.shutdown().await;
}

/// The secured server with the sales service's user, and the stream of partners as the
/// partners service keeps it.
async fn sales_beside_partners() -> (TestNats, jetstream::Context, jetstream::Context) {
    let ca = crm_tls::testing::TestCa::new();
    let sales = TestNatsUser::new("sales", Some(crm::nats_users::permissions(Service::Sales)));
    let nats = TestNats::start_secured(&ca, &[sales]);
    let admin = jetstream::new(nats.client().await);
    for domain in ["partners", "customers", "sales"] {
        crm_events::ensure_stream(&admin, &crm_events::StreamSpec::new(domain))
            .await
            .unwrap();
    }
    let mut as_sales = jetstream::new(nats.connect_as("sales", &Service::Sales.nats_client_name()).await);
    // A refused request is never answered: give up on it soon.
    as_sales.set_timeout(Duration::from_secs(2));
    (nats, admin, as_sales)
}

async fn messages_in(admin: &jetstream::Context, domain: &str) -> u64 {
    let mut stream = admin
        .get_stream(crm_events::StreamSpec::new(domain).name())
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_cannot_publish_another_domain_s_events() {
    let (_nats, admin, sales) = sales_beside_partners().await;
    let forged = crm_events::NewEvent::new(
        "partners",
        "partner_order.submitted",
        "forged",
        &ppb::PartnerOrder::default(),
    );
    let refused = async |subject: String| match sales
        .publish(subject.clone(), forged.payload.clone().into())
        .await
    {
        Ok(ack) => ack.await.is_err(),
        Err(_) => true,
    };
    assert!(
        refused(forged.nats_subject.clone()).await,
        "sales published {}",
        forged.nats_subject
    );
    assert!(
        refused("crm.customers.party.erased.v1".into()).await,
        "sales published a customers event"
    );
    assert_eq!(
        messages_in(&admin, "partners").await,
        0,
        "nothing reached the partners stream"
    );
    assert_eq!(
        messages_in(&admin, "customers").await,
        0,
        "nothing reached the customers stream"
    );

    // What it may do still works on the same connection: the refusals were for the subjects.
    sales
        .publish("crm.sales.order.placed.v1", bytes::Bytes::from_static(b"{}"))
        .await
        .expect("publishing its own event")
        .await
        .expect("its own stream acknowledges it");
    assert_eq!(messages_in(&admin, "sales").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_reads_only_through_the_consumers_it_declared() {
    let (_nats, _admin, sales) = sales_beside_partners().await;
    let customers = crm_events::StreamSpec::new("customers").name();
    let stream = sales
        .get_stream(&customers)
        .await
        .expect("its stream info is readable");
    let spy = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("sales-spy".into()),
            ..Default::default()
        })
        .await;
    assert!(spy.is_err(), "a consumer it did not declare was made");
    let declared = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("sales-customer-events".into()),
            ..Default::default()
        })
        .await;
    assert!(declared.is_ok(), "its own consumer: {declared:?}");
}
