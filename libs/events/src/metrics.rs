//! How far the event flow is behind, for operators: unsent outbox rows and the age of the
//! oldest (a broker outage shows here first), whether a replica's relay leads, and each
//! consumer's undelivered backlog, redeliveries and dead letters.
//! Recorded through the global OpenTelemetry meter (exported when telemetry is configured).

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge};

struct Instruments {
    outbox_pending: Gauge<u64>,
    outbox_oldest_age: Gauge<f64>,
    consumer_lag: Gauge<u64>,
    consumer_deferred: Counter<u64>,
    consumer_dead_letters: Counter<u64>,
    consumer_redelivered: Counter<u64>,
    outbox_parked: Counter<u64>,
    outbox_leading: Gauge<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("crm.events");
        Instruments {
            outbox_pending: meter
                .u64_gauge("crm.outbox.pending")
                .with_description("Outbox rows not yet published")
                .with_unit("{event}")
                .build(),
            outbox_oldest_age: meter
                .f64_gauge("crm.outbox.oldest_age")
                .with_description("Age of the oldest unpublished outbox row")
                .with_unit("s")
                .build(),
            consumer_lag: meter
                .u64_gauge("crm.consumer.lag")
                .with_description("Messages of the consumer's subjects not yet delivered to it")
                .with_unit("{message}")
                .build(),
            consumer_deferred: meter
                .u64_counter("crm.consumer.deferred")
                .with_description(
                    "Messages left to come again after a failure that may pass (the database unreachable, say)",
                )
                .with_unit("{message}")
                .build(),
            consumer_dead_letters: meter
                .u64_counter("crm.consumer.dead_letters")
                .with_description("Messages parked on the consumer's dead-letter subject")
                .with_unit("{message}")
                .build(),
            consumer_redelivered: meter
                .u64_counter("crm.consumer.redelivered")
                .with_description(
                    "Messages delivered again: after a failure, a crash before the ack, or an ack that came too late",
                )
                .with_unit("{message}")
                .build(),
            outbox_parked: meter
                .u64_counter("crm.outbox.parked")
                .with_description("Outbox rows set aside because the broker keeps refusing them")
                .with_unit("{event}")
                .build(),
            outbox_leading: meter
                .u64_gauge("crm.outbox.leading")
                .with_description("Whether this replica's relay holds the outbox lease (1) or not (0)")
                .build(),
        }
    })
}

/// The outbox of `stream` holds `pending` unsent rows, the oldest `oldest_age_seconds` old.
pub(crate) fn outbox(stream: &str, pending: u64, oldest_age_seconds: f64) {
    let attributes = [KeyValue::new("messaging.destination", stream.to_string())];
    let i = instruments();
    i.outbox_pending.record(pending, &attributes);
    i.outbox_oldest_age.record(oldest_age_seconds, &attributes);
}

/// `durable` has `pending` messages waiting after the one it just received.
pub(crate) fn consumer_lag(durable: &str, pending: u64) {
    instruments().consumer_lag.record(
        pending,
        &[KeyValue::new("messaging.consumer", durable.to_string())],
    );
}

/// `durable` left `messages` to come again after a failure that may pass.
pub(crate) fn deferred(durable: &str, messages: u64) {
    instruments().consumer_deferred.add(
        messages,
        &[KeyValue::new("messaging.consumer", durable.to_string())],
    );
}

/// `durable` parked a message on its dead-letter subject.
pub(crate) fn dead_lettered(durable: &str) {
    instruments()
        .consumer_dead_letters
        .add(1, &[KeyValue::new("messaging.consumer", durable.to_string())]);
}

/// `durable` received `messages` it had been delivered before.
pub(crate) fn redelivered(durable: &str, messages: u64) {
    instruments().consumer_redelivered.add(
        messages,
        &[KeyValue::new("messaging.consumer", durable.to_string())],
    );
}

/// Whether this replica's relay of `stream` leads (holds the outbox lease) after its last try.
pub(crate) fn leading(stream: &str, leads: bool) {
    instruments().outbox_leading.record(
        u64::from(leads),
        &[KeyValue::new("messaging.destination", stream.to_string())],
    );
}

/// The relay of `stream` set an outbox row aside.
pub(crate) fn outbox_parked(stream: &str) {
    instruments()
        .outbox_parked
        .add(1, &[KeyValue::new("messaging.destination", stream.to_string())]);
}
