//! Stored keys in PostgreSQL, shared by control-plane replicas.

use ::postgres::error::SqlState;

use super::lifecycle::StoredKey;
use super::store::{
    parse, previous_version, record, replaced, sql_int, KeyStore, KeyStoreError, COMPONENT,
};
use crate::storage::postgres::{self, Connection};
use crate::storage::PostgresUrl;

/// The key tables' schema versions, applied in order (see [`postgres::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: as SQLite's version 1. Ids compare bytewise ("C"), as in SQLite, so both list
    // keys in one order.
    "CREATE TABLE virtual_keys (
        id TEXT COLLATE \"C\" PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        version BIGINT NOT NULL,
        record TEXT NOT NULL
    );",
];

pub struct PostgresKeyStore {
    connection: Connection,
}

impl PostgresKeyStore {
    pub fn open(url: &PostgresUrl) -> Result<Self, KeyStoreError> {
        let mut connection = Connection::open(url)?;
        postgres::migrate(connection.client()?, COMPONENT, MIGRATIONS)?;
        Ok(PostgresKeyStore { connection })
    }
}

impl KeyStore for PostgresKeyStore {
    fn insert(&mut self, key: &StoredKey) -> Result<(), KeyStoreError> {
        let inserted = self.connection.client()?.execute(
            "INSERT INTO virtual_keys (id, sha256, version, record) VALUES ($1, $2, $3, $4)",
            &[&key.id, &key.sha256, &sql_int(key.version), &record(key)],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(KeyStoreError::Exists(key.id.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn replace(&mut self, key: &StoredKey) -> Result<(), KeyStoreError> {
        let changed = self.connection.client()?.execute(
            "UPDATE virtual_keys SET sha256 = $2, version = $3, record = $4
             WHERE id = $1 AND version = $5",
            &[
                &key.id,
                &key.sha256,
                &sql_int(key.version),
                &record(key),
                &previous_version(key),
            ],
        )?;
        replaced(self, key, changed)
    }

    fn remove(&mut self, id: &str) -> Result<(), KeyStoreError> {
        self.connection
            .client()?
            .execute("DELETE FROM virtual_keys WHERE id = $1", &[&id])?;
        Ok(())
    }

    fn get(&mut self, id: &str) -> Result<Option<StoredKey>, KeyStoreError> {
        let row = self
            .connection
            .client()?
            .query_opt("SELECT record FROM virtual_keys WHERE id = $1", &[&id])?;
        row.map(|row| parse(id.to_string(), row.get(0))).transpose()
    }

    fn list(&mut self) -> Result<Vec<StoredKey>, KeyStoreError> {
        let rows = self
            .connection
            .client()?
            .query("SELECT id, record FROM virtual_keys ORDER BY id", &[])?;
        rows.into_iter()
            .map(|row| parse(row.get(0), row.get(1)))
            .collect()
    }
}
