//! The service-desk domain rules, free of I/O.

pub mod calendar;
pub mod escalation;
pub mod notify;
pub mod priority;
pub mod report;
pub mod search;
pub mod workflow;
