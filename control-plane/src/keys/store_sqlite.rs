//! Stored keys in SQLite.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::lifecycle::StoredKey;
use super::store::{
    parse, previous_version, record, replaced, sql_int, KeyStore, KeyStoreError, COMPONENT,
};
use crate::storage;

/// The key tables' schema versions, applied in order (see [`storage::sqlite::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
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
            params![key.id, key.sha256, sql_int(key.version), record(key)],
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
                sql_int(key.version),
                record(key),
                previous_version(key)
            ],
        )?;
        replaced(self, key, changed as u64)
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
