//! Events the service desk publishes: each defined once in `crm_proto::servicedesk::v1::events` (payloads in
//! `crm/servicedesk/v1/events.proto`) and written with [`publish`] in the transaction of its change
//! (or with [`enqueue_many`], many at once).

pub use crm_events::outbox::{NewEvent, enqueue_many, publish, publish_about};
