//! Recovery after a restore: a consumer rewound to the point a database was restored to, the
//! outbox published again after the streams lost their messages, and the streams' configuration
//! restored from a backup.

use async_nats::jetstream::consumer::{self, DeliverPolicy};
use crm_events::recovery;

use super::*;

fn recorder_consumer(db: &Db, client: &async_nats::Client, recorder: &Recorder) -> Running {
    Running::spawn(|stop| {
        Consumer::new(db.clone(), client.clone(), consumer_options(), recorder.clone()).run(stop)
    })
}

/// Deletes what applying `payloads` left in the database, as a restore to a point before they
/// were applied does.
async fn forget(db: &Db, payloads: &[&str]) {
    for payload in payloads {
        sqlx::query(
            "DELETE FROM crm_inbox WHERE event_id IN (SELECT event_id FROM effects WHERE payload = $1)",
        )
        .bind(*payload)
        .execute(db.pool())
        .await
        .unwrap();
        sqlx::query("DELETE FROM effects WHERE payload = $1")
            .bind(*payload)
            .execute(db.pool())
            .await
            .unwrap();
    }
}

/// The database restored to a point after "b" was applied: "c" and "d" are forgotten, though
/// the consumer had acknowledged them. Rewound to a time before "b", the consumer delivers b, c
/// and d again; b is recognised by the inbox, c and d are applied once more.
async fn a_consumer_rewound_after_a_restore_applies_what_the_database_lost(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    let relay = Running::relay(&db, &client);
    let consumer = recorder_consumer(&db, &client, &Recorder::default());
    enqueue(&db, "p1", "a").await;
    settled(&js, "test-recorder", 1, "a applied").await;
    let since = chrono::Utc::now();
    for text in ["b", "c", "d"] {
        enqueue(&db, "p1", text).await;
    }
    settled(&js, "test-recorder", 4, "b, c and d applied").await;
    consumer.stop().await;
    forget(&db, &["c", "d"]).await;
    assert_eq!(effects(&db).await, ["a", "b"]);

    let pending = recovery::rewind(&js, "CRM_TEST", "test-recorder", since)
        .await
        .unwrap();
    assert_eq!(pending, 3, "b, c and d are delivered again");
    let info = js
        .get_stream("CRM_TEST")
        .await
        .unwrap()
        .consumer_info("test-recorder")
        .await
        .unwrap();
    assert!(matches!(
        info.config.deliver_policy,
        DeliverPolicy::ByStartTime { .. }
    ));
    assert_eq!(
        info.config.ack_wait,
        consumer_options().ack_wait,
        "the rest of its configuration is kept"
    );

    // The service starts again with its usual options: the consumer keeps where it starts.
    let recorder = Recorder::default();
    let consumer = recorder_consumer(&db, &client, &recorder);
    settled(&js, "test-recorder", 4, "the rewound events handled").await;
    assert_eq!(effects(&db).await, ["a", "b", "c", "d"]);
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        2,
        "b was in the inbox and not applied again"
    );
    consumer.stop().await;
    relay.stop().await;
}

/// The stream is lost with "c", published but not yet applied. Its producer's outbox hands "b"
/// and "c" to the relay again; the consumer, on the stream made anew, applies c and skips b.
async fn events_the_streams_lost_flow_again_from_the_outbox(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    let relay = Running::relay(&db, &client);
    let consumer = recorder_consumer(&db, &client, &Recorder::default());
    enqueue(&db, "p1", "a").await;
    settled(&js, "test-recorder", 1, "a applied").await;
    let since = chrono::Utc::now();
    enqueue(&db, "p1", "b").await;
    settled(&js, "test-recorder", 2, "b applied").await;
    consumer.stop().await;
    enqueue(&db, "p1", "c").await;
    eventually(WAIT, "c published", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;
    relay.stop().await;
    js.delete_stream("CRM_TEST").await.unwrap();

    assert_eq!(recovery::republish(&db, since).await.unwrap(), 2);
    assert_eq!(unsent(&db).await, 2);
    let relay = Running::relay(&db, &client);
    let recorder = Recorder::default();
    let consumer = recorder_consumer(&db, &client, &recorder);
    settled(&js, "test-recorder", 2, "the published again handled").await;
    assert_eq!(effects(&db).await, ["a", "b", "c"]);
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        1,
        "only c was applied; b was in the inbox"
    );
    assert_eq!(
        recovery::republish(&db, chrono::Utc::now()).await.unwrap(),
        0,
        "nothing written since now"
    );
    consumer.stop().await;
    relay.stop().await;
}

backend_tests!(
    a_consumer_rewound_after_a_restore_applies_what_the_database_lost,
    events_the_streams_lost_flow_again_from_the_outbox,
);

/// An operator's settings and the consumers' positions survive a lost consumer and a lost
/// stream.
#[tokio::test]
async fn the_streams_configuration_and_positions_are_restored_from_a_backup() {
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    let settings = crm_events::StreamSettings {
        replicas: 1,
        max_mib: 64,
    };
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("test").with(&settings))
        .await
        .unwrap();
    for i in 0..3 {
        js.publish("crm.test.thing.happened", format!("{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let stream = js.get_stream("CRM_TEST").await.unwrap();
    let reader: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("reader".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = reader.fetch().max_messages(2).messages().await.unwrap();
    while let Some(message) = batch.next().await {
        message.unwrap().double_ack().await.unwrap();
    }

    let backup = recovery::backup(&js).await.unwrap();
    let json = serde_json::to_string_pretty(&backup).unwrap();
    let backup: recovery::StreamsBackup = serde_json::from_str(&json).unwrap();
    let saved = &backup.streams["CRM_TEST"];
    assert_eq!(saved.last_sequence, 3);
    assert_eq!(saved.config.max_bytes, 64 << 20);
    assert_eq!(saved.consumers["reader"].ack_floor, 2);
    assert!(backup.streams.contains_key(crm_events::DLQ_STREAM));

    // The consumer lost: it comes back after what it had acknowledged.
    stream.delete_consumer("reader").await.unwrap();
    let restored = recovery::restore(&js, &backup).await.unwrap();
    assert_eq!(restored.consumers_created, [("reader".to_string(), 3)]);
    assert!(restored.streams_created.is_empty());
    let reader: consumer::PullConsumer = stream.get_consumer("reader").await.unwrap();
    let next = reader
        .fetch()
        .max_messages(1)
        .messages()
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.info().unwrap().stream_sequence, 3);

    // The stream lost: it comes back as the operator had it, its consumer from its beginning.
    js.delete_stream("CRM_TEST").await.unwrap();
    let restored = recovery::restore(&js, &backup).await.unwrap();
    assert_eq!(restored.streams_created, ["CRM_TEST"]);
    assert_eq!(restored.consumers_created, [("reader".to_string(), 1)]);
    let mut stream = js.get_stream("CRM_TEST").await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert_eq!(config.max_bytes, 64 << 20);
    assert_eq!(config.subjects, ["crm.test.>"]);
    assert_eq!(config.max_age, saved.config.max_age);
    assert_eq!(config.discard, saved.config.discard);

    // Restored again, nothing changes.
    assert_eq!(
        recovery::restore(&js, &backup).await.unwrap(),
        recovery::Restored::default()
    );
}
