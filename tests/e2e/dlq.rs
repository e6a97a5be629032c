//! `crm dlq`: an operator lists what is parked, looks at one dead letter, and re-drives it into
//! the consumer that parked it.

use async_nats::jetstream;
use crm_testkit::TestNats;

fn crm_dlq(nats: &TestNats, args: &[&str]) -> String {
    let url = nats.url();
    crate::crm_succeeds(&[&["dlq"], args, &["--nats-url", &url]].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_shows_and_replays_dead_letters() {
    let nats = TestNats::start();
    let js = jetstream::new(nats.client().await);
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("customers"))
        .await
        .unwrap();
    // A party event parked by the sales consumer, as the consumer parks it.
    let mut headers = async_nats::HeaderMap::new();
    for (name, value) in [
        ("ce-id", "evt-1"),
        ("ce-type", "crm.customers.party.updated.v1"),
        ("ce-source", "/crm/customers"),
        ("ce-subject", "party-7"),
        ("ce-time", "2026-12-05T10:00:00Z"),
        ("ce-specversion", "1.0"),
        ("ce-datacontenttype", "application/protobuf"),
        ("crm-dlq-error", "no such territory"),
        ("crm-dlq-original-subject", "crm.customers.party.updated"),
        ("crm-dlq-consumer", "sales-customer-events"),
        ("crm-dlq-attempts", "5"),
        ("crm-dlq-parked-at", "2026-12-05T10:01:00Z"),
    ] {
        headers.insert(name, value);
    }
    js.publish_with_headers("crm.dlq.sales-customer-events", headers, "payload".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let listed = crm_dlq(&nats, &["list"]);
    let row = listed.lines().nth(1).expect("one dead letter");
    assert_eq!(
        row.split('\t').collect::<Vec<_>>(),
        vec![
            "1",
            "sales-customer-events",
            "crm.customers.party.updated.v1",
            "party-7",
            "2026-12-05T10:01:00Z",
            "5",
            "no such territory"
        ]
    );
    let shown = crm_dlq(&nats, &["show", "1"]);
    assert!(
        shown.contains("original subject: crm.customers.party.updated"),
        "{shown}"
    );

    let replayed = crm_dlq(&nats, &["replay", "--consumer", "sales-customer-events"]);
    assert!(
        replayed.contains("replayed 1: crm.customers.party.updated.v1 evt-1 into sales-customer-events"),
        "{replayed}"
    );
    assert_eq!(
        crm_dlq(&nats, &["list"]).lines().count(),
        1,
        "only the header left"
    );
    // Re-driven onto the consumer's own subject on the customers stream, without the parking
    // headers.
    let stream = js.get_stream("CRM_CUSTOMERS").await.unwrap();
    let redriven = stream
        .get_last_raw_message_by_subject("crm.customers.redrive.sales-customer-events")
        .await
        .unwrap();
    assert_eq!(redriven.headers.get("ce-id").unwrap().as_str(), "evt-1");
    assert!(redriven.headers.get("crm-dlq-error").is_none());
    assert_eq!(&redriven.payload[..], b"payload");
}
