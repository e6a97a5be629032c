//! A service of the suite started for a test: built by its crate's `build` (on the test's own
//! database and nats-server), run in the background, stopped when the test lets go of it.

use std::future::Future;
use std::net::SocketAddr;

use crm_storage::Db;
use futures::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A background task a test started (a service, a second instance of one): cancelling it or
/// dropping the handle stops it, and a task that already ended with an error fails the test
/// when the handle is dropped, instead of the error vanishing with the task.
pub struct Watched {
    what: String,
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").field("what", &self.what).finish()
    }
}

impl Watched {
    /// Spawns `run` with a stop token; `what` names it in a failure.
    pub fn spawn<F>(what: impl Into<String>, run: impl FnOnce(CancellationToken) -> F) -> Self
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(stop.clone()));
        Self {
            what: what.into(),
            stop,
            task: Some(task),
        }
    }

    /// Asks the task to stop (it drains and ends on its own).
    pub fn cancel(&self) {
        self.stop.cancel();
    }

    /// The token that stops the task.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops the task and returns how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop.cancel();
        let Some(task) = self.task.take() else { return };
        // Only a task that already ended can be asked how; one still draining is left to it.
        if task.is_finished()
            && !std::thread::panicking()
            && let Some(ended) = task.now_or_never()
        {
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(err)) => panic!("{} stopped with an error: {err:#}", self.what),
                Err(join) => panic!("{} panicked: {join}", self.what),
            }
        }
    }
}

/// A running service: where it listens and its database. Dropping it stops the service; a
/// service that stopped with an error while the test ran fails the test then.
#[derive(Debug)]
pub struct Running {
    /// Where the service listens.
    pub addr: SocketAddr,
    /// The service's database.
    pub db: Db,
    task: Watched,
}

/// Runs a built service in the background until the returned handle is dropped or stopped.
pub fn run(app: crm_platform::App) -> Running {
    let (addr, db) = (app.local_addr(), app.db().clone());
    Running {
        addr,
        db,
        task: Watched::spawn(format!("the service at {addr}"), |stop| {
            app.run_until_stopped(stop)
        }),
    }
}

/// Builds and runs service `S` on the database at `database_url` and the NATS of `nats`: on a
/// free port, trusting the test issuer's tokens, with its settings' defaults; `configure` may
/// adjust the instance (the clock, server limits) and the settings first.
pub async fn start<S: crm_platform::Service>(
    database_url: &str,
    nats: async_nats::Client,
    configure: impl FnOnce(&mut crm_platform::Instance, &mut S::Settings),
) -> Running {
    let mut instance = crm_platform::Instance::new(database_url, crate::auth_config());
    let mut settings = crm_platform::config::defaults::<S::Settings>();
    configure(&mut instance, &mut settings);
    let app = crm_platform::kernel::build::<S>(instance, settings, nats)
        .await
        .unwrap_or_else(|err| panic!("building the {} service: {err:#}", S::NAME));
    run(app)
}

impl Running {
    /// The service's URL (`http://127.0.0.1:port`), as another service is configured with it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A channel to the service.
    pub fn channel(&self) -> tonic::transport::Channel {
        crate::channel(self.addr)
    }

    /// The token that stops the service (a test may cancel it and keep the handle to await the
    /// end with [`Running::stop`]).
    pub fn stop_token(&self) -> CancellationToken {
        self.task.stop_token()
    }

    /// Stops the service (draining calls and workers) and returns how it ended.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.task.stop().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ended(watched: &Watched) {
        while !watched.task.as_ref().is_some_and(JoinHandle::is_finished) {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_task_that_failed_fails_the_test_when_dropped() {
        let failed = Watched::spawn("a failing service", |_| async { anyhow::bail!("database gone") });
        ended(&failed).await;
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(failed)))
            .expect_err("dropping a failed task panics");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains("a failing service stopped with an error: database gone"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_task_that_ended_well_or_still_runs_is_dropped_quietly() {
        let fine = Watched::spawn("a service", |_| async { Ok(()) });
        ended(&fine).await;
        drop(fine);
        let running = Watched::spawn("a service", |stop| async move {
            stop.cancelled().await;
            Ok(())
        });
        drop(running);
        let stopped = Watched::spawn("a service", |stop| async move {
            stop.cancelled().await;
            Ok(())
        });
        stopped.stop().await.expect("a clean stop");
    }
}
