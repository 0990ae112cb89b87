//! Where budget alerts are written: the [`AlertStore`] trait, implemented for SQLite
//! ([`alert_store_sqlite`](super::alert_store_sqlite)) and PostgreSQL
//! ([`alert_store_postgres`](super::alert_store_postgres)); [`open`] picks by the
//! configured database.
//!
//! (budget, period, threshold) is the primary key and a second write of it does nothing,
//! so an alert is new to exactly one writer, whichever replica found it first.

use super::alert_store_postgres::PostgresAlertStore;
use super::alert_store_sqlite::SqliteAlertStore;
use super::alerts::Alert;
use crate::storage::{Database, StoreError};

/// The alert tables' component name in `schema_versions`.
pub(super) const COMPONENT: &str = "budget_alerts";

pub trait AlertStore: Send {
    /// Writes `alert` unless it was written before; returns whether it is new.
    fn record(&mut self, alert: &Alert, now_ms: u64) -> Result<bool, StoreError>;

    /// Alerts not marked delivered, oldest first.
    fn undelivered(&mut self) -> Result<Vec<Alert>, StoreError>;

    fn delivered(&mut self, alert: &Alert, now_ms: u64) -> Result<(), StoreError>;
}

/// Opens (creating when absent) the alert tables of `database`, migrated to this build.
pub fn open(database: &Database) -> Result<Box<dyn AlertStore>, StoreError> {
    Ok(match database {
        Database::Sqlite(path) => Box::new(SqliteAlertStore::open(path)?),
        Database::Postgres(url) => Box::new(PostgresAlertStore::open(url)?),
    })
}

/// Both backends' integers are signed 64-bit; nothing stored here comes near the limit.
pub(super) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
#[path = "alert_store_tests.rs"]
mod tests;
