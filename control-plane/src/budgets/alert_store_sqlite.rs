//! Budget alerts in SQLite.

use std::path::Path;

use rusqlite::{params, Connection};

use super::alert_store::{from_sql_int, sql_int, AlertStore, COMPONENT};
use super::alerts::Alert;
use crate::storage::{self, StoreError};

/// The alert tables' schema versions, applied in order (see [`storage::sqlite::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: one row per alert, ever; delivered when the webhook took it.
    "CREATE TABLE budget_alerts (
        budget_id TEXT NOT NULL,
        period_start_ms INTEGER NOT NULL,
        threshold_percent INTEGER NOT NULL,
        spent_nano_usd INTEGER NOT NULL,
        limit_nano_usd INTEGER NOT NULL,
        created_unix_ms INTEGER NOT NULL,
        delivered_unix_ms INTEGER,
        PRIMARY KEY (budget_id, period_start_ms, threshold_percent)
    );",
];

pub struct SqliteAlertStore {
    connection: Connection,
}

impl SqliteAlertStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = storage::sqlite::open(path)?;
        storage::sqlite::migrate(&mut connection, COMPONENT, MIGRATIONS)?;
        Ok(SqliteAlertStore { connection })
    }
}

impl AlertStore for SqliteAlertStore {
    fn record(&mut self, alert: &Alert, now_ms: u64) -> Result<bool, StoreError> {
        let written = self.connection.execute(
            "INSERT INTO budget_alerts (budget_id, period_start_ms, threshold_percent,
                 spent_nano_usd, limit_nano_usd, created_unix_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
            params![
                alert.budget_id,
                sql_int(alert.period_start_ms),
                sql_int(alert.threshold_percent),
                sql_int(alert.spent_nano_usd),
                sql_int(alert.limit_nano_usd),
                sql_int(now_ms)
            ],
        )?;
        Ok(written == 1)
    }

    fn undelivered(&mut self) -> Result<Vec<Alert>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT budget_id, period_start_ms, threshold_percent, spent_nano_usd, limit_nano_usd
             FROM budget_alerts WHERE delivered_unix_ms IS NULL
             ORDER BY created_unix_ms, budget_id, period_start_ms, threshold_percent",
        )?;
        let rows = select.query_map([], |row| {
            Ok(Alert {
                budget_id: row.get(0)?,
                period_start_ms: from_sql_int(row.get(1)?),
                threshold_percent: from_sql_int(row.get(2)?),
                spent_nano_usd: from_sql_int(row.get(3)?),
                limit_nano_usd: from_sql_int(row.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delivered(&mut self, alert: &Alert, now_ms: u64) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE budget_alerts SET delivered_unix_ms = ?4
             WHERE budget_id = ?1 AND period_start_ms = ?2 AND threshold_percent = ?3",
            params![
                alert.budget_id,
                sql_int(alert.period_start_ms),
                sql_int(alert.threshold_percent),
                sql_int(now_ms)
            ],
        )?;
        Ok(())
    }
}
