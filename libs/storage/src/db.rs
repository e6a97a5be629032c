use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{Any, AnyPool, Executor};

use crate::schema::Migrating;
use crate::warm::{ReadConn, Warm};

/// A transaction on either backend.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, the production backend.
    Postgres,
    /// SQLite, the embedded default.
    Sqlite,
}

impl Backend {
    /// The backend a URL names.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            anyhow::bail!("unsupported database URL (expected postgres:// or sqlite:): {url}")
        }
    }
}

/// A service's migrations: the files under its crate's `migrations/postgres` and
/// `migrations/sqlite`, recorded in `_sqlx_migrations`.
#[macro_export]
macro_rules! service_migrations {
    () => {
        $crate::Migrations {
            table: "_sqlx_migrations",
            postgres: $crate::sqlx::migrate!("migrations/postgres"),
            sqlite: $crate::sqlx::migrate!("migrations/sqlite"),
        }
    };
}

/// One component's migrations, one set per backend where their SQL differs.
#[derive(Debug)]
pub struct Migrations {
    /// The table recording which versions were applied. Each component that owns tables in a
    /// service's database (the service itself, the shared event tables) keeps its own.
    pub table: &'static str,
    /// Applied on PostgreSQL.
    pub postgres: Migrator,
    /// Applied on SQLite.
    pub sqlite: Migrator,
}

/// The PostgreSQL advisory lock a process holds while it migrates a database (per database;
/// the bytes of "crm migr").
const MIGRATING_LOCK: i64 = 0x6372_6d20_6d69_6772;

/// How long a pooled connection may sit idle before it is checked on its next acquire.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(10);

/// A connection pool plus the backend it talks to.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    warm: Arc<Warm>,
}

