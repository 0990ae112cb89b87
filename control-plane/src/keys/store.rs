//! Where stored keys live: the backend-neutral [`KeyStore`] (plain [`StoredKey`]s in and
//! out), implemented for SQLite ([`store_sqlite`](super::store_sqlite)) and PostgreSQL
//! ([`store_postgres`](super::store_postgres)); [`open`] picks by the configured database.
//! Only a secret's SHA-256 is ever stored.
//!
//! Both keep each key whole as JSON beside its id (primary key), hash (unique) and version;
//! a replacement is one conditional `UPDATE … WHERE version = previous`, so two replicas
//! changing one key cannot both win.

use super::lifecycle::StoredKey;
use super::store_postgres::PostgresKeyStore;
pub use super::store_sqlite::SqliteKeyStore;
use crate::storage::{self, sqlite::OpenError, Database, MigrationError};

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("key database: {}", storage::postgres::message(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("key database: {0}")]
    Open(#[from] OpenError),
    #[error("key database: {0}")]
    Migration(#[from] MigrationError),
    #[error("stored key {id} cannot be read: {source}")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
    #[error("a key with id {0:?} already exists")]
    Exists(String),
    #[error("no key has id {0:?}")]
    NotFound(String),
    #[error("key {0:?} was changed concurrently; retry")]
    Raced(String),
}

/// Keys by id. Transitions are computed outside (see [`super::lifecycle`]); a store only
/// keeps their results, refusing a write based on a version it no longer has.
pub trait KeyStore: Send {
    /// Adds a new key; [`KeyStoreError::Exists`] when its id is taken.
    fn insert(&mut self, key: &StoredKey) -> Result<(), KeyStoreError>;

    /// Replaces the stored key of the same id, which must still be at `key.version - 1`
    /// ([`KeyStoreError::Raced`] otherwise).
    fn replace(&mut self, key: &StoredKey) -> Result<(), KeyStoreError>;

    /// Removes a key, whatever its version: only for undoing an insert that could not be
    /// audited.
    fn remove(&mut self, id: &str) -> Result<(), KeyStoreError>;

    fn get(&mut self, id: &str) -> Result<Option<StoredKey>, KeyStoreError>;

    /// Every key, by id.
    fn list(&mut self) -> Result<Vec<StoredKey>, KeyStoreError>;
}

/// Opens (creating when absent) the key tables of `database`, migrated to this build.
pub fn open(database: &Database) -> Result<Box<dyn KeyStore>, KeyStoreError> {
    match database {
        Database::Sqlite(path) => Ok(Box::new(SqliteKeyStore::open(path)?)),
        Database::Postgres(url) => Ok(Box::new(PostgresKeyStore::open(url)?)),
    }
}

/// The key tables' component name in `schema_versions`.
pub(super) const COMPONENT: &str = "keys";

/// A key as stored: the whole of it, as JSON.
pub(super) fn record(key: &StoredKey) -> String {
    // Plain data without maps keyed by non-strings: serializing cannot fail.
    serde_json::to_string(key).unwrap_or_default()
}

pub(super) fn parse(id: String, text: &str) -> Result<StoredKey, KeyStoreError> {
    serde_json::from_str(text).map_err(|source| KeyStoreError::Corrupt { id, source })
}

/// The version a replacement of `key` must find stored.
pub(super) fn previous_version(key: &StoredKey) -> i64 {
    sql_int(key.version.saturating_sub(1))
}

pub(super) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The outcome of a replacement that changed `rows`: none means the key moved on, or is gone.
pub(super) fn replaced(
    store: &mut dyn KeyStore,
    key: &StoredKey,
    rows: u64,
) -> Result<(), KeyStoreError> {
    if rows == 1 {
        return Ok(());
    }
    match store.get(&key.id)? {
        Some(_) => Err(KeyStoreError::Raced(key.id.clone())),
        None => Err(KeyStoreError::NotFound(key.id.clone())),
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
