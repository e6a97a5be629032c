//! `crm`: runs one service (`crm serve <service>`, what a Kubernetes Deployment runs), the whole
//! suite on one machine (`crm up`), migrations (`crm migrate`), or mints a development token
//! (`crm token`).

use clap::Parser as _;
use crm::cli;

/// The suite allocates many short-lived buffers (rows, events, messages) on every thread; with
/// glibc's allocator that took about a fifth of the CPU of a bulk import, and freed memory stayed
/// in per-thread arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line a person can act on (port taken, bad flag, unreachable database); the
            // cause chain is part of it.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
