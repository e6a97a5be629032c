//! A service of the suite started for a test: built by its crate's `build` (on the test's own
//! database and nats-server), run in the background, stopped when the test lets go of it.

use std::net::SocketAddr;

use crm_storage::Db;
use futures::FutureExt as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running service: where it listens and its database. Dropping it stops the service; a
/// service that stopped with an error while the test ran fails the test then.
pub struct Running {
    /// Where the service listens.
    pub addr: SocketAddr,
    /// The service's database.
    pub db: Db,
    stop: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("addr", &self.addr).finish()
    }
}

/// Runs a built service in the background until the returned handle is dropped or stopped.
pub fn run(app: crm_platform::App) -> Running {
    let (addr, db) = (app.local_addr(), app.db().clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped(stop.clone()));
    Running {
        addr,
        db,
        stop,
        task: Some(task),
    }
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
        self.stop.clone()
    }

    /// Stops the service (draining calls and workers) and returns how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
        let Some(task) = self.task.take() else { return };
        // Only a service that already ended can be asked how; one still draining is left to it.
        if task.is_finished()
            && !std::thread::panicking()
            && let Some(ended) = task.now_or_never()
        {
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(err)) => panic!("the service at {} stopped with an error: {err:#}", self.addr),
                Err(join) => panic!("the service at {} panicked: {join}", self.addr),
            }
        }
    }
}
