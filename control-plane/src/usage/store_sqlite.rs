//! The usage store in SQLite (one file, created on first start, migrated by version).

use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::Value;

use super::ingest::IncomingRecord;
use super::store::{parse_record, SpendQuery, StoreError, TimeRange, UsageStore, COMPONENT};
use crate::storage::{self, now_unix_ms};

/// The usage tables' schema versions, applied in order (see [`storage::sqlite::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
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
        let (from, to) = range.bounds();
        let rows = select.query_map(params![from, to], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (id, text) = row?;
            parse_record(id, &text)
        })
        .collect()
    }

    fn run_records(&mut self, run_id: &str) -> Result<Vec<Value>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT id, record FROM usage_records WHERE run_id = ?1 ORDER BY time_unix_ms, id",
        )?;
        let rows = select.query_map(params![run_id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (id, text) = row?;
            parse_record(id, &text)
        })
        .collect()
    }

    fn spent(&mut self, query: &SpendQuery) -> Result<u64, StoreError> {
        let mut select = self.connection.prepare_cached(SPENT)?;
        let (from, to) = query.range.bounds();
        let (column, name) = query.scope_column();
        let spent: i64 = select.query_row(
            params![from, to, column, name, query.exclude_instance],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(spent).unwrap_or(0))
    }
}

/// A budget scope's spending: the cost of its records in the range (`?3` names the
/// scope's column, see [`SpendQuery::scope_column`]), leaving one Envoy's out when asked.
const SPENT: &str = "SELECT COALESCE(SUM(json_extract(record, '$.cost_nano_usd')), 0)
    FROM usage_records
    WHERE time_unix_ms >= ?1 AND time_unix_ms < ?2
      AND CASE ?3 WHEN 'key' THEN key_id WHEN 'team' THEN team
                  ELSE json_extract(record, '$.agent_id') END = ?4
      AND (?5 IS NULL OR json_extract(record, '$.envoy_instance') IS NOT ?5)";
