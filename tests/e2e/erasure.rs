//! Erasure reaches the event log: once a party is erased, no stream, dead letter or outbox of
//! any service holds its name, e-mail address or phone number, whether they travelled in its own
//! events, in a lead of sales, in a bulk import's announcement or in a parked dead letter.

use std::time::Duration;

use async_nats::jetstream;
use crm::services::Service;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::pipeline_service_client::PipelineServiceClient;
use crm_testkit::{Backend, authed};
use futures::StreamExt as _;
use prost::Message as _;
use tonic::transport::Channel;

use crate::support::caught_up;

/// Every consumer of the suite, by the stream it reads.
const CONSUMERS: &[(&str, &str)] = &[
    ("customers", "sales-customer-events"),
    ("customers", "marketing-customer-events"),
    ("customers", "servicedesk-customer-events"),
    ("customers", "customers-erasures"),
    ("sales", "customers-sales-orders"),
    ("sales", "marketing-order-events"),
    ("sales", "partners-sales-events"),
    ("sales", "servicedesk-sales-events"),
    ("servicedesk", "customers-service-cases"),
];

/// What identifies a person: their name, e-mail address and phone number.
struct Person {
    name: String,
    email: String,
    phone: String,
}

impl Person {
    fn new(given: &str, tag: &str, digits: u32) -> Self {
        Self {
            name: format!("{given}{tag}"),
            email: format!("{}.{tag}@erasure.example", given.to_lowercase()),
            phone: format!("+1 415 555 {digits:04}"),
        }
    }

    fn party(&self) -> cpb::Party {
        let point = |kind: cpb::ContactPointKind, value: &str| cpb::ContactPoint {
            kind: kind as i32,
            value: value.into(),
            label: "home".into(),
            primary: true,
            ..Default::default()
        };
        cpb::Party {
            kind: cpb::PartyKind::Person as i32,
            given_name: self.name.clone(),
            family_name: "Erasable".into(),
            contact_points: vec![
                point(cpb::ContactPointKind::Email, &self.email),
                point(cpb::ContactPointKind::Phone, &self.phone),
            ],
            ..Default::default()
        }
    }

    /// Which of the person's identifiers `bytes` contain (the phone as given or as its digits).
    fn traces_in(&self, bytes: &[u8]) -> Vec<&'static str> {
        let digits: String = self.phone.chars().filter(char::is_ascii_digit).collect();
        let holds = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        [
            ("name", holds(&self.name)),
            ("e-mail", holds(&self.email)),
            ("phone", holds(&self.phone) || holds(&digits)),
        ]
        .into_iter()
        .filter_map(|(what, found)| found.then_some(what))
        .collect()
    }
}

/// Where `person` still shows: each stream message (stream, sequence, subject) and outbox row
/// (service) holding one of their identifiers.
async fn traces(
    outboxes: &[(Service, crm_storage::Db)],
    js: &jetstream::Context,
    person: &Person,
) -> Vec<String> {
    let mut found = Vec::new();
    for stream_name in [
        "CRM_CUSTOMERS",
        "CRM_SALES",
        "CRM_PARTNERS",
        "CRM_MARKETING",
        "CRM_SERVICEDESK",
        "CRM_DLQ",
    ] {
        let Ok(mut stream) = js.get_stream(stream_name).await else {
            continue;
        };
        let state = stream.info().await.unwrap().state.clone();
        for sequence in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            let headers = format!("{:?}", message.headers);
            for what in person
                .traces_in(&message.payload)
                .into_iter()
                .chain(person.traces_in(headers.as_bytes()))
            {
                found.push(format!(
                    "{what} in {stream_name} #{sequence} ({})",
                    message.subject
                ));
            }
        }
    }
    for (service, db) in outboxes {
        let payloads: Vec<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM crm_outbox")
            .fetch_all(db.pool())
            .await
            .unwrap();
        for payload in payloads {
            for what in person.traces_in(&payload) {
                found.push(format!("{what} in the {} outbox", service.name()));
            }
        }
    }
    found
}

async fn settled(js: &jetstream::Context) -> bool {
    for (domain, consumer) in CONSUMERS {
        if !caught_up(js, domain, consumer).await {
            return false;
        }
    }
    true
}

