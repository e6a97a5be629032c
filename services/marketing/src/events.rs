//! Events the marketing service publishes: each defined once in `crm_proto::marketing::v1::events` (payloads in
//! `crm/marketing/v1/events.proto`) and written with [`publish`] in the transaction of its change.

pub use crm_events::outbox::{publish, publish_about};
