//! Consumers under faults: failures that pass, panics, slow handlers, dead letters that cannot
//! be parked, and dead letters re-driven into their consumer.

use super::*;

/// A consumer of the test stream named `durable` running `recorder`.
fn spawn_consumer(
    db: &Db,
    client: &async_nats::Client,
    durable: &str,
    recorder: &Recorder,
    tune: impl FnOnce(&mut ConsumerOptions),
) -> Running {
    let mut options = consumer_options();
    options.durable = durable.to_string();
    options.filter_subjects = vec!["crm.test.thing.happened".to_string()];
    tune(&mut options);
    Running::spawn(|stop| Consumer::new(db.clone(), client.clone(), options, recorder.clone()).run(stop))
}

/// The dead letters of `durable`.
async fn dead_letters(js: &jetstream::Context, durable: &str) -> Vec<crm_events::dlq::DeadLetter> {
    match js.get_stream(crm_events::DLQ_STREAM).await {
        Ok(_) => crm_events::dlq::list(js, Some(durable), 0, 100).await.unwrap(),
        Err(_) => Vec::new(),
    }
}

async fn failures(db: &Db) -> i64 {
    scalar(db, "SELECT COUNT(*) FROM crm_event_failures").await
}

/// A failure that may pass (here the pool timing out, as in a database failover) is retried for
/// as long as it lasts, well past the attempts that park an event failing for its own reasons,
/// and applies once when it passes.
async fn a_failure_that_may_pass_is_retried_without_counting(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    enqueue(&db, "k1", "flaky").await;
    enqueue(&db, "k2", "fine").await;
    let recorder = Recorder::default();
    // Twice the attempts that would park a poison.
    recorder.outage.store(6, Ordering::SeqCst);
    let consumer = spawn_consumer(&db, &client, "test-flaky", &recorder, |_| {});
    eventually(WAIT, "the flaky event applied", || async {
        effects(&db).await.contains(&"flaky".to_string()).then_some(())
    })
    .await;
    assert_eq!(effects(&db).await, vec!["fine".to_string(), "flaky".to_string()]);
    assert_eq!(
        recorder.outage.load(Ordering::SeqCst),
        0,
        "the outage outlasted max_attempts"
    );
    let js = jetstream::new(client.clone());
    assert!(dead_letters(&js, "test-flaky").await.is_empty(), "nothing parked");
    assert_eq!(failures(&db).await, 0, "no failure counted");
    let deferred = crm_testkit::metric_points("crm.consumer.deferred")
        .into_iter()
        .filter(|p| p.attributes.get("messaging.consumer").map(String::as_str) == Some("test-flaky"))
        .map(|p| p.value)
        .sum::<f64>();
    assert!(deferred >= 6.0, "the deferred deliveries counted: {deferred}");
    consumer.stop().await;
    relay.stop().await;
}

/// A handler that panics takes down neither its consumer nor the events after it: the panic is
/// the failure of its event, which is parked after its attempts.
async fn a_panicking_handler_is_contained_to_its_event(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    enqueue(&db, "k1", "fine-1").await;
    let panicking = enqueue(&db, "k2", "panic").await;
    enqueue(&db, "k3", "fine-2").await;
    let recorder = Recorder::default();
    let consumer = spawn_consumer(&db, &client, "test-recorder", &recorder, |_| {});
    let js = jetstream::new(client.clone());
    let parked = eventually(WAIT, "the panicking event parked", || async {
        dead_letters(&js, "test-recorder").await.into_iter().next()
    })
    .await;
    assert_eq!(parked.event_id, panicking);
    assert!(parked.error.contains("panicked"), "{}", parked.error);
    assert_eq!(parked.attempts, "3");
    eventually(WAIT, "the events around it applied", || async {
        (effects(&db).await.len() == 2).then_some(())
    })
    .await;
    assert_eq!(
        effects(&db).await,
        vec!["fine-1".to_string(), "fine-2".to_string()]
    );
    assert!(!consumer.task.is_finished(), "the consumer is still running");
    enqueue(&db, "k4", "fine-3").await;
    eventually(WAIT, "a later event applied", || async {
        (effects(&db).await.len() == 3).then_some(())
    })
    .await;
    consumer.stop().await;
    relay.stop().await;
}

