//! Where stored keys live: the backend-neutral [`KeyStore`] (plain [`StoredKey`]s in and
//! out) and its SQLite implementation. Only a secret's SHA-256 is ever stored.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::lifecycle::StoredKey;
use crate::storage::{self, sqlite::OpenError, Database, MigrationError};

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key database: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    #[error(
        "stored keys need a SQLite database for now: the PostgreSQL key store is not built yet"
    )]
    NoPostgres,
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
        Database::Postgres(_) => Err(KeyStoreError::NoPostgres),
    }
}

const COMPONENT: &str = "keys";
const MIGRATIONS: &[&str] = &[
    // 1: each key whole (JSON), with its id, hash and version as columns.
    "CREATE TABLE virtual_keys (
        id TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        record TEXT NOT NULL
    );",
];

pub struct SqliteKeyStore {
    connection: Connection,
}

impl SqliteKeyStore {
    /// Opens (creating when absent) the database file and brings the key tables up to date.
    pub fn open(path: &Path) -> Result<Self, KeyStoreError> {
        let mut connection = storage::sqlite::open(path)?;
        storage::sqlite::migrate(&mut connection, COMPONENT, MIGRATIONS)?;
        Ok(SqliteKeyStore { connection })
    }
}

fn record(key: &StoredKey) -> String {
    // Plain data without maps keyed by non-strings: serializing cannot fail.
    serde_json::to_string(key).unwrap_or_default()
}

fn parse(id: String, text: &str) -> Result<StoredKey, KeyStoreError> {
    serde_json::from_str(text).map_err(|source| KeyStoreError::Corrupt { id, source })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

impl KeyStore for SqliteKeyStore {
    fn insert(&mut self, key: &StoredKey) -> Result<(), KeyStoreError> {
        let inserted = self.connection.execute(
            "INSERT INTO virtual_keys (id, sha256, version, record) VALUES (?1, ?2, ?3, ?4)",
            params![key.id, key.sha256, key.version, record(key)],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(KeyStoreError::Exists(key.id.clone())),
            Err(e) => Err(e.into()),
        }
    }

    fn replace(&mut self, key: &StoredKey) -> Result<(), KeyStoreError> {
        let changed = self.connection.execute(
            "UPDATE virtual_keys SET sha256 = ?2, version = ?3, record = ?4
             WHERE id = ?1 AND version = ?5",
            params![
                key.id,
                key.sha256,
                key.version,
                record(key),
                key.version.saturating_sub(1)
            ],
        )?;
        if changed == 1 {
            return Ok(());
        }
        match self.get(&key.id)? {
            Some(_) => Err(KeyStoreError::Raced(key.id.clone())),
            None => Err(KeyStoreError::NotFound(key.id.clone())),
        }
    }

    fn remove(&mut self, id: &str) -> Result<(), KeyStoreError> {
        self.connection
            .execute("DELETE FROM virtual_keys WHERE id = ?1", [id])?;
        Ok(())
    }

    fn get(&mut self, id: &str) -> Result<Option<StoredKey>, KeyStoreError> {
        let text: Option<String> = self
            .connection
            .query_row(
                "SELECT record FROM virtual_keys WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?;
        text.map(|text| parse(id.to_string(), &text)).transpose()
    }

    fn list(&mut self) -> Result<Vec<StoredKey>, KeyStoreError> {
        let mut select = self
            .connection
            .prepare_cached("SELECT id, record FROM virtual_keys ORDER BY id")?;
        let rows = select.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (id, text) = row?;
            parse(id, &text)
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::lifecycle::{create, revoke, KeyScope, NewKey};

    fn store() -> SqliteKeyStore {
        SqliteKeyStore::open(Path::new(":memory:")).unwrap()
    }

    fn key(id: &str, hash: &str) -> StoredKey {
        let new = NewKey {
            id: id.into(),
            scope: KeyScope {
                models: vec!["*".into()],
                team: Some("ml".into()),
                ..KeyScope::default()
            },
            expires_unix_ms: Some(5_000),
        };
        create(new, hash.repeat(32), 1_000).unwrap()
    }

    #[test]
    fn keys_come_back_as_they_went_in() {
        let mut store = store();
        let (b, a) = (key("b", "bb"), key("a", "aa"));
        store.insert(&b).unwrap();
        store.insert(&a).unwrap();
        assert_eq!(store.get("a").unwrap(), Some(a.clone()));
        assert_eq!(store.get("c").unwrap(), None);
        assert_eq!(store.list().unwrap(), [a, b]);
    }

    #[test]
    fn ids_and_hashes_are_unique() {
        let mut store = store();
        store.insert(&key("a", "aa")).unwrap();
        let taken = store.insert(&key("a", "bb")).unwrap_err();
        assert!(matches!(taken, KeyStoreError::Exists(id) if id == "a"));
        assert!(store.insert(&key("b", "aa")).is_err());
    }

    #[test]
    fn a_replacement_must_follow_the_stored_version() {
        let mut store = store();
        let a = key("a", "aa");
        store.insert(&a).unwrap();
        let revoked = revoke(&a, 2_000).unwrap();
        store.replace(&revoked).unwrap();
        assert_eq!(store.get("a").unwrap(), Some(revoked));
        // Another writer computed its change from the version before.
        let stale = revoke(&a, 3_000).unwrap();
        assert!(matches!(
            store.replace(&stale),
            Err(KeyStoreError::Raced(_))
        ));
        let missing = revoke(&key("z", "cc"), 2_000).unwrap();
        assert!(matches!(
            store.replace(&missing),
            Err(KeyStoreError::NotFound(_))
        ));
        store.remove("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
    }
}
