//! Opening the SQLite database and migrating a component's tables.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{next_migration, MigrationError};

/// Opens (creating when absent, with its directory) the database file, ready for one
/// writer beside concurrent readers (the service writes while `tollgate usage` reads).
pub fn open(path: &Path) -> Result<Connection, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
            path: path.display().to_string(),
            source,
        })?;
    }
    let connection = Connection::open(path)?;
    // First, so that switching to WAL waits for a process opening the file at the same time.
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    // Only when not WAL yet: setting it again is a no-op that can still fail with BUSY,
    // without waiting, while another connection migrates.
    let mode: String = connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    }
    Ok(connection)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the directory of {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
}

/// Applies the `migrations` of `component` it has not applied yet, each in its own
/// transaction; the version reached is kept in `schema_versions`. A database migrated by a
/// newer build (more versions than this one knows) is refused rather than misread.
pub fn migrate(
    connection: &mut Connection,
    component: &str,
    migrations: &[&str],
) -> Result<(), MigrationError> {
    loop {
        // IMMEDIATE takes the write lock before the version is read, so two processes
        // opening one file at once take turns instead of applying a version twice.
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_versions (
                component TEXT PRIMARY KEY,
                version INTEGER NOT NULL
            )",
        )?;
        let found = version(&tx, component)?;
        let Some(sql) = next_migration(component, found, migrations)? else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params![component, found + 1],
        )?;
        tx.commit()?;
    }
}

/// The schema version `component` has reached (0: none of its tables exist).
pub fn version(connection: &Connection, component: &str) -> Result<i64, rusqlite::Error> {
    let exists = connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'",
            [],
            |_| Ok(()),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(0);
    }
    let version = connection
        .query_row(
            "SELECT version FROM schema_versions WHERE component = ?1",
            [component],
            |row| row.get(0),
        )
        .optional()?;
    Ok(version.unwrap_or(0))
}
