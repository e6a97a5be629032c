//! The marketing service through its gRPC API, on SQLite and PostgreSQL, fed by real customers
//! and sales services over one nats-server.

mod campaigns;
mod erasure;
mod execution;
mod figures;
mod helpers;
mod paging;
mod predictions;
mod selection;
mod transfer;