/// A handler slower than the ack wait reports progress, so the server does not deliver its
/// message (or those waiting behind it) again meanwhile.
async fn a_handler_slower_than_the_ack_wait_is_not_delivered_again(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    // The whole backlog in the stream first, the slow event last: nothing waits behind it,
    // so a redelivery can only be of the slow event itself.
    for i in 0..5 {
        enqueue(&db, &format!("k{i}"), &format!("fine-{i}")).await;
    }
    enqueue(&db, "k5", "slow").await;
    let js = jetstream::new(client.clone());
    eventually(WAIT, "the backlog published", || async {
        let mut stream = js.get_stream("CRM_TEST").await.ok()?;
        (stream.info().await.ok()?.state.messages == 6).then_some(())
    })
    .await;
    let recorder = Recorder {
        slow: Duration::from_millis(3_500),
        ..Recorder::default()
    };
    let consumer = spawn_consumer(&db, &client, "test-recorder", &recorder, |o| {
        o.ack_wait = Duration::from_secs(1);
    });
    eventually(WAIT, "every event applied", || async {
        (effects(&db).await.len() == 6).then_some(())
    })
    .await;
    let info = js
        .get_stream("CRM_TEST")
        .await
        .unwrap()
        .consumer_info("test-recorder")
        .await
        .unwrap();
    assert_eq!(info.num_redelivered, 0, "nothing delivered twice");
    consumer.stop().await;
    relay.stop().await;
}

/// The same event parked by two consumers is two dead letters: each names its consumer.
async fn an_event_parked_by_two_consumers_is_two_dead_letters(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    let poison = enqueue(&db, "k1", "poison").await;
    let (a, b) = (Recorder::default(), Recorder::default());
    let consumer_a = spawn_consumer(&db, &client, "test-a", &a, |_| {});
    let consumer_b = spawn_consumer(&db, &client, "test-b", &b, |_| {});
    let js = jetstream::new(client.clone());
    let all = eventually(WAIT, "both dead letters", || async {
        let all = crm_events::dlq::list(&js, None, 0, 10).await.ok()?;
        (all.len() >= 2).then_some(all)
    })
    .await;
    let mut parked: Vec<(String, String)> = all
        .iter()
        .map(|l| (l.consumer.clone(), l.event_id.clone()))
        .collect();
    parked.sort();
    assert_eq!(
        parked,
        vec![
            ("test-a".to_string(), poison.clone()),
            ("test-b".to_string(), poison)
        ]
    );
    consumer_a.stop().await;
    consumer_b.stop().await;
    relay.stop().await;
}

/// When the dead-letter stream cannot take a message, the message is not dropped: it comes
/// again and is parked once the stream is back.
async fn a_dead_letter_that_cannot_be_parked_comes_again(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    let recorder = Recorder::default();
    let consumer = spawn_consumer(&db, &client, "test-recorder", &recorder, |_| {});
    // The consumer has made its streams; then the dead-letter stream goes away.
    eventually(WAIT, "the consumer subscribed", || async {
        js.get_stream("CRM_TEST")
            .await
            .ok()?
            .consumer_info("test-recorder")
            .await
            .ok()
    })
    .await;
    js.delete_stream(crm_events::DLQ_STREAM).await.unwrap();
    // Published directly: the relay would make the dead-letter stream again.
    let poison = publish(&js, "poison").await;
    // Tried past its attempts, the parking failing each time.
    eventually(WAIT, "the attempts used up", || async {
        (recorder.poison_calls.load(Ordering::SeqCst) >= 5).then_some(())
    })
    .await;
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("test"))
        .await
        .unwrap();
    let parked = eventually(WAIT, "parked once the stream is back", || async {
        dead_letters(&js, "test-recorder").await.into_iter().next()
    })
    .await;
    assert_eq!(parked.event_id, poison);
    consumer.stop().await;
}

