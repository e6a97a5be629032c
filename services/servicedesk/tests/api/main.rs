//! The service desk through its gRPC API, on SQLite and PostgreSQL, fed by a real customers
//! service over one nats-server, with a manual clock driving SLAs and escalation.

mod calls;
mod cases;
mod handling;
mod helpers;
mod import;
mod knowledge;
mod notifications;
mod paging;
mod sla;
