//! The usage store in PostgreSQL, for control-plane replicas sharing one database.

use serde_json::Value;

use super::ingest::IncomingRecord;
use super::store::{parse_record, SpendQuery, StoreError, TimeRange, UsageStore, COMPONENT};
use crate::storage::postgres::{self, Connection};
use crate::storage::{now_unix_ms, PostgresUrl};

/// The usage tables' schema versions, applied in order (see [`postgres::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: as SQLite's version 1. Ids compare bytewise ("C"), as in SQLite, so reports
    // list records in the same order whatever the server's locale.
    r#"CREATE TABLE usage_records (
        id TEXT COLLATE "C" PRIMARY KEY,
        time_unix_ms BIGINT NOT NULL,
        received_unix_ms BIGINT NOT NULL,
        provider TEXT,
        key_id TEXT,
        team TEXT,
        alias TEXT,
        upstream_model TEXT,
        status BIGINT,
        record TEXT NOT NULL
    );
    CREATE INDEX usage_records_time ON usage_records (time_unix_ms);"#,
    // 2: the run of each step, for run timelines.
    "ALTER TABLE usage_records ADD COLUMN run_id TEXT;
    UPDATE usage_records SET run_id = record::jsonb ->> 'run_id';
    CREATE INDEX usage_records_run ON usage_records (run_id, time_unix_ms);",
];

pub struct PostgresStore {
    connection: Connection,
}

impl PostgresStore {
    /// Connects and brings the usage tables up to date.
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        let mut connection = Connection::open(url)?;
        postgres::migrate(connection.client()?, COMPONENT, MIGRATIONS)?;
        Ok(PostgresStore { connection })
    }
}

impl UsageStore for PostgresStore {
    /// One statement for the whole batch (one round trip): the columns go as arrays.
    fn insert(&mut self, records: &[IncomingRecord]) -> Result<usize, StoreError> {
        let column = |field: fn(&IncomingRecord) -> Option<&str>| -> Vec<Option<&str>> {
            records.iter().map(field).collect()
        };
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let times: Vec<i64> = records.iter().map(|r| r.time_unix_ms).collect();
        let statuses: Vec<Option<i64>> = records.iter().map(|r| r.status).collect();
        let jsons: Vec<&str> = records.iter().map(|r| r.json.as_str()).collect();
        let stored = self.connection.client()?.execute(
            "INSERT INTO usage_records (id, time_unix_ms, received_unix_ms, provider, key_id,
                 team, alias, upstream_model, status, record, run_id)
             SELECT id, time_unix_ms, $3, provider, key_id, team, alias, upstream_model,
                 status, record, run_id
             FROM UNNEST($1::text[], $2::bigint[], $4::text[], $5::text[], $6::text[],
                 $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[])
                 AS batch (id, time_unix_ms, provider, key_id, team, alias, upstream_model,
                     status, record, run_id)
             ON CONFLICT (id) DO NOTHING",
            &[
                &ids,
                &times,
                &now_unix_ms(),
                &column(|r| r.provider.as_deref()),
                &column(|r| r.key_id.as_deref()),
                &column(|r| r.team.as_deref()),
                &column(|r| r.alias.as_deref()),
                &column(|r| r.upstream_model.as_deref()),
                &statuses,
                &jsons,
                &column(|r| r.run_id.as_deref()),
            ],
        )?;
        Ok(usize::try_from(stored).unwrap_or(usize::MAX))
    }

    fn records(&mut self, range: TimeRange) -> Result<Vec<Value>, StoreError> {
        let (from, to) = range.bounds();
        let rows = self.connection.client()?.query(
            "SELECT id, record FROM usage_records
             WHERE time_unix_ms >= $1 AND time_unix_ms < $2
             ORDER BY time_unix_ms, id",
            &[&from, &to],
        )?;
        rows.into_iter()
            .map(|row| parse_record(row.get(0), row.get(1)))
            .collect()
    }

    fn run_records(&mut self, run_id: &str) -> Result<Vec<Value>, StoreError> {
        let rows = self.connection.client()?.query(
            "SELECT id, record FROM usage_records WHERE run_id = $1 ORDER BY time_unix_ms, id",
            &[&run_id],
        )?;
        rows.into_iter()
            .map(|row| parse_record(row.get(0), row.get(1)))
            .collect()
    }

    fn spent(&mut self, query: &SpendQuery) -> Result<u64, StoreError> {
        let (from, to) = query.range.bounds();
        let (column, name) = query.scope_column();
        let row = self.connection.client()?.query_one(
            "SELECT COALESCE(SUM((record::jsonb ->> 'cost_nano_usd')::bigint), 0)::bigint
             FROM usage_records
             WHERE time_unix_ms >= $1 AND time_unix_ms < $2
               AND CASE $3::text WHEN 'key' THEN key_id WHEN 'team' THEN team
                                 ELSE record::jsonb ->> 'agent_id' END = $4
               AND ($5::text IS NULL
                    OR (record::jsonb ->> 'envoy_instance') IS DISTINCT FROM $5)",
            &[&from, &to, &column, &name, &query.exclude_instance],
        )?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}
