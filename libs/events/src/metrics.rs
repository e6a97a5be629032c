//! How far the event flow is behind, for operators: unsent outbox rows and the age of the
//! oldest (a broker outage shows here first), and each consumer's undelivered backlog.
//! Recorded through the global OpenTelemetry meter (exported when telemetry is configured).

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Gauge;

struct Instruments {
    outbox_pending: Gauge<u64>,
    outbox_oldest_age: Gauge<f64>,
    consumer_lag: Gauge<u64>,
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
