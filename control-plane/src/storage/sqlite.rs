//! Opening the SQLite database and migrating a component's tables.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::MigrationError;

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
    connection.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
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
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_versions (
            component TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        )",
    )?;
    let known = migrations.len() as i64;
    let found = version(connection, component)?;
    if found > known {
        return Err(MigrationError::TooNew {
            component: component.to_string(),
            found,
            known,
        });
    }
    for (index, sql) in migrations.iter().enumerate().skip(found as usize) {
        let tx = connection.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params![component, index as i64 + 1],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version `component` has reached (0: none of its tables exist).
pub fn version(connection: &Connection, component: &str) -> Result<i64, rusqlite::Error> {
    let version = connection
        .query_row(
            "SELECT version FROM schema_versions WHERE component = ?1",
            [component],
            |row| row.get(0),
        )
        .optional()?;
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &[&str] = &[
        "CREATE TABLE a (x INTEGER)",
        "ALTER TABLE a ADD COLUMN y INTEGER",
    ];

    #[test]
    fn applies_each_version_once_per_component() {
        let mut db = Connection::open_in_memory().unwrap();
        migrate(&mut db, "one", &TWO[..1]).unwrap();
        assert_eq!(version(&db, "one").unwrap(), 1);
        // A later build adds a version; only that one runs (re-running 1 would fail).
        migrate(&mut db, "one", TWO).unwrap();
        migrate(&mut db, "one", TWO).unwrap();
        assert_eq!(version(&db, "one").unwrap(), 2);
        db.execute("INSERT INTO a (x, y) VALUES (1, 2)", [])
            .unwrap();
        // Components do not share a version.
        migrate(&mut db, "two", &["CREATE TABLE b (z INTEGER)"]).unwrap();
        assert_eq!(version(&db, "two").unwrap(), 1);
        assert_eq!(version(&db, "one").unwrap(), 2);
    }

    #[test]
    fn refuses_tables_from_a_newer_build() {
        let mut db = Connection::open_in_memory().unwrap();
        migrate(&mut db, "one", TWO).unwrap();
        assert!(matches!(
            migrate(&mut db, "one", &TWO[..1]),
            Err(MigrationError::TooNew {
                found: 2,
                known: 1,
                ..
            })
        ));
    }

    #[test]
    fn a_failed_version_leaves_the_last_good_one() {
        let mut db = Connection::open_in_memory().unwrap();
        let broken = [TWO[0], "NOT SQL"];
        assert!(migrate(&mut db, "one", &broken).is_err());
        assert_eq!(version(&db, "one").unwrap(), 1);
    }
}
