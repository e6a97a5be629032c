//! CPU-heavy background work (model fits, whole-base scoring) that gives way to requests.
//!
//! Such work runs for seconds or minutes on a machine whose cores also serve calls. On a thread
//! of the runtime's blocking pool it competes with the request threads as an equal, and a
//! `GetParty` waits behind it for a core. It runs instead on a thread of its own at a lower
//! scheduling priority: it still takes every core left idle, but a request's thread that becomes
//! ready runs first.

/// How much lower than a request the work's thread runs (a nice value: at 10 the scheduler
/// gives it about a tenth of a core that a request's thread also wants).
const NICENESS: i32 = 10;

/// Runs `work` on a thread of its own at a lower priority and waits for it without blocking
/// the runtime. A panic in `work` is an error.
pub async fn compute<T, F>(name: &str, work: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            let _ = done.send(work());
        })?;
    result
        .await
        .map_err(|_| anyhow::anyhow!("the {name} thread stopped before it finished"))
}

/// Lowers the calling thread's priority: on Linux the nice value is a thread's own, and the
/// thread ends with its work, so it is never raised again. Elsewhere the work runs as it is.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), NICENESS) {
        tracing::debug!(%error, "could not lower a background thread's priority");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_priority() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[tokio::test]
    async fn work_runs_at_a_lower_priority_and_a_panic_is_an_error() {
        let nice = compute("test-work", own_priority).await.unwrap();
        assert_eq!(nice, (own_priority() + NICENESS).min(19));
        let failed = compute("test-work", || -> i32 { panic!("a fault in the work") }).await;
        assert!(failed.is_err());
    }
}
