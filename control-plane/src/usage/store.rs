//! Where usage records live: the [`UsageStore`] trait and its SQLite implementation (one
//! file, created on first start, migrated by version). Another database implements the
//! same two operations.

use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::Value;
use tollgate_core::budget::BudgetScope;

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

    /// What the records of a budget's scope in the range cost, in nano-dollars (records
    /// without a cost count 0), leaving out those of one Envoy instance when asked.
    fn spent(&mut self, query: &SpendQuery) -> Result<u64, StoreError>;
}

/// The records a budget counts.
#[derive(Debug, Clone, Copy)]
pub struct SpendQuery<'a> {
    pub scope: &'a BudgetScope,
    pub range: TimeRange,
    /// An Envoy instance whose records are left out (`envoy_instance`); it counts its own.
    pub exclude_instance: Option<&'a str>,
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
                     team, alias, upstream_model, status, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
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
                    r.json
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
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
        )?;
        rows.map(|row| {
            let (id, text) = row?;
            serde_json::from_str(&text).map_err(|source| StoreError::Corrupt { id, source })
        })
        .collect()
    }

    fn spent(&mut self, query: &SpendQuery) -> Result<u64, StoreError> {
        let (sql, name) = spend_sql(query.scope);
        let mut select = self.connection.prepare_cached(sql)?;
        let spent: i64 = select.query_row(
            params![
                query.range.from_ms.unwrap_or(i64::MIN),
                query.range.to_ms.unwrap_or(i64::MAX),
                name,
                query.exclude_instance
            ],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(spent).unwrap_or(0))
    }
}

/// The spend query of a scope's kind (its column, or the record field of an agent), and
/// the name it must have.
fn spend_sql(scope: &BudgetScope) -> (&'static str, &str) {
    match scope {
        BudgetScope::Key(id) => (SPENT_BY_KEY, id),
        BudgetScope::Team(team) => (SPENT_BY_TEAM, team),
        BudgetScope::Agent(agent) => (SPENT_BY_AGENT, agent),
    }
}

macro_rules! spent_sql {
    ($scope:literal) => {
        concat!(
            "SELECT COALESCE(SUM(json_extract(record, '$.cost_nano_usd')), 0) FROM usage_records
             WHERE time_unix_ms >= ?1 AND time_unix_ms < ?2 AND ",
            $scope,
            " = ?3 AND (?4 IS NULL OR json_extract(record, '$.envoy_instance') IS NOT ?4)"
        )
    };
}
const SPENT_BY_KEY: &str = spent_sql!("key_id");
const SPENT_BY_TEAM: &str = spent_sql!("team");
const SPENT_BY_AGENT: &str = spent_sql!("json_extract(record, '$.agent_id')");

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
