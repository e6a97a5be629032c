//! A binary against the schema it finds: replicas starting together apply the migrations once,
//! a verifying start refuses a schema behind its own, and any start refuses a schema a newer
//! release contracted, while it runs on a newer release's expansions.

use crm_storage::imports::MIGRATIONS;
use crm_storage::{Db, Migrating, Migrations};
use crm_testkit::{Backend, TestDb, backend_tests};

/// Records a migration this binary does not carry, as a newer release's `crm migrate` would.
async fn record_newer(db: &Db, version: i64, description: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {} (version, description, success, checksum, execution_time) VALUES ($1, $2, $3, $4, $5)",
        MIGRATIONS.table
    )))
    .bind(version)
    .bind(description)
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(1i64)
    .execute(db.pool())
    .await
    .unwrap();
}

async fn applied(db: &Db) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {}",
        MIGRATIONS.table
    )))
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn a_verifying_start_refuses_a_schema_behind_its_own(backend: Backend) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let refusal = db
        .prepare(&MIGRATIONS, Migrating::Verify)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refusal.contains("is empty, older than this binary's") && refusal.contains("crm migrate"),
        "{refusal}"
    );
    // Refusing applied nothing.
    assert!(db.schema(&MIGRATIONS).await.unwrap().applied.is_none());

    db.migrate(&MIGRATIONS).await.unwrap();
    db.prepare(&MIGRATIONS, Migrating::Verify).await.unwrap();
    let schema = db.schema(&MIGRATIONS).await.unwrap();
    assert_eq!(schema.applied, schema.known);
    assert!(schema.missing.is_empty() && schema.unknown.is_empty());
}

async fn a_schema_a_newer_release_contracted_is_refused(backend: Backend) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    db.migrate(&MIGRATIONS).await.unwrap();
    let ours = db.schema(&MIGRATIONS).await.unwrap().known.unwrap();

    // A newer release's expansion: the binary runs on it, either way it starts.
    record_newer(&db, 99_990_101_000_001, "ledger by region").await;
    db.prepare(&MIGRATIONS, Migrating::Verify).await.unwrap();
    db.prepare(&MIGRATIONS, Migrating::OnStart).await.unwrap();

    // A later one's contraction: refused, naming both versions.
    record_newer(&db, 99_990_201_000_001, "contract drop legacy keys").await;
    for migrating in [Migrating::OnStart, Migrating::Verify] {
        let refusal = db.prepare(&MIGRATIONS, migrating).await.unwrap_err().to_string();
        assert!(
            refusal.contains(&format!(
                "is at 99990201000001 (contract drop legacy keys), newer than this binary's {ours}"
            )),
            "{refusal}"
        );
    }
}

backend_tests!(
    a_verifying_start_refuses_a_schema_behind_its_own,
    a_schema_a_newer_release_contracted_is_refused
);

/// Four replicas of a service starting at once on `test_db` with `migrations`, once each has
/// started (any failure to start fails the test). The first creates the database.
async fn started_together(test_db: &TestDb, migrations: &Migrations) -> Vec<Db> {
    let first = test_db.connect().await;
    let others = futures::future::join_all((0..3).map(|_| Db::connect(&test_db.url, 2))).await;
    let replicas: Vec<Db> = std::iter::once(first)
        .chain(others.into_iter().map(Result::unwrap))
        .collect();
    let started = futures::future::join_all(
        replicas
            .iter()
            .map(|db| db.prepare(migrations, Migrating::OnStart)),
    )
    .await;
    for result in started {
        result.unwrap();
    }
    replicas
}

/// Replicas of a service starting at once against an empty PostgreSQL database all come up,
/// and each migration is applied once: they take turns under the migrator's lock. (A SQLite
/// file is one process's: `crm up` starts each service once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_apply_the_migrations_once() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let test_db = TestDb::new(Backend::Postgres);
    let replicas = started_together(&test_db, &MIGRATIONS).await;
    let first = &replicas[0];
    let schema = first.schema(&MIGRATIONS).await.unwrap();
    assert_eq!(schema.applied, schema.known);
    assert_eq!(applied(first).await, MIGRATIONS.postgres.iter().count() as i64);
}

/// Migrations with an index built concurrently, as a large table's expansion is.
static INDEX_BUILD: Migrations = Migrations {
    table: "_index_build_migrations",
    postgres: crm_storage::sqlx::migrate!("tests/storage/index_build/postgres"),
    sqlite: crm_storage::sqlx::migrate!("tests/storage/index_build/sqlite"),
};

/// Replicas starting together while one of them builds an index concurrently all come up, the
/// index valid: a replica waiting inside a statement for the migrator's lock would be a
/// transaction the build waits for, and the two would deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_wait_for_a_concurrent_index_build() {
    crm_testkit::init_logging();
    if !crm_testkit::postgres_available() {
        return;
    }
    let test_db = TestDb::new(Backend::Postgres);
    let replicas = started_together(&test_db, &INDEX_BUILD).await;
    let db = &replicas[0];
    let schema = db.schema(&INDEX_BUILD).await.unwrap();
    assert_eq!(schema.applied, schema.known);
    let valid: bool = sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'notes_party'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(valid, "the concurrently built index is valid");
}
