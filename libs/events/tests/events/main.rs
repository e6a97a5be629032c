//! The event mechanism against real databases (SQLite and PostgreSQL) and a real nats-server.

mod faults;
mod recovery;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm_events::{
    CloudEvent, Consumer, ConsumerOptions, EventHandler, NewEvent, Relay, RelayOptions, outbox,
};
use crm_storage::{Db, Tx};
use crm_testkit::{Backend, TestDb, TestNats, backend_tests, eventually};
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

/// Test payload.
#[derive(Clone, PartialEq, prost::Message)]
struct Text {
    #[prost(string, tag = "1")]
    value: String,
}

const WAIT: Duration = Duration::from_secs(20);

async fn setup(backend: Backend) -> (TestDb, Db) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    db.migrate(&crm_events::MIGRATIONS).await.unwrap();
    sqlx::query("CREATE TABLE effects (event_id TEXT NOT NULL, payload TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    (test_db, db)
}

fn payload(text: &str) -> Text {
    Text {
        value: text.to_string(),
    }
}

async fn enqueue(db: &Db, key: &str, text: &str) -> String {
    let mut tx = db.begin().await.unwrap();
    let id = outbox::enqueue(
        &mut tx,
        NewEvent::new("test", "thing.happened", key, &payload(text)),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn fast_relay(db: &Db, client: async_nats::Client) -> Relay {
    Relay::new(db.clone(), client, crm_events::StreamSpec::new("test")).with_options(RelayOptions {
        poll_interval: Duration::from_millis(20),
        max_backoff: Duration::from_millis(300),
        publish_timeout: Duration::from_secs(1),
        backlog_interval: Duration::from_millis(50),
        ..Default::default()
    })
}

/// A worker of a test (a relay, a consumer) running until [`Running::stop`], which checks that
/// it ended well.
struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(stop.clone()));
        Self { stop, task }
    }

    /// The test stream's relay, polling often.
    fn relay(db: &Db, client: &async_nats::Client) -> Self {
        Self::spawn(|stop| fast_relay(db, client.clone()).run(stop))
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// The outbox backlog of the test stream as last reported: (unsent rows, oldest age in s).
fn reported_backlog() -> Option<(f64, f64)> {
    let of_test_stream = |name: &str| {
        crm_testkit::metric_points(name)
            .into_iter()
            .find(|p| p.attributes.get("messaging.destination").map(String::as_str) == Some("CRM_TEST"))
            .map(|p| p.value)
    };
    Some((
        of_test_stream("crm.outbox.pending")?,
        of_test_stream("crm.outbox.oldest_age")?,
    ))
}

/// Reads every message of the test stream from the start.
async fn read_all(client: &async_nats::Client, expected: usize) -> Vec<async_nats::jetstream::Message> {
    let js = jetstream::new(client.clone());
    let stream = js.get_stream("CRM_TEST").await.unwrap();
    let consumer = stream.create_consumer(pull::Config::default()).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    while out.len() < expected {
        let next = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("timed out reading the stream");
        out.push(next.unwrap().unwrap());
    }
    // Nothing beyond what was expected.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), messages.next())
            .await
            .is_err(),
        "unexpected extra event"
    );
    out
}

/// Waits until `durable` of the test stream has acknowledged every message up to `sequence`.
async fn settled(js: &jetstream::Context, durable: &str, sequence: u64, what: &str) {
    eventually(WAIT, what, || async {
        let info = js
            .get_stream("CRM_TEST")
            .await
            .ok()?
            .consumer_info(durable)
            .await
            .ok()?;
        (info.ack_floor.stream_sequence >= sequence).then_some(())
    })
    .await;
}

