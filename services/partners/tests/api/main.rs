//! The partners service through its gRPC API, on SQLite and PostgreSQL, beside the customers
//! and sales services on one nats-server.

mod channel;
mod helpers;
mod import;
mod imported;
mod paging;
mod performance;
mod portal;
