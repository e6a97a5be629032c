//! The customers service through its gRPC API, on SQLite and PostgreSQL, with a real
//! nats-server: every capability, bad input, auth, events and graceful shutdown.

mod admin;
mod analysis;
mod audit;
mod auth;
mod events;
mod helpers;
mod import;
mod lifecycle;
mod network;
mod parties;
mod privacy;
mod quality;
mod shutdown;
mod trace_context;
mod value;
