//! Where usage records live: the [`UsageStore`] trait, implemented for SQLite
//! ([`store_sqlite`](super::store_sqlite)) and PostgreSQL
//! ([`store_postgres`](super::store_postgres)); [`open`] picks by the configured database.

use serde_json::Value;
use tollgate_core::budget::BudgetScope;

use super::ingest::IncomingRecord;
use super::store_postgres::PostgresStore;
use super::store_sqlite::SqliteStore;
use crate::storage::Database;
pub use crate::storage::StoreError;

/// The usage tables' component name in `schema_versions`.
pub(super) const COMPONENT: &str = "usage";

/// A half-open time range `[from, to)` in Unix milliseconds; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl TimeRange {
    /// The range as inclusive/exclusive bounds a query can bind.
    pub(super) fn bounds(self) -> (i64, i64) {
        (
            self.from_ms.unwrap_or(i64::MIN),
            self.to_ms.unwrap_or(i64::MAX),
        )
    }
}

pub trait UsageStore: Send {
    /// Stores the records whose id is not stored yet; returns how many were new. A
    /// redelivered record is ignored, so nothing is counted twice.
    fn insert(&mut self, records: &[IncomingRecord]) -> Result<usize, StoreError>;

    /// Every record in the range, as the filter wrote it, ordered by time and then by id
    /// (byte order, on both backends).
    fn records(&mut self, range: TimeRange) -> Result<Vec<Value>, StoreError>;

    /// What the records of a budget's scope in the range cost, in nano-dollars (records
    /// without a cost count 0), leaving out those of one Envoy instance when asked.
    fn spent(&mut self, query: &SpendQuery) -> Result<u64, StoreError>;

    /// Every record of one run (by its `run_id`), oldest first.
    fn run_records(&mut self, run_id: &str) -> Result<Vec<Value>, StoreError>;
}

/// The records a budget counts.
#[derive(Debug, Clone, Copy)]
pub struct SpendQuery<'a> {
    pub scope: &'a BudgetScope,
    pub range: TimeRange,
    /// An Envoy instance whose records are left out (`envoy_instance`); it counts its own.
    pub exclude_instance: Option<&'a str>,
}

impl SpendQuery<'_> {
    /// Which of a record's fields the scope matches (`key`, `team`, `agent`) and the name.
    pub(super) fn scope_column(&self) -> (&'static str, &str) {
        match self.scope {
            BudgetScope::Key(id) => ("key", id),
            BudgetScope::Team(team) => ("team", team),
            BudgetScope::Agent(agent) => ("agent", agent),
        }
    }
}

/// Opens (creating when absent) the usage tables of `database`, migrated to this build.
pub fn open(database: &Database) -> Result<Box<dyn UsageStore>, StoreError> {
    Ok(match database {
        Database::Sqlite(path) => Box::new(SqliteStore::open(path)?),
        Database::Postgres(url) => Box::new(PostgresStore::open(url)?),
    })
}

/// A stored record's text back as JSON.
pub(super) fn parse_record(id: String, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt {
        what: format!("usage record {id}"),
        source,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
