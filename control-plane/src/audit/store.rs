//! Where the audit log lives: the [`AuditStore`] trait, implemented for SQLite
//! ([`store_sqlite`](super::store_sqlite)) and PostgreSQL
//! ([`store_postgres`](super::store_postgres)); [`open`] picks by the configured database.
//!
//! Both implementations append under a lock that covers reading the head and inserting
//! the entry (SQLite: an immediate transaction; PostgreSQL: a table lock in the
//! transaction), so appenders in several threads, processes or replicas take turns and
//! the chain cannot fork. `seq` is the primary key and `prev_hash` unique as a backstop.

use super::chain::AuditEntry;
use super::store_postgres::PostgresStore;
use super::store_sqlite::SqliteStore;
use super::AuditEvent;
use crate::storage::Database;
pub use crate::storage::StoreError;

/// The audit tables' component name in `schema_versions`.
pub(super) const COMPONENT: &str = "audit";

pub trait AuditStore: Send {
    /// Records `event` as the entry after the current last one, timed now.
    fn append(&mut self, event: &AuditEvent) -> Result<AuditEntry, StoreError>;

    /// As [`Self::append`], unless an entry shipped as `source` (a filter record's id) is
    /// in the log already: then `None`, and nothing is appended. A redelivered record, or
    /// one change reported by several Envoys, is logged once.
    fn append_once(
        &mut self,
        source: &str,
        event: &AuditEvent,
    ) -> Result<Option<AuditEntry>, StoreError>;

    /// Every entry as stored, by `seq` (unverified: see [`super::chain::verify`]).
    fn entries(&mut self) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Opens (creating when absent) the audit tables of `database`, migrated to this build.
pub fn open(database: &Database) -> Result<Box<dyn AuditStore>, StoreError> {
    Ok(match database {
        Database::Sqlite(path) => Box::new(SqliteStore::open(path)?),
        Database::Postgres(url) => Box::new(PostgresStore::open(url)?),
    })
}

/// A stored entry's `details` text back as JSON.
pub(super) fn parse_details(seq: i64, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt {
        what: format!("audit entry {seq}"),
        source,
    })
}

/// The time an entry is appended at.
pub(super) fn now() -> String {
    crate::usage::time::format_unix_ms(crate::storage::now_unix_ms())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
