//! Every migration folder of the workspace keeps its backends in step: `postgres/` and `sqlite/`
//! hold the same migrations, each the same text on both, except those that
//! `migrations/backends.txt` names with the reason their SQL differs. A change made to one
//! backend only fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's `*/*/migrations` folders (libs and services).
fn migration_folders() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut folders = Vec::new();
    for group in ["libs", "services"] {
        let Ok(crates) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for krate in crates.flatten() {
            let folder = krate.path().join("migrations");
            if folder.is_dir() {
                folders.push(folder);
            }
        }
    }
    folders.sort();
    folders
}

fn sql_files(folder: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(folder)
        .unwrap_or_else(|err| panic!("{}: {err}", folder.display()))
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .map(|f| {
            (
                f.file_name().to_string_lossy().into_owned(),
                std::fs::read(f.path()).unwrap(),
            )
        })
        .collect()
}

/// `name: reason` lines of `backends.txt` (`#` starts a comment).
fn declared_differences(folder: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(folder.join("backends.txt")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: {l:?} is not `file: reason`", folder.display()));
            (name.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

#[test]
fn every_migration_exists_for_both_backends_and_differs_only_where_declared() {
    let folders = migration_folders();
    assert!(folders.len() >= 7, "found only {folders:?}");
    let mut problems = Vec::new();
    for folder in &folders {
        let postgres = sql_files(&folder.join("postgres"));
        let sqlite = sql_files(&folder.join("sqlite"));
        let declared = declared_differences(folder);
        let names: BTreeSet<&String> = postgres.keys().chain(sqlite.keys()).collect();
        for name in names {
            let here = folder.display();
            match (postgres.get(name), sqlite.get(name)) {
                (Some(_), None) => problems.push(format!("{here}: {name} exists for PostgreSQL only")),
                (None, Some(_)) => problems.push(format!("{here}: {name} exists for SQLite only")),
                (Some(pg), Some(lite)) if pg != lite && !declared.contains_key(name) => problems.push(
                    format!("{here}: {name} differs between the backends; say why in backends.txt"),
                ),
                (Some(pg), Some(lite)) if pg == lite && declared.contains_key(name) => problems.push(
                    format!("{here}: backends.txt declares {name} different, but it is the same"),
                ),
                _ => {}
            }
        }
        for name in declared.keys() {
            if !postgres.contains_key(name) && !sqlite.contains_key(name) {
                problems.push(format!(
                    "{}: backends.txt names {name}, which does not exist",
                    folder.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