impl Db {
    /// Connects to `url`, creating the database (or SQLite file) when it does not exist;
    /// connections are opened as they are needed.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        Self::connect_with(url, max_connections, 0).await
    }

    /// As [`Db::connect`], keeping at least `min_connections` open from the start (at most
    /// `max_connections`): under load, a pool that opens its connections one at a time on
    /// demand took about ten seconds to reach ten on PostgreSQL, serving a third fewer reads
    /// meanwhile.
    pub async fn connect_with(url: &str, max_connections: u32, min_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let sqlite_path = url
            .strip_prefix("sqlite:")
            .map(|rest| rest.trim_start_matches("//"));
        if let Some(dir) = sqlite_path
            .and_then(|p| std::path::Path::new(p.split('?').next().unwrap_or("")).parent())
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if !Any::database_exists(url).await.unwrap_or(false) {
            Any::create_database(url)
                .await
                .with_context(|| format!("creating database {}", redact(url)))?;
        }
        let options: AnyConnectOptions = url.parse().with_context(|| format!("parsing {}", redact(url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(min_connections.min(max_connections.max(1)))
            .acquire_timeout(Duration::from_secs(30))
            // A connection in use moments ago is alive: pinging it on every acquire would cost a
            // round trip per request. One idle for a while may have been cut (a failover, a proxy's
            // idle timeout), so it is checked, and replaced when the check fails.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < CHECK_AFTER_IDLE {
                        return Ok(true);
                    }
                    Ok(sqlx::Connection::ping(conn).await.is_ok())
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a second
                        // writer wait instead of failing; foreign keys are off by default in SQLite.
                        // A 16 MiB page cache per connection (2 MiB by default) and a checkpoint
                        // every 4,000 pages (1,000) write a hot index page back once, not at every
                        // few commits, and read it from memory, not from the file.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 15000; \
                             PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 4000;",
                        )
                        .await?;
                    } else {
                        // A transaction left open (a caller stuck between statements) would hold
                        // its locks and its snapshot for ever: the server ends it after a while,
                        // unless the operator set another limit (in the URL's options, for the
                        // role or for the database).
                        conn.execute(
                            "SELECT set_config('idle_in_transaction_session_timeout', '5min', false) \
                             WHERE current_setting('idle_in_transaction_session_timeout') = '0'",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", redact(url)))?;
        let warm = Warm::new(pool.clone(), max_connections.max(1));
        Ok(Self { pool, backend, warm })
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection for reads outside a transaction, kept warm between requests (see
    /// [`ReadConn`]).
    pub async fn read_conn(&self) -> sqlx::Result<ReadConn> {
        self.warm.take().await
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many bulk write transactions are worth running at once: two on PostgreSQL (one
    /// writes while the next is prepared and sent), one on SQLite, which has a single writer
    /// (a second would only wait on its lock).
    pub fn bulk_write_concurrency(&self) -> usize {
        match self.backend {
            Backend::Postgres => 2,
            Backend::Sqlite => 1,
        }
    }

    /// Begins a read-write transaction.
    ///
    /// On SQLite this is `BEGIN IMMEDIATE`: a deferred transaction that reads before it writes
    /// fails with SQLITE_BUSY when another connection committed in between, whatever the timeout.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.begin_within(None).await
    }

    /// Begins a read-write transaction for work that must be done within `limit` (what a call
    /// has left of its deadline). On PostgreSQL each statement of the transaction is then
    /// cancelled by the server once it runs past the limit (`SET LOCAL statement_timeout`, sent
    /// with the `BEGIN`, no extra round trip): a call that gave up leaves no statement running
    /// and holding locks behind it. SQLite, in-process, has no such timeout; its statements
    /// end with the call.
    pub async fn begin_within(&self, limit: Option<Duration>) -> sqlx::Result<Tx> {
        match (self.backend, limit) {
            (Backend::Sqlite, _) => self.pool.begin_with("BEGIN IMMEDIATE").await,
            (Backend::Postgres, None) => self.pool.begin().await,
            (Backend::Postgres, Some(limit)) => {
                // 0 would mean no limit at all.
                let ms = limit.as_millis().clamp(1, i32::MAX as u128);
                self.pool
                    .begin_with(sqlx::AssertSqlSafe(format!(
                        "BEGIN; SET LOCAL statement_timeout = {ms}"
                    )))
                    .await
            }
        }
    }

    /// Begins a read-write transaction whose commit does not wait for its log to reach the disk
    /// (PostgreSQL's `synchronous_commit = off`, for it alone; SQLite commits as usual). Only for
    /// work that a crash may undo because it is done again, or that a later ordinary commit
    /// depends on: the log is flushed in order, so once a later commit is on disk, so is this one.
    pub async fn begin_unflushed(&self) -> sqlx::Result<Tx> {
        let mut tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Applies the migrations for this backend that the database lacks, after checking that
    /// this binary may run on its schema (see [`crate::schema`]).
    pub async fn migrate(&self, migrations: &Migrations) -> anyhow::Result<()> {
        self.prepare(migrations, Migrating::OnStart).await
    }

    /// Brings the schema to this binary's version as `migrating` says, or refuses with both
    /// versions named: a schema a newer release contracted, or (verifying) one that lacks
    /// migrations.
    pub async fn prepare(&self, migrations: &Migrations, migrating: Migrating) -> anyhow::Result<()> {
        let schema = self.schema(migrations).await?;
        if let Some(refusal) = schema.refusal(migrating) {
            anyhow::bail!(refusal);
        }
        if let Some(newest) = schema.unknown.last() {
            tracing::warn!(
                table = migrations.table,
                "the schema is at {newest}, a newer release's expansion this binary runs on"
            );
        }
        if schema.missing.is_empty() {
            return Ok(());
        }
        let mut migrator = Migrator::with_migrations(self.migrator(migrations).iter().cloned().collect());
        migrator.dangerous_set_table_name(migrations.table);
        // A newer release's expansions are applied already and not this binary's to know.
        migrator.set_ignore_missing(true);
        self.migrate_alone(&migrator)
            .await
            .with_context(|| format!("applying migrations ({})", migrations.table))
    }

    /// Runs `migrator` on a connection of its own, on PostgreSQL once no other process is
    /// migrating this database.
    ///
    /// sqlx's migrator waits for its lock inside a statement, and a `CREATE INDEX CONCURRENTLY`
    /// waits for every statement older than itself: a replica waiting there while another builds
    /// an index would deadlock with it. Replicas wait here instead, between short statements.
    async fn migrate_alone(&self, migrator: &Migrator) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            let mut told = false;
            while !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(MIGRATING_LOCK)
                .fetch_one(&mut *conn)
                .await?
            {
                if !told {
                    tracing::info!("another process is migrating this database; waiting for it");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let migrated = migrator.run(&mut *conn).await;
        // Closed, not returned to the pool: the session's lock goes with it, whatever happened.
        let closed = conn.close().await;
        migrated?;
        Ok(closed?)
    }

    /// This backend's migrations of `migrations`.
    pub(crate) fn migrator<'a>(&self, migrations: &'a Migrations) -> &'a Migrator {
        match self.backend {
            Backend::Postgres => &migrations.postgres,
            Backend::Sqlite => &migrations.sqlite,
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        // Closed first, so that no read connection is set aside after the others are released.
        let closed = self.pool.close();
        self.warm.release_all();
        closed.await;
    }
}

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| matches!(e.kind(), sqlx::error::ErrorKind::UniqueViolation))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:x.db"), "sqlite:x.db");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("postgres://x/y").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("sqlite:a.db").unwrap(), Backend::Sqlite);
        assert!(Backend::from_url("mysql://x").is_err());
    }
}