/// Publishes an event saying `text` on the test stream as the relay would; its id.
async fn publish(js: &jetstream::Context, text: &str) -> String {
    let event = CloudEvent {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: "crm.test.thing.happened.v1".into(),
        source: "/crm/test".into(),
        subject: "k1".into(),
        time: chrono::Utc::now().to_rfc3339(),
        traceparent: None,
        sequence: None,
        data: prost::Message::encode_to_vec(&payload(text)).into(),
    };
    js.publish_with_headers("crm.test.thing.happened", event.to_headers(), event.data.clone())
        .await
        .unwrap()
        .await
        .unwrap();
    event.id
}

/// A dead letter re-driven once its cause is fixed is applied by the consumer that parked it,
/// and by no other consumer of its stream; it leaves the dead-letter stream.
async fn a_dead_letter_is_replayed_into_its_consumer_alone(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    let poison = enqueue(&db, "k1", "poison").await;
    let failing = Recorder::default();
    let other = Recorder::default();
    other.cured.store(true, Ordering::SeqCst);
    let consumer_a = spawn_consumer(&db, &client, "test-a", &failing, |_| {});
    let consumer_b = spawn_consumer(&db, &client, "test-b", &other, |_| {});
    let js = jetstream::new(client.clone());
    let parked = eventually(WAIT, "parked by the failing consumer", || async {
        dead_letters(&js, "test-a").await.into_iter().next()
    })
    .await;
    assert_eq!(parked.event_id, poison);
    assert_eq!(
        effects(&db).await,
        vec!["poison".to_string()],
        "the other consumer applied it"
    );
    let other_calls = other.calls.load(Ordering::SeqCst);

    failing.cured.store(true, Ordering::SeqCst);
    let replayed = crm_events::dlq::replay(&js, parked.sequence).await.unwrap();
    assert_eq!(replayed.consumer, "test-a");
    eventually(WAIT, "the replayed event applied", || async {
        (effects(&db).await.len() == 2).then_some(())
    })
    .await;
    assert!(dead_letters(&js, "test-a").await.is_empty(), "no longer parked");
    assert_eq!(failures(&db).await, 0, "its failed attempts forgotten");
    // Time for a stray delivery to the other consumer to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        other.calls.load(Ordering::SeqCst),
        other_calls,
        "the other consumer never saw it again"
    );
    assert_eq!(effects(&db).await.len(), 2);
    let missing = crm_events::dlq::replay(&js, parked.sequence).await.unwrap_err();
    assert!(missing.to_string().contains("no dead letter"), "{missing:#}");
    consumer_a.stop().await;
    consumer_b.stop().await;
    relay.stop().await;
}

