//! Budget alerts in PostgreSQL, shared by control-plane replicas.

use super::alert_store::{from_sql_int, sql_int, AlertStore, COMPONENT};
use super::alerts::Alert;
use crate::storage::postgres::{self, Connection};
use crate::storage::{PostgresUrl, StoreError};

/// The alert tables' schema versions, applied in order (see [`postgres::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: as SQLite's version 1. Ids compare bytewise ("C"), as in SQLite, so both list
    // alerts in one order.
    "CREATE TABLE budget_alerts (
        budget_id TEXT COLLATE \"C\" NOT NULL,
        period_start_ms BIGINT NOT NULL,
        threshold_percent BIGINT NOT NULL,
        spent_nano_usd BIGINT NOT NULL,
        limit_nano_usd BIGINT NOT NULL,
        created_unix_ms BIGINT NOT NULL,
        delivered_unix_ms BIGINT,
        PRIMARY KEY (budget_id, period_start_ms, threshold_percent)
    );",
];

pub struct PostgresAlertStore {
    connection: Connection,
}

impl PostgresAlertStore {
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        let mut connection = Connection::open(url)?;
        postgres::migrate(connection.client()?, COMPONENT, MIGRATIONS)?;
        Ok(PostgresAlertStore { connection })
    }
}

impl AlertStore for PostgresAlertStore {
    fn record(&mut self, alert: &Alert, now_ms: u64) -> Result<bool, StoreError> {
        let written = self.connection.client()?.execute(
            "INSERT INTO budget_alerts (budget_id, period_start_ms, threshold_percent,
                 spent_nano_usd, limit_nano_usd, created_unix_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
            &[
                &alert.budget_id,
                &sql_int(alert.period_start_ms),
                &sql_int(alert.threshold_percent),
                &sql_int(alert.spent_nano_usd),
                &sql_int(alert.limit_nano_usd),
                &sql_int(now_ms),
            ],
        )?;
        Ok(written == 1)
    }

    fn undelivered(&mut self) -> Result<Vec<Alert>, StoreError> {
        let rows = self.connection.client()?.query(
            "SELECT budget_id, period_start_ms, threshold_percent, spent_nano_usd, limit_nano_usd
             FROM budget_alerts WHERE delivered_unix_ms IS NULL
             ORDER BY created_unix_ms, budget_id, period_start_ms, threshold_percent",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|row| Alert {
                budget_id: row.get(0),
                period_start_ms: from_sql_int(row.get(1)),
                threshold_percent: from_sql_int(row.get(2)),
                spent_nano_usd: from_sql_int(row.get(3)),
                limit_nano_usd: from_sql_int(row.get(4)),
            })
            .collect())
    }

    fn delivered(&mut self, alert: &Alert, now_ms: u64) -> Result<(), StoreError> {
        self.connection.client()?.execute(
            "UPDATE budget_alerts SET delivered_unix_ms = $4
             WHERE budget_id = $1 AND period_start_ms = $2 AND threshold_percent = $3",
            &[
                &alert.budget_id,
                &sql_int(alert.period_start_ms),
                &sql_int(alert.threshold_percent),
                &sql_int(now_ms),
            ],
        )?;
        Ok(())
    }
}