async fn create(gw: &Channel, token: &str, person: &Person) -> cpb::Party {
    CustomersServiceClient::new(gw.clone())
        .create_party(authed(
            cpb::CreatePartyRequest {
                party: Some(person.party()),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("CreateParty")
        .into_inner()
        .party
        .expect("the party")
}

/// Imports `people` in one run (one bulk announcement) and returns their ids.
async fn import(gw: &Channel, token: &str, tag: &str, people: &[&Person]) -> Vec<String> {
    let mut customers = CustomersServiceClient::new(gw.clone());
    let rows = people
        .iter()
        .enumerate()
        .map(|(i, p)| cpb::PartyImportRow {
            row: i as i64 + 1,
            external_id: format!("{tag}-{i}"),
            party: Some(p.party()),
            create_time: None,
        })
        .collect();
    let request = cpb::ImportPartiesRequest {
        options: Some(crm_proto::common::v1::ImportOptions {
            source: "erasure_test".into(),
            validate_only: false,
        }),
        rows,
    };
    customers
        .import_parties(authed(futures::stream::iter([request]), token))
        .await
        .expect("ImportParties");
    let found = customers
        .resolve_external_ids(authed(
            cpb::ResolveExternalIdsRequest {
                source: "erasure_test".into(),
                external_ids: (0..people.len()).map(|i| format!("{tag}-{i}")).collect(),
            },
            token,
        ))
        .await
        .expect("ResolveExternalIds")
        .into_inner()
        .parties;
    (0..people.len())
        .map(|i| {
            let external = format!("{tag}-{i}");
            found
                .iter()
                .find(|p| p.external_id == external)
                .map(|p| p.id.clone())
                .expect("an imported party")
        })
        .collect()
}

async fn erasure_reaches_every_stream_outbox_and_dead_letter(backend: Backend) {
    let suite = crate::support::start(backend, crate::support::gateway_settings()).await;
    let gw = suite.gateway();
    let admin = crm_testkit::token("admin-erasure", &[crm_auth::Role::Admin]);
    let js = jetstream::new(suite.nats.client().await);
    let mut outboxes = Vec::new();
    for service in Service::DOMAINS {
        outboxes.push((
            service,
            crm_storage::Db::connect(suite.database_url(service), 1)
                .await
                .unwrap(),
        ));
    }
    let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_string();
    let (erin, quinn, rosa) = (
        Person::new("Erin", &tag, 1001),
        Person::new("Quinn", &tag, 1002),
        Person::new("Rosa", &tag, 1003),
    );

    // Erin: created and changed one by one, and a lead of sales names her.
    let party = create(&gw, &admin, &erin).await;
    let mut changed = party.clone();
    changed.tags = vec!["vip".into()];
    CustomersServiceClient::new(gw.clone())
        .update_party(authed(
            cpb::UpdatePartyRequest {
                party: Some(changed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["tags".into()],
                }),
            },
            &admin,
        ))
        .await
        .expect("UpdateParty");
    PipelineServiceClient::new(gw.clone())
        .create_lead(authed(
            spb::CreateLeadRequest {
                lead: Some(spb::Lead {
                    source: spb::LeadSource::Manual as i32,
                    party_id: party.id.clone(),
                    contact_name: erin.name.clone(),
                    email: erin.email.clone(),
                    phone: erin.phone.clone(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("CreateLead");
    // Quinn and Rosa: imported together, announced in one bulk message.
    let imported = import(&gw, &admin, &tag, &[&quinn, &rosa]).await;
    // A letter a consumer parked from one of Erin's events.
    js.publish(
        format!("crm.dlq.sales-customer-events.{}", party.id),
        cpb::PartyCreated {
            party: Some(erin.party()),
        }
        .encode_to_vec()
        .into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    crm_testkit::eventually(Duration::from_secs(30), "every consumer settled", || async {
        settled(&js).await.then_some(())
    })
    .await;
    assert!(
        !traces(&outboxes, &js, &erin).await.is_empty() && !traces(&outboxes, &js, &quinn).await.is_empty(),
        "before the erasure, the event log holds both"
    );

    for id in [&party.id, &imported[0]] {
        CustomersServiceClient::new(gw.clone())
            .erase_party(authed(
                cpb::ErasePartyRequest {
                    id: id.clone(),
                    reason: "data subject request".into(),
                },
                &admin,
            ))
            .await
            .expect("EraseParty");
    }
    // The purges run in consumers on a shared, busy machine: allow them minutes, not seconds.
    let mut left = Vec::new();
    for _ in 0..1200 {
        left = [&erin, &quinn]
            .iter()
            .map(|p| traces(&outboxes, &js, p))
            .collect::<futures::stream::FuturesOrdered<_>>()
            .collect::<Vec<_>>()
            .await
            .concat();
        if left.is_empty() && settled(&js).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "personal data left after the erasure: {left:#?}");
    suite.shutdown().await;
}

crm_testkit::backend_tests!(erasure_reaches_every_stream_outbox_and_dead_letter);