/// An event carrying a party's personal data is published on `<subject>.<party>`; consumers of
/// the plain subject receive it; parked, its dead letter names the party; re-driven, it keeps
/// the party; and erasing the party purges every copy: the outbox row, the stream's messages
/// (the re-driven one too) and the dead letter.
async fn a_personal_event_is_purged_wherever_it_went(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let person = "p-1";
    let mut tx = db.begin().await.unwrap();
    outbox::enqueue(
        &mut tx,
        NewEvent::new("test", "thing.happened", "k1", &payload("poison")).about_person(person),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let relay = Running::relay(&db, &client);
    let failing = Recorder::default();
    let consumer = spawn_consumer(&db, &client, "test-a", &failing, |_| {});
    let js = jetstream::new(client.clone());
    let parked = eventually(WAIT, "parked", || async {
        dead_letters(&js, "test-a").await.into_iter().next()
    })
    .await;
    assert_eq!(parked.original_subject, "crm.test.thing.happened.p-1");
    let letter = js
        .get_stream(crm_events::DLQ_STREAM)
        .await
        .unwrap()
        .get_raw_message(parked.sequence)
        .await
        .unwrap();
    assert_eq!(letter.subject.as_str(), "crm.dlq.test-a.p-1");

    failing.cured.store(true, Ordering::SeqCst);
    crm_events::dlq::replay(&js, parked.sequence).await.unwrap();
    eventually(WAIT, "the re-driven event applied", || async {
        (effects(&db).await.len() == 1).then_some(())
    })
    .await;
    // Parked again, to be purged.
    let mut h = async_nats::HeaderMap::new();
    h.insert("crm-dlq-consumer", "test-a");
    js.publish_with_headers("crm.dlq.test-a.p-1", h, "a copy".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let mut tx = db.begin().await.unwrap();
    crm_events::privacy::forget(&mut tx, &js, "test", person)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM crm_outbox").await,
        0,
        "the outbox row went"
    );
    let mut stream = js.get_stream("CRM_TEST").await.unwrap();
    let left = stream.info().await.unwrap().state.messages;
    assert_eq!(left, 0, "the event and its re-driven copy were purged");
    assert!(
        dead_letters(&js, "test-a").await.is_empty(),
        "the dead letter was purged"
    );
    consumer.stop().await;
    relay.stop().await;
}

/// An outbox row the broker refuses (a payload over its size limit) is set aside after its
/// attempts, and the rows after it flow.
async fn an_outbox_row_the_broker_refuses_is_set_aside(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    enqueue(&db, "k1", "fine-1").await;
    let huge = "x".repeat(2 << 20);
    enqueue(&db, "k2", &huge).await;
    enqueue(&db, "k3", "fine-2").await;
    let relay = Running::relay(&db, &client);
    let js = jetstream::new(client.clone());
    eventually(WAIT, "the stream made", || async {
        js.get_stream("CRM_TEST").await.ok()
    })
    .await;
    let published = read_all(&client, 2).await;
    let texts: Vec<String> = published
        .iter()
        .map(|m| <Text as prost::Message>::decode(m.payload.clone()).unwrap().value)
        .collect();
    assert_eq!(texts, vec!["fine-1".to_string(), "fine-2".to_string()]);
    let (parked, attempts): (i64, i64) = {
        let row = sqlx::query("SELECT COUNT(*) AS parked, MAX(attempts) AS attempts FROM crm_outbox WHERE parked_at IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
        use sqlx::Row as _;
        (row.get("parked"), row.get("attempts"))
    };
    assert_eq!(
        (parked, attempts),
        (1, 5),
        "the refused row set aside after 5 attempts"
    );
    assert_eq!(unsent(&db).await, 1, "kept, unsent, for an operator");
    let counted = crm_testkit::metric_points("crm.outbox.parked")
        .into_iter()
        .any(|p| {
            p.attributes.get("messaging.destination").map(String::as_str) == Some("CRM_TEST")
                && p.value >= 1.0
        });
    assert!(counted, "the row set aside is counted");
    relay.stop().await;
}

/// The inbox forgets events older than the stream keeps (they cannot come again), and keeps
/// the others.
async fn the_inbox_forgets_events_the_stream_no_longer_keeps(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let day = 86_400_000_000i64;
    let now = chrono::Utc::now().timestamp_micros();
    for (id, age_days) in [("old", 32), ("recent", 29)] {
        sqlx::query(
            "INSERT INTO crm_inbox (consumer, event_id, event_type, handled_at) VALUES ($1, $2, $3, $4)",
        )
        .bind("test-recorder")
        .bind(id)
        .bind("crm.test.thing.happened.v1")
        .bind(now - age_days * day)
        .execute(db.pool())
        .await
        .unwrap();
    }
    let relay = Running::relay(&db, &client);
    let left: Vec<String> = eventually(WAIT, "the old inbox row purged", || async {
        let ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM crm_inbox ORDER BY event_id")
            .fetch_all(db.pool())
            .await
            .ok()?;
        (ids.len() == 1).then_some(ids)
    })
    .await;
    assert_eq!(left, vec!["recent".to_string()]);
    relay.stop().await;
}

async fn lease_token(db: &Db) -> i64 {
    scalar(db, "SELECT token FROM crm_relay_lease WHERE name = 'outbox'").await
}

/// Two relays on one outbox (two replicas of a service): one publishes while the other waits;
/// when the publishing one dies without letting go, the other takes over once the lease
/// expires, and every event is published once, in order.
async fn a_second_relay_takes_over_from_one_that_died(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = || {
        Relay::new(db.clone(), client.clone(), crm_events::StreamSpec::new("test")).with_options(
            RelayOptions {
                poll_interval: Duration::from_millis(20),
                max_backoff: Duration::from_millis(300),
                publish_timeout: Duration::from_secs(1),
                lease_ttl: Duration::from_secs(1),
                ..Default::default()
            },
        )
    };
    let first = tokio::spawn(relay().run(CancellationToken::new()));
    eventually(WAIT, "the first relay leads", || async {
        (lease_token(&db).await == 1).then_some(())
    })
    .await;
    let second_stop = CancellationToken::new();
    let second = tokio::spawn(relay().run(second_stop.clone()));
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(enqueue(&db, &format!("k{i}"), &format!("before-{i}")).await);
    }
    eventually(WAIT, "published by the first", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;
    assert_eq!(lease_token(&db).await, 1, "the second relay waited");
    // The leader dies without giving the lease up.
    first.abort();
    let _ = first.await;
    for i in 5..10 {
        ids.push(enqueue(&db, &format!("k{i}"), &format!("after-{i}")).await);
    }
    eventually(WAIT, "published by the second", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;
    assert_eq!(lease_token(&db).await, 2, "the second relay took the lease over");
    let published: Vec<String> = read_all(&client, 10)
        .await
        .iter()
        .map(|m| m.headers.as_ref().unwrap().get("ce-id").unwrap().to_string())
        .collect();
    assert_eq!(published, ids, "every event once, in order");
    second_stop.cancel();
    second.await.unwrap().unwrap();
}

/// Events committed while no relay runs (the service died between commit and publish) are
/// published when one starts again; a row published again after the stream's duplicate window
/// (the relay died after the broker stored it but before marking it sent, and came back late) is
/// stored twice by the stream and still applied once. Every effect once, in order.
async fn events_survive_a_crash_between_commit_and_publish(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(enqueue(&db, &format!("k{i}"), &format!("committed-{i}")).await);
    }
    let spec = crm_events::StreamSpec {
        duplicate_window: Duration::from_secs(1),
        ..crm_events::StreamSpec::new("test")
    };
    let relay = || {
        let (db, client, spec) = (db.clone(), client.clone(), spec.clone());
        Running::spawn(move |stop| {
            Relay::new(db, client, spec)
                .with_options(RelayOptions {
                    poll_interval: Duration::from_millis(20),
                    ..Default::default()
                })
                .run(stop)
        })
    };
    let running = relay();
    eventually(WAIT, "published after the restart", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;
    running.stop().await;

    // The first row once more, past the duplicate window.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sqlx::query("UPDATE crm_outbox SET sent_at = NULL WHERE event_id = $1")
        .bind(&ids[0])
        .execute(db.pool())
        .await
        .unwrap();
    let running = relay();
    let published: Vec<String> = read_all(&client, 4)
        .await
        .iter()
        .map(|m| m.headers.as_ref().unwrap().get("ce-id").unwrap().to_string())
        .collect();
    assert_eq!(
        published,
        [&ids[..], &ids[..1]].concat(),
        "the stream kept the late copy"
    );

    let recorder = Recorder::default();
    let consumer = spawn_consumer(&db, &client, "test-recorder", &recorder, |_| {});
    let js = jetstream::new(client.clone());
    settled(&js, "test-recorder", 4, "every message settled").await;
    println!(
        "published {}, applied {}",
        published.len(),
        recorder.calls.load(Ordering::SeqCst)
    );
    assert_eq!(
        effects(&db).await,
        ["committed-0", "committed-1", "committed-2"],
        "each event applied once"
    );
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        3,
        "the late copy never reached the handler"
    );
    consumer.stop().await;
    running.stop().await;
}

backend_tests!(
    events_survive_a_crash_between_commit_and_publish,
    a_second_relay_takes_over_from_one_that_died,
    the_inbox_forgets_events_the_stream_no_longer_keeps,
    an_outbox_row_the_broker_refuses_is_set_aside,
    a_failure_that_may_pass_is_retried_without_counting,
    a_panicking_handler_is_contained_to_its_event,
    a_handler_slower_than_the_ack_wait_is_not_delivered_again,
    an_event_parked_by_two_consumers_is_two_dead_letters,
    a_dead_letter_that_cannot_be_parked_comes_again,
    a_dead_letter_is_replayed_into_its_consumer_alone,
    a_personal_event_is_purged_wherever_it_went,
);

/// A stream is made with the settings' size limit and refuses new events when full (they wait
/// in the outbox) rather than drop old ones; a service starting again with smaller settings
/// leaves an operator's larger limit as it is.
#[tokio::test]
async fn an_operator_s_stream_settings_survive_a_restart() {
    let nats = TestNats::start();
    let js = jetstream::new(nats.client().await);
    let settings = crm_events::StreamSettings {
        replicas: 1,
        max_mib: 64,
    };
    let spec = crm_events::StreamSpec::new("test").with(&settings);
    crm_events::ensure_stream(&js, &spec).await.unwrap();
    let mut stream = js.get_stream("CRM_TEST").await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    assert_eq!(config.max_bytes, 64 << 20);
    assert_eq!(config.discard, jetstream::stream::DiscardPolicy::New);
    // The operator raises the limit.
    config.max_bytes = 256 << 20;
    js.update_stream(config).await.unwrap();
    crm_events::ensure_stream(&js, &spec).await.unwrap();
    let kept = stream.info().await.unwrap().config.max_bytes;
    assert_eq!(kept, 256 << 20, "the operator's limit kept");
}

/// The database goes away while a backlog is applied (its connections cut, new ones refused):
/// the consumer pauses, takes up again when it is back, and applies every event once; nothing
/// is parked. (PostgreSQL: a SQLite file cannot be taken away from outside.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_during_consumption_loses_and_parks_nothing() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let (test_db, db) = setup(Backend::Postgres).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("test"))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(publish(&js, &format!("fine-{i:03}")).await);
    }
    let recorder = Recorder {
        // Slow enough that the outage falls in the middle of the backlog.
        pace: Duration::from_millis(10),
        ..Recorder::default()
    };
    let consumer = spawn_consumer(&db, &client, "test-outage", &recorder, |_| {});
    eventually(WAIT, "the backlog under way", || async {
        (effects(&db).await.len() >= 20).then_some(())
    })
    .await;
    crm_testkit::allow_connections(&test_db.url, false).await;
    // Long enough for the consumer to fail on every kind of error an outage gives.
    tokio::time::sleep(Duration::from_secs(3)).await;
    crm_testkit::allow_connections(&test_db.url, true).await;
    eventually(WAIT, "every event applied", || async {
        (effects(&db).await.len() >= 200).then_some(())
    })
    .await;
    let applied = effects(&db).await;
    let expected: Vec<String> = (0..200).map(|i| format!("fine-{i:03}")).collect();
    assert_eq!(applied, expected, "each event once");
    assert!(
        dead_letters(&js, "test-outage").await.is_empty(),
        "nothing parked"
    );
    assert_eq!(failures(&db).await, 0, "no failure counted");
    consumer.stop().await;
}