/// The one number `sql` reads.
async fn scalar(db: &Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

async fn unsent(db: &Db) -> i64 {
    scalar(db, "SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL").await
}

async fn relay_publishes_committed_events_in_order_with_cloudevents_headers(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let ids = [
        enqueue(&db, "p1", "a").await,
        enqueue(&db, "p1", "b").await,
        enqueue(&db, "p2", "c").await,
    ];
    // A rolled-back change publishes nothing.
    let mut tx = db.begin().await.unwrap();
    outbox::enqueue(
        &mut tx,
        NewEvent::new("test", "thing.happened", "p1", &payload("rolled back")),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    let relay = fast_relay(&db, client.clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone()));
    eventually(WAIT, "outbox drained", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;

    let messages = read_all(&client, 3).await;
    let got: Vec<CloudEvent> = messages
        .iter()
        .map(|m| CloudEvent::from_message(m.headers.as_ref(), m.payload.clone()).unwrap())
        .collect();
    assert_eq!(got.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), ids);
    let h = messages[0].headers.as_ref().unwrap();
    assert_eq!(h.get("Nats-Msg-Id").unwrap().as_str(), ids[0]);
    assert_eq!(h.get("ce-type").unwrap().as_str(), "crm.test.thing.happened.v1");
    assert_eq!(h.get("ce-source").unwrap().as_str(), "/crm/test");
    assert_eq!(h.get("ce-subject").unwrap().as_str(), "p1");
    assert_eq!(h.get("ce-specversion").unwrap().as_str(), "1.0");
    assert_eq!(
        h.get("ce-datacontenttype").unwrap().as_str(),
        "application/protobuf"
    );
    assert!(h.get("ce-time").unwrap().as_str().ends_with('Z'));
    assert_eq!(messages[0].subject.as_str(), "crm.test.thing.happened");
    assert_eq!(got[2].decode::<Text>().unwrap().value, "c");
    stop.cancel();
    task.await.unwrap().unwrap();
}

async fn events_written_while_nats_is_down_arrive_in_order_after_restart(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let mut nats = TestNats::start();
    let client = nats.client().await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(fast_relay(&db, client.clone()).run(stop.clone()));
    let first = enqueue(&db, "p1", "before").await;
    eventually(WAIT, "first event sent", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;

    nats.stop();
    let mut ids = vec![first];
    for i in 0..5 {
        ids.push(enqueue(&db, "p1", &format!("during outage {i}")).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(unsent(&db).await, 5, "nothing is marked sent while NATS is down");
    // Operators see the backlog grow and age.
    eventually(WAIT, "the backlog reported", || async {
        reported_backlog().filter(|(pending, age)| *pending == 5.0 && *age > 0.0)
    })
    .await;

    nats.restart();
    eventually(WAIT, "backlog published", || async {
        (unsent(&db).await == 0).then_some(())
    })
    .await;
    eventually(WAIT, "the empty backlog reported", || async {
        reported_backlog().filter(|(pending, age)| *pending == 0.0 && *age == 0.0)
    })
    .await;
    let messages = read_all(&client, 6).await;
    let got: Vec<String> = messages
        .iter()
        .map(|m| m.headers.as_ref().unwrap().get("ce-id").unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// Records each event in `effects`, taking `pace` for each. Payloads saying "poison" fail (until
/// `cured`), "panic" panics, "flaky" fails as if the database were unreachable while `outage`
/// lasts (a count of calls), "slow" takes `slow` first.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<AtomicUsize>,
    poison_calls: Arc<AtomicUsize>,
    traces: Arc<std::sync::Mutex<Vec<String>>>,
    cured: Arc<std::sync::atomic::AtomicBool>,
    outage: Arc<AtomicUsize>,
    slow: Duration,
    /// Time every event takes.
    pace: Duration,
}

impl EventHandler for Recorder {
    async fn handle(&self, tx: &mut Tx, event: &CloudEvent) -> anyhow::Result<()> {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        self.calls.fetch_add(1, Ordering::SeqCst);
        let cx = tracing::Span::current().context();
        self.traces
            .lock()
            .unwrap()
            .push(cx.span().span_context().trace_id().to_string());
        let text = event.decode::<Text>()?.value;
        if !self.pace.is_zero() {
            tokio::time::sleep(self.pace).await;
        }
        match text.as_str() {
            "poison" => {
                self.poison_calls.fetch_add(1, Ordering::SeqCst);
                anyhow::ensure!(self.cured.load(Ordering::SeqCst), "cannot handle poison");
            }
            "panic" => panic!("cannot handle a panic"),
            "flaky" => {
                let out = self
                    .outage
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                if out.is_ok() {
                    return Err(sqlx::Error::PoolTimedOut.into());
                }
            }
            "slow" => tokio::time::sleep(self.slow).await,
            _ => {}
        }
        sqlx::query("INSERT INTO effects (event_id, payload) VALUES ($1, $2)")
            .bind(&event.id)
            .bind(text)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

async fn effects(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT payload FROM effects ORDER BY payload")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

fn consumer_options() -> ConsumerOptions {
    let mut options = ConsumerOptions::new("test-recorder", "test");
    options.max_attempts = 3;
    options.retry_delay = Duration::from_millis(50);
    options
}

async fn a_redelivered_event_is_applied_once(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = jetstream::new(client.clone());
    crm_events::ensure_stream(&js, &crm_events::StreamSpec::new("test"))
        .await
        .unwrap();
    let event = CloudEvent {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: "crm.test.thing.happened.v1".into(),
        source: "/crm/test".into(),
        subject: "p1".into(),
        time: chrono::Utc::now().to_rfc3339(),
        traceparent: None,
        sequence: None,
        data: prost::Message::encode_to_vec(&payload("once")).into(),
    };
    // The same event delivered twice (as after a crash between commit and ack): two messages
    // with distinct Nats-Msg-Id but the same ce-id.
    for copy in 0..2 {
        let mut headers = event.to_headers();
        headers.insert("Nats-Msg-Id", format!("{}-{copy}", event.id).as_str());
        js.publish_with_headers("crm.test.thing.happened", headers, event.data.clone())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let recorder = Recorder::default();
    let stop = CancellationToken::new();
    let task = tokio::spawn(
        Consumer::new(db.clone(), client.clone(), consumer_options(), recorder.clone()).run(stop.clone()),
    );
    settled(&js, "test-recorder", 2, "both copies delivered").await;
    assert_eq!(effects(&db).await, vec!["once".to_string()]);
    assert_eq!(
        recorder.calls.load(Ordering::SeqCst),
        1,
        "the duplicate never reached the handler"
    );
    // The consumer reports how far behind it is: nothing left after the second copy.
    let lag = crm_testkit::metric_points("crm.consumer.lag")
        .into_iter()
        .find(|p| p.attributes.get("messaging.consumer").map(String::as_str) == Some("test-recorder"))
        .expect("the consumer's lag reported");
    assert_eq!(lag.value, 0.0);
    stop.cancel();
    task.await.unwrap().unwrap();
}

async fn a_message_that_always_fails_ends_on_the_dead_letter_subject(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    let poison = enqueue(&db, "p1", "poison").await;
    enqueue(&db, "p2", "fine").await;

    let recorder = Recorder::default();
    let stop = CancellationToken::new();
    let task = tokio::spawn(
        Consumer::new(db.clone(), client.clone(), consumer_options(), recorder.clone()).run(stop.clone()),
    );

    let js = jetstream::new(client.clone());
    let dlq = eventually(WAIT, "dead letter", || async {
        let stream = js.get_stream(crm_events::DLQ_STREAM).await.ok()?;
        stream
            .get_last_raw_message_by_subject("crm.dlq.test-recorder")
            .await
            .ok()
    })
    .await;
    let headers = dlq.headers;
    assert_eq!(headers.get("ce-id").unwrap().as_str(), poison);
    assert_eq!(headers.get("crm-dlq-attempts").unwrap().as_str(), "3");
    assert_eq!(headers.get("crm-dlq-consumer").unwrap().as_str(), "test-recorder");
    assert!(headers.get("crm-dlq-error").unwrap().as_str().contains("poison"));
    assert_eq!(
        headers.get("crm-dlq-original-subject").unwrap().as_str(),
        "crm.test.thing.happened"
    );
    let poison = recorder.poison_calls.load(Ordering::SeqCst);
    assert!(
        (3..=4).contains(&poison),
        "the poison tried max_attempts times (once more if it came in a batch): {poison}"
    );
    assert_eq!(
        effects(&db).await,
        vec!["fine".to_string()],
        "a failed attempt leaves no effect"
    );
    stop.cancel();
    task.await.unwrap().unwrap();
    relay.stop().await;
}

/// A backlog is applied in batches of whatever has arrived; when one event of a batch fails,
/// the batch is applied again one event per transaction: the one that fails is rolled back
/// alone and retried on its own, the others take effect once.
async fn a_backlog_is_applied_in_batches_and_a_failure_stays_alone(backend: Backend) {
    let (_t, db) = setup(backend).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let relay = Running::relay(&db, &client);
    for i in 0..40 {
        let text = if i == 20 {
            "poison".to_string()
        } else {
            format!("fine-{i:02}")
        };
        enqueue(&db, &format!("k{i}"), &text).await;
    }
    // The whole backlog is in the stream before the consumer starts.
    let js = jetstream::new(client.clone());
    eventually(WAIT, "the backlog published", || async {
        let mut stream = js.get_stream("CRM_TEST").await.ok()?;
        (stream.info().await.ok()?.state.messages == 40).then_some(())
    })
    .await;
    let recorder = Recorder::default();
    let stop = CancellationToken::new();
    let task = tokio::spawn(
        Consumer::new(db.clone(), client.clone(), consumer_options(), recorder.clone()).run(stop.clone()),
    );
    eventually(WAIT, "the poison dead-lettered", || async {
        let stream = js.get_stream(crm_events::DLQ_STREAM).await.ok()?;
        stream
            .get_last_raw_message_by_subject("crm.dlq.test-recorder")
            .await
            .ok()
    })
    .await;
    let applied = effects(&db).await;
    assert_eq!(applied.len(), 39);
    assert!(applied.iter().all(|e| e.starts_with("fine-")));
    // A batch is first applied together; the one holding the poison is rolled back and applied
    // event by event, so its good events ran twice but took effect once.
    let poison = recorder.poison_calls.load(Ordering::SeqCst);
    assert!(
        (3..=4).contains(&poison),
        "the poison tried max_attempts times (once more within its batch): {poison}"
    );
    let mut distinct = applied.clone();
    distinct.dedup();
    assert_eq!(distinct, applied, "every good event took effect once");
    stop.cancel();
    task.await.unwrap().unwrap();
    relay.stop().await;
}

backend_tests!(
    a_backlog_is_applied_in_batches_and_a_failure_stays_alone,
    relay_publishes_committed_events_in_order_with_cloudevents_headers,
    events_written_while_nats_is_down_arrive_in_order_after_restart,
    a_redelivered_event_is_applied_once,
    a_message_that_always_fails_ends_on_the_dead_letter_subject,
);

/// The consumer's span continues the trace of the request that wrote the event. (One thread:
/// the test subscriber is the thread's default.)
#[tokio::test]
async fn the_consumer_span_joins_the_producer_trace() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let (_t, db) = setup(Backend::Sqlite).await;
    let nats = TestNats::start();
    let client = nats.client().await;
    let request_span = tracing::info_span!("request");
    let producer_trace = {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        request_span
            .context()
            .span()
            .span_context()
            .trace_id()
            .to_string()
    };
    {
        let _enter = request_span.enter();
        enqueue(&db, "p1", "traced").await;
    }
    crm_events::ensure_stream(
        &jetstream::new(client.clone()),
        &crm_events::StreamSpec::new("test"),
    )
    .await
    .unwrap();
    let relay = fast_relay(&db, client.clone());
    relay.publish_pending().await.unwrap();
    let recorder = Recorder::default();
    let consumer = Consumer::new(db.clone(), client.clone(), consumer_options(), recorder.clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(consumer.run(stop.clone()));
    eventually(WAIT, "event handled", || async {
        (!effects(&db).await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(recorder.traces.lock().unwrap().clone(), vec![producer_trace]);
    stop.cancel();
    task.await.unwrap().unwrap();
}
