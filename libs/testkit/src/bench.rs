//! What the benches read from their environment: the backend (`CRM_BENCH_BACKEND`) and the
//! sizes to measure at (a comma-separated variable each bench names).

use crate::Backend;

/// The backend `CRM_BENCH_BACKEND` names: PostgreSQL for `postgres`, SQLite otherwise.
pub fn backend() -> Backend {
    match std::env::var("CRM_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The sizes the variable `var` lists (comma-separated; entries that are not numbers are
/// skipped), or `default` when it is not set.
pub fn sizes(var: &str, default: &[i64]) -> Vec<i64> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}
