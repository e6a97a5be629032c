//! Events the sales service publishes: each defined once in `crm_proto::sales::v1::events` (payloads in
//! `crm/sales/v1/events.proto`) and written with [`publish`] in the transaction of its change.

pub use crm_events::outbox::{publish, publish_about};
