//! The `crm` binary's library: the command line, the services it can run, and the whole suite
//! in one process (used by `crm up` and by the end-to-end tests).

pub mod cli;
pub mod dlq;
mod local_nats;
pub mod nats_users;
pub mod services;
pub mod suite;
pub mod transfer;
