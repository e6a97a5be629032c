//! The runtime every service shares: configuration blocks, telemetry, one way to assemble a
//! gRPC server (health, reflection, tracing, authentication, deadlines, message limits), and one
//! way to stop it (signal -> NOT_SERVING -> drain in-flight calls -> stop background workers).

pub mod audit;
pub mod background;
pub mod bulk;
pub mod client;
pub mod clock;
pub mod config;
pub mod contact;
pub mod deadline;
pub mod errors;
pub mod export;
pub mod import;
pub mod inspect;
pub mod kernel;
pub mod malformed;
pub mod metrics;
pub mod money;
pub mod overload;
pub mod paging;
pub mod rate_limit;
pub mod retry;
pub mod served;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod site;
pub mod tasks;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod web;

pub use config::{ServerConfig, TelemetryConfig};
pub use errors::Violations;
pub use kernel::{App, Foundation, Instance, Service, Store};
pub use server::{GrpcServer, ServerHandle, bind, run};
pub use tasks::Supervisor;
