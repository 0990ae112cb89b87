//! Where usage records live: the [`UsageStore`] trait and its SQLite implementation (one
//! file, created on first start, migrated by version). Another database implements the
//! same two operations.

use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::Value;

use super::ingest::IncomingRecord;
use crate::storage::{self, sqlite::OpenError, MigrationError};

/// A half-open time range `[from, to)` in Unix milliseconds; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("usage database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("usage database: {0}")]
    Open(#[from] OpenError),
    #[error("usage database: {0}")]
    Migration(#[from] MigrationError),
    #[error("stored record {id} is not JSON: {source}")]
    Corrupt {
        id: String,
        source: serde_json::Error,
    },
}

pub trait UsageStore: Send {
    /// Stores the records whose id is not stored yet; returns how many were new. A
    /// redelivered record is ignored, so nothing is counted twice.
    fn insert(&mut self, records: &[IncomingRecord]) -> Result<usize, StoreError>;

    /// Every record in the range, as the filter wrote it, oldest first.
    fn records(&mut self, range: TimeRange) -> Result<Vec<Value>, StoreError>;

    /// Every record of one run (by its `run_id`), oldest first.
    fn run_records(&mut self, run_id: &str) -> Result<Vec<Value>, StoreError>;
}

/// The usage tables' schema versions, applied in order (see [`storage::sqlite::migrate`]).
const COMPONENT: &str = "usage";
const MIGRATIONS: &[&str] = &[
    // 1: records, whole, with the columns every record has.
    "CREATE TABLE usage_records (
        id TEXT PRIMARY KEY,
        time_unix_ms INTEGER NOT NULL,
        received_unix_ms INTEGER NOT NULL,
        provider TEXT,
        key_id TEXT,
        team TEXT,
        alias TEXT,
        upstream_model TEXT,
        status INTEGER,
        record TEXT NOT NULL
    );
    CREATE INDEX usage_records_time ON usage_records (time_unix_ms);",
    // 2: the run of each step, for run timelines.
    "ALTER TABLE usage_records ADD COLUMN run_id TEXT;
    UPDATE usage_records SET run_id = json_extract(record, '$.run_id');
    CREATE INDEX usage_records_run ON usage_records (run_id, time_unix_ms);",
];

pub struct SqliteStore {
    connection: Connection,
}

impl SqliteStore {
    /// Opens (creating when absent) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = storage::sqlite::open(path)?;
        storage::sqlite::migrate(&mut connection, COMPONENT, MIGRATIONS)?;
        Ok(SqliteStore { connection })
    }

    #[cfg(test)]
    fn schema_version(&self) -> i64 {
        storage::sqlite::version(&self.connection, COMPONENT).unwrap()
    }
}

impl UsageStore for SqliteStore {
    fn insert(&mut self, records: &[IncomingRecord]) -> Result<usize, StoreError> {
        let received = now_unix_ms();
        let tx = self.connection.transaction()?;
        let mut stored = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO usage_records (id, time_unix_ms, received_unix_ms, provider, key_id,
                     team, alias, upstream_model, status, record, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO NOTHING",
            )?;
            for r in records {
                stored += insert.execute(params![
                    r.id,
                    r.time_unix_ms,
                    received,
                    r.provider,
                    r.key_id,
                    r.team,
                    r.alias,
                    r.upstream_model,
                    r.status,
                    r.json,
                    r.run_id
                ])?;
            }
        }
        tx.commit()?;
        Ok(stored)
    }

    fn records(&mut self, range: TimeRange) -> Result<Vec<Value>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT id, record FROM usage_records
             WHERE time_unix_ms >= ?1 AND time_unix_ms < ?2
             ORDER BY time_unix_ms, id",
        )?;
        let rows = select.query_map(
            params![
                range.from_ms.unwrap_or(i64::MIN),
                range.to_ms.unwrap_or(i64::MAX)
            ],
            id_and_record,
        )?;
        rows.map(parse_row).collect()
    }

    fn run_records(&mut self, run_id: &str) -> Result<Vec<Value>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT id, record FROM usage_records WHERE run_id = ?1 ORDER BY time_unix_ms, id",
        )?;
        let rows = select.query_map(params![run_id], id_and_record)?;
        rows.map(parse_row).collect()
    }
}

fn id_and_record(row: &rusqlite::Row) -> rusqlite::Result<(String, String)> {
    Ok((row.get(0)?, row.get(1)?))
}

fn parse_row(row: rusqlite::Result<(String, String)>) -> Result<Value, StoreError> {
    let (id, text) = row?;
    serde_json::from_str(&text).map_err(|source| StoreError::Corrupt { id, source })
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
