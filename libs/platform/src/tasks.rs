//! Supervision of a service's background workers (outbox relay, event consumers, schedulers).
//!
//! A worker runs until its stop token is cancelled. One that returns early, or fails, is an
//! error for the whole service: the supervisor stops the others and reports it, so a dead relay
//! never goes unnoticed.

use std::future::Future;

use anyhow::anyhow;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Runs named background workers and notices when one dies.
#[derive(Debug)]
pub struct Supervisor {
    stop: CancellationToken,
    set: JoinSet<(String, anyhow::Result<()>)>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// An empty supervisor.
    pub fn new() -> Self {
        Self {
            stop: CancellationToken::new(),
            set: JoinSet::new(),
        }
    }

    /// The token workers watch to know when to stop.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Starts a worker. It gets the stop token and must return only after it is cancelled.
    pub fn spawn<F, Fut>(&mut self, name: impl Into<String>, worker: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        let fut = worker(self.stop.clone());
        self.set.spawn(async move { (name, fut.await) });
    }

    /// Waits until a worker ends. A worker ending before [`Supervisor::shutdown`] is an error.
    /// Pending forever when there are no workers.
    pub async fn died(&mut self) -> anyhow::Error {
        match self.set.join_next().await {
            Some(Ok((name, Ok(())))) => anyhow!("background worker {name} stopped unexpectedly"),
            Some(Ok((name, Err(err)))) => err.context(format!("background worker {name} failed")),
            Some(Err(join)) => anyhow!("background worker panicked: {join}"),
            None => std::future::pending().await,
        }
    }

    /// Stops every worker and waits for them, reporting the first failure.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        let mut first_error = None;
        while let Some(joined) = self.set.join_next().await {
            let result = match joined {
                Ok((name, result)) => {
                    result.map_err(|e| e.context(format!("background worker {name} failed")))
                }
                Err(join) => Err(anyhow!("background worker panicked: {join}")),
            };
            if let Err(err) = result {
                tracing::error!(error = ?err, "background worker failed during shutdown");
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_that_returns_early_is_reported() {
        let mut sup = Supervisor::new();
        sup.spawn("steady", |stop| async move {
            stop.cancelled().await;
            Ok(())
        });
        sup.spawn("flaky", |_| async { anyhow::bail!("boom") });
        let err = sup.died().await;
        assert!(format!("{err:#}").contains("flaky"), "{err:#}");
        sup.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_workers() {
        let mut sup = Supervisor::new();
        sup.spawn("steady", |stop| async move {
            stop.cancelled().await;
            Ok(())
        });
        sup.shutdown().await.unwrap();
    }
}
