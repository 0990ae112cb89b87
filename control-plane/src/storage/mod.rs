//! The control plane's database: one SQLite file by default, or a PostgreSQL server (by a
//! `postgres://` URL) when several control-plane replicas share their state.
//!
//! Each component (usage, audit, keys, ...) owns its tables and its own list of schema
//! versions per backend, applied in order by [`sqlite::migrate`] or [`postgres::migrate`],
//! so components evolve their schemas independently in one database.
//!
//! A component's store has the same shape everywhere (`usage/`, `audit/`, `keys/`; in
//! `budgets/` the files are `alert_store*.rs`):
//! - `store.rs`: the trait (`Send`, `&mut self` methods, [`StoreError`], or an error of its
//!   own where callers tell more cases apart, as `keys` does), the component's
//!   name in `schema_versions`, and `open(&Database) -> Box<dyn Trait>` matching on the
//!   backend;
//! - `store_sqlite.rs` / `store_postgres.rs`: `MIGRATIONS` for that backend and the
//!   implementation over [`sqlite::open`] / [`postgres::Connection`] (which reconnects);
//! - `store_tests.rs`: the suite, functions of `&TestDb` listed in `storage_suite!`, so
//!   each runs against SQLite always and PostgreSQL when `make test` started one.
//!
//! Operations that must not interleave across replicas (the audit chain's appends) take a
//! lock inside their transaction: SQLite `BEGIN IMMEDIATE`, PostgreSQL `LOCK TABLE`.

use std::fmt;
use std::path::PathBuf;

pub mod postgres;
pub mod sqlite;
#[cfg(test)]
pub mod test_support;

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod migrate_tests;

pub use postgres::PostgresUrl;

/// Where the control plane keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created (with its directory) on first use.
    Sqlite(PathBuf),
    Postgres(PostgresUrl),
}

/// Why a `database` setting names no database we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseError {
    #[error("must not be empty")]
    Empty,
    #[error("{0}:// databases are not supported; use a SQLite file path or a postgres:// URL")]
    Scheme(String),
    #[error(transparent)]
    Url(#[from] postgres::UrlError),
}

impl Database {
    /// A `postgres://` (or `postgresql://`) URL, or else a SQLite file path, made absolute
    /// by `resolve` (relative to the config file, or to the working directory).
    pub fn parse(text: &str, resolve: impl FnOnce(&str) -> PathBuf) -> Result<Self, DatabaseError> {
        if text.is_empty() {
            return Err(DatabaseError::Empty);
        }
        match text.split_once("://") {
            Some(("postgres" | "postgresql", _)) => {
                Ok(Database::Postgres(PostgresUrl::parse(text)?))
            }
            // A URL of a database we do not speak, rather than a file with an odd name.
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'+') =>
            {
                Err(DatabaseError::Scheme(scheme.to_string()))
            }
            _ => Ok(Database::Sqlite(resolve(text))),
        }
    }
}

/// What to show an operator: the file, or the URL without its password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// Why a schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {}", postgres::message(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("the {component} tables have schema version {found}; this build knows up to {known}")]
    TooNew {
        component: String,
        found: i64,
        known: i64,
    },
}

/// The migration to apply after version `found`, or `None` when the tables are current.
/// Both backends' runners call this inside the transaction that holds their lock.
fn next_migration<'a>(
    component: &str,
    found: i64,
    migrations: &[&'a str],
) -> Result<Option<&'a str>, MigrationError> {
    let known = migrations.len() as i64;
    if found > known {
        return Err(MigrationError::TooNew {
            component: component.to_string(),
            found,
            known,
        });
    }
    Ok(usize::try_from(found)
        .ok()
        .and_then(|index| migrations.get(index))
        .copied())
}

/// Why a store operation failed; shared by every component's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {}", postgres::message(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("database: {0}")]
    Open(#[from] sqlite::OpenError),
    #[error("database: {0}")]
    Migration(#[from] MigrationError),
    #[error("stored {what} is not JSON: {source}")]
    Corrupt {
        /// Which row, e.g. `usage record r.1` or `audit entry 7`.
        what: String,
        source: serde_json::Error,
    },
}

/// Now, in Unix milliseconds (0 before 1970, which no clock here reports).
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Database, DatabaseError> {
        Database::parse(text, |path| PathBuf::from("/base").join(path))
    }

    #[test]
    fn a_path_is_sqlite_and_a_postgres_url_is_postgres() {
        assert_eq!(parse("t.db"), Ok(Database::Sqlite("/base/t.db".into())));
        assert_eq!(parse("/abs/t.db"), Ok(Database::Sqlite("/abs/t.db".into())));
        let url = parse("postgresql://u:secret@db.internal:5433/tollgate").unwrap();
        assert!(matches!(url, Database::Postgres(_)));
        assert_eq!(url.to_string(), "postgres://u@db.internal:5433/tollgate");
        assert!(!format!("{url:?}").contains("secret"));
    }

    #[test]
    fn refuses_other_urls_and_nothing() {
        assert_eq!(parse(""), Err(DatabaseError::Empty));
        assert_eq!(
            parse("mysql://db/x"),
            Err(DatabaseError::Scheme("mysql".into()))
        );
        assert!(matches!(
            parse("postgres://u@db:notaport/x"),
            Err(DatabaseError::Url(_))
        ));
    }

    #[test]
    fn a_newer_schema_is_refused_and_a_current_one_needs_nothing() {
        assert_eq!(next_migration("c", 0, &["a", "b"]).unwrap(), Some("a"));
        assert_eq!(next_migration("c", 2, &["a", "b"]).unwrap(), None);
        assert!(matches!(
            next_migration("c", 3, &["a", "b"]),
            Err(MigrationError::TooNew {
                found: 3,
                known: 2,
                ..
            })
        ));
    }
}
