//! Where a database's schema stands against the migrations a binary carries, and whether the
//! binary may run on it.
//!
//! Releases change schemas by expand and contract: a release's migrations only add (tables,
//! columns, indexes) so that the release before it still runs on the new schema during a rolling
//! upgrade; what the old release needed is removed by a later release's *contract* migration
//! (its file name's description begins with `contract`), once no binary that needs it runs.
//! So a binary runs on a schema that lacks none of its migrations and whose migrations it does
//! not know are all expansions; it refuses any other, naming the database's version and its own.

use sqlx::Row as _;

use crate::db::{Backend, Db, Migrations};

/// How a service brings its database's schema up to date when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Migrating {
    /// Applies the migrations it carries that the database lacks (replicas starting together
    /// take turns under a lock: one applies them, the others find them applied). `crm up`'s way.
    #[default]
    OnStart,
    /// Applies nothing: refuses to start until `crm migrate` (a release's migrations Job) has
    /// brought the schema to the binary's version.
    Verify,
}

/// One applied or known migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Its number (the timestamp its file name starts with).
    pub version: i64,
    /// Its description (the rest of the file name, spaced).
    pub description: String,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.version, self.description)
    }
}

impl Version {
    /// Whether it only adds to the schema: the release before it runs on it.
    pub fn is_expansion(&self) -> bool {
        !self
            .description
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("contract")
    }
}

/// A database's schema against one component's migrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// The table the versions are recorded in.
    pub table: &'static str,
    /// The newest migration the binary carries.
    pub known: Option<Version>,
    /// The newest migration applied to the database.
    pub applied: Option<Version>,
    /// Migrations the binary carries that the database lacks.
    pub missing: Vec<Version>,
    /// Migrations applied to the database that the binary does not carry (a newer release's).
    pub unknown: Vec<Version>,
    /// Migrations that began and did not finish.
    pub failed: Vec<Version>,
}

impl Schema {
    /// Why the binary may not run on this schema as `migrating` says, if it may not.
    pub fn refusal(&self, migrating: Migrating) -> Option<String> {
        let db = self
            .applied
            .as_ref()
            .map_or_else(|| "empty".to_string(), |v| format!("at {v}"));
        let binary = self
            .known
            .as_ref()
            .map_or_else(|| "none".to_string(), ToString::to_string);
        if let Some(failed) = self.failed.first() {
            return Some(format!(
                "the schema ({}) has a migration that did not finish, {failed}: repair it by hand, then remove its row",
                self.table
            ));
        }
        if let Some(contract) = self.unknown.iter().find(|v| !v.is_expansion()) {
            return Some(format!(
                "the schema ({}) is {db}, newer than this binary's {binary}: it was contracted by {contract}, \
                 which this release predates; run the release that applied it",
                self.table
            ));
        }
        if migrating == Migrating::Verify && !self.missing.is_empty() {
            return Some(format!(
                "the schema ({}) is {db}, older than this binary's {binary} ({} migrations missing): \
                 run `crm migrate` (the release's migrations Job) first",
                self.table,
                self.missing.len()
            ));
        }
        None
    }
}

impl Db {
    /// Where the database's schema stands against `migrations`.
    pub async fn schema(&self, migrations: &Migrations) -> anyhow::Result<Schema> {
        let carried: Vec<Version> = self
            .migrator(migrations)
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| Version {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect();
        let recorded = self.recorded(migrations.table).await?;
        let applied: Vec<&(Version, bool)> = recorded.iter().collect();
        let is_applied = |v: i64| applied.iter().any(|(a, _)| a.version == v);
        let is_carried = |v: i64| carried.iter().any(|c| c.version == v);
        Ok(Schema {
            table: migrations.table,
            known: carried.iter().max_by_key(|v| v.version).cloned(),
            applied: recorded.iter().map(|(v, _)| v).max_by_key(|v| v.version).cloned(),
            missing: carried
                .iter()
                .filter(|c| !is_applied(c.version))
                .cloned()
                .collect(),
            unknown: recorded
                .iter()
                .filter(|(v, _)| !is_carried(v.version))
                .map(|(v, _)| v.clone())
                .collect(),
            failed: recorded
                .iter()
                .filter(|(_, success)| !success)
                .map(|(v, _)| v.clone())
                .collect(),
        })
    }

    /// The versions recorded in `table` (none when it does not exist yet), with whether each
    /// finished.
    async fn recorded(&self, table: &str) -> anyhow::Result<Vec<(Version, bool)>> {
        let exists: bool = match self.backend() {
            Backend::Postgres => sqlx::query("SELECT to_regclass($1) IS NOT NULL AS present")
                .bind(table)
                .fetch_one(self.pool())
                .await?
                .try_get("present")?,
            Backend::Sqlite => {
                sqlx::query("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1")
                    .bind(table)
                    .fetch_one(self.pool())
                    .await?
                    .try_get::<i64, _>("n")?
                    > 0
            }
        };
        if !exists {
            return Ok(Vec::new());
        }
        // The table's name is a constant of the binary's, never input. The flag as a number:
        // the Any driver reads no SQLite boolean.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT version, description, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS success \
             FROM {table} ORDER BY version"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    Version {
                        version: row.try_get("version")?,
                        description: row.try_get("description")?,
                    },
                    row.try_get::<i64, _>("success")? == 1,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: i64, description: &str) -> Version {
        Version {
            version,
            description: description.into(),
        }
    }

    #[test]
    fn a_binary_runs_on_its_schema_and_on_a_newer_release_s_expansions() {
        let current = Schema {
            table: "_sqlx_migrations",
            known: Some(v(2, "tier history")),
            applied: Some(v(2, "tier history")),
            ..Schema::default()
        };
        assert_eq!(current.refusal(Migrating::Verify), None);
        let expanded = Schema {
            applied: Some(v(3, "ledger index")),
            unknown: vec![v(3, "ledger index")],
            ..current.clone()
        };
        assert_eq!(expanded.refusal(Migrating::Verify), None);

        let contracted = Schema {
            applied: Some(v(4, "contract drop legacy tier")),
            unknown: vec![v(3, "ledger index"), v(4, "contract drop legacy tier")],
            ..current.clone()
        };
        let refusal = contracted.refusal(Migrating::OnStart).unwrap();
        assert!(
            refusal.contains("at 4 (contract drop legacy tier), newer than this binary's 2 (tier history)"),
            "{refusal}"
        );

        let behind = Schema {
            applied: Some(v(1, "initial")),
            missing: vec![v(2, "tier history")],
            ..current.clone()
        };
        assert_eq!(behind.refusal(Migrating::OnStart), None, "applied at start");
        let refusal = behind.refusal(Migrating::Verify).unwrap();
        assert!(
            refusal.contains("at 1 (initial), older than this binary's 2 (tier history)")
                && refusal.contains("crm migrate"),
            "{refusal}"
        );

        let broken = Schema {
            failed: vec![v(2, "tier history")],
            ..current
        };
        assert!(
            broken
                .refusal(Migrating::OnStart)
                .unwrap()
                .contains("did not finish")
        );
    }
}
