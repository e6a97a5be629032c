//! Read connections kept warm between requests.
//!
//! sqlx tests every connection that goes back to its pool: a round trip on PostgreSQL, a
//! hand-off to the connection's thread on SQLite. On a short read such as `GetParty` that is a
//! second exchange for every request. So up to half of the pool's connections, once taken for
//! a read, stay out of the pool: when its read ends, such a warm connection goes to the read
//! that has waited longest, or is set aside for the next one. Each goes back to the pool (and
//! through its test) once it has been out of it for [`RECHECK_AFTER`], so a connection broken
//! by a failover is found within that time, as the pool's own check finds one idle for a while.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::oneshot;

/// How long a connection may serve reads without going back through the pool's test.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// A warm connection and when it left the pool.
type WarmConn = (PoolConnection<Any>, Instant);

/// The warm connections of one pool.
pub(crate) struct Warm {
    pool: AnyPool,
    /// At most this many connections are warm: the rest of the pool stays free for
    /// transactions and background jobs, which take their connections from the pool itself.
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Warm connections out of the pool, whether serving a read or set aside.
    out: usize,
    /// Those set aside, newest last.
    idle: Vec<WarmConn>,
    /// Reads waiting for a connection, oldest first (each also waits on the pool).
    waiting: VecDeque<oneshot::Sender<WarmConn>>,
}

impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warm")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Warm {
    /// Keeps up to half of `pool`'s connections warm.
    pub(crate) fn new(pool: AnyPool, max_connections: u32) -> Arc<Self> {
        Arc::new(Self {
            pool,
            capacity: (max_connections / 2) as usize,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("warm connections")
    }

    /// A warm connection set aside, else the first of a warm connection handed over and one
    /// from the pool.
    pub(crate) async fn take(self: &Arc<Self>) -> sqlx::Result<ReadConn> {
        let mut expired = Vec::new();
        let found = {
            let mut state = self.state();
            let mut found = None;
            while let Some((conn, since)) = state.idle.pop() {
                if since.elapsed() < RECHECK_AFTER {
                    found = Some(Ok((conn, since)));
                    break;
                }
                state.out -= 1;
                expired.push(conn);
            }
            found.or_else(|| {
                (self.capacity > 0).then(|| {
                    let (tx, rx) = oneshot::channel();
                    state.waiting.push_back(tx);
                    Err(rx)
                })
            })
        };
        // Dropped outside the lock: each goes back to the pool and its test.
        drop(expired);
        let mut handed = match found {
            Some(Ok((conn, since))) => return Ok(self.read_conn(conn, since, true)),
            Some(Err(handed)) => handed,
            None => return Ok(self.read_conn(self.pool.acquire().await?, Instant::now(), false)),
        };
        let acquired = tokio::select! {
            biased;
            Ok((conn, since)) = &mut handed => return Ok(self.read_conn(conn, since, true)),
            acquired = self.pool.acquire() => acquired,
        };
        // One handed over meanwhile goes to the next read.
        handed.close();
        if let Ok((conn, since)) = handed.try_recv() {
            self.give_back(conn, since);
        }
        let conn = acquired?;
        let warm = {
            let mut state = self.state();
            // This read's place in the queue, and those of reads cancelled while waiting.
            state.waiting.retain(|waiting| !waiting.is_closed());
            let warm = state.out < self.capacity;
            state.out += usize::from(warm);
            warm
        };
        Ok(self.read_conn(conn, Instant::now(), warm))
    }

    fn read_conn(self: &Arc<Self>, conn: PoolConnection<Any>, since: Instant, warm: bool) -> ReadConn {
        ReadConn {
            conn: Some(conn),
            since,
            warm: warm.then(|| Arc::clone(self)),
        }
    }

    /// Hands a warm connection whose read ended to the read waiting longest, or sets it aside;
    /// one out of the pool for [`RECHECK_AFTER`] goes back to it.
    fn give_back(&self, mut conn: PoolConnection<Any>, since: Instant) {
        let recheck = self.pool.is_closed() || std::thread::panicking() || since.elapsed() >= RECHECK_AFTER;
        let mut state = self.state();
        if !recheck {
            while let Some(waiting) = state.waiting.pop_front() {
                match waiting.send((conn, since)) {
                    Ok(()) => return,
                    // That read has gone (it got one from the pool, or was cancelled).
                    Err((back, _)) => conn = back,
                }
            }
            state.idle.push((conn, since));
            return;
        }
        state.out -= 1;
        drop(state);
        drop(conn);
    }

    /// Gives every connection set aside back to the pool (before the pool is closed).
    pub(crate) fn release_all(&self) {
        let idle = {
            let mut state = self.state();
            state.out -= state.idle.len();
            std::mem::take(&mut state.idle)
        };
        drop(idle);
    }
}

/// A connection for reads outside a transaction; a warm one goes to the next read when
/// dropped, any other back to the pool.
pub struct ReadConn {
    conn: Option<PoolConnection<Any>>,
    since: Instant,
    warm: Option<Arc<Warm>>,
}

impl std::fmt::Debug for ReadConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadConn")
            .field("since", &self.since)
            .field("warm", &self.warm.is_some())
            .finish_non_exhaustive()
    }
}

impl Deref for ReadConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        if let (Some(conn), Some(warm)) = (self.conn.take(), &self.warm) {
            warm.give_back(conn, self.since);
        }
    }
}
