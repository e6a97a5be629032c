use crm_storage::{Backend, Db};

/// A database that exists for one test: a temporary SQLite file, or a uuid-named PostgreSQL
/// database on the server of `CRM_TEST_POSTGRES_URL`, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL.
    pub url: String,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
    admin_url: Option<String>,
    name: String,
}

impl TestDb {
    /// A fresh, empty database on `backend`.
    pub fn new(backend: Backend) -> Self {
        let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join(format!("{name}.db")).display());
                Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    admin_url: None,
                    name,
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("CRM_TEST_POSTGRES_URL").expect("CRM_TEST_POSTGRES_URL");
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin.clone());
                Self {
                    url: format!("{base}/{name}"),
                    backend,
                    _dir: None,
                    admin_url: Some(admin),
                    name,
                }
            }
        }
    }

    /// Connects (creating the database).
    pub async fn connect(&self) -> Db {
        Db::connect(&self.url, 5)
            .await
            .expect("connecting to the test database")
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql))
                    .await
                    .ok()?;
                Some(())
            })
        })
        .join();
    }
}

/// Makes the PostgreSQL database at `database_url` refuse connections and ends the ones it has
/// (`allowed` false), or lets it take connections again: an outage as its clients see it, for
/// this database alone (the server is shared by the tests running beside).
pub async fn allow_connections(database_url: &str, allowed: bool) {
    let name = database_url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .expect("a database name");
    let admin_url = std::env::var("CRM_TEST_POSTGRES_URL").expect("CRM_TEST_POSTGRES_URL");
    let admin = Db::connect(&admin_url, 1).await.expect("the admin database");
    let mut statements = vec![format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allowed}")];
    if !allowed {
        statements.push(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ));
    }
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(admin.pool())
            .await
            .expect("changing the database's connections");
    }
    admin.close().await;
}
