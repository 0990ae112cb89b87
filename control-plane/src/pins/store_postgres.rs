//! Pins in PostgreSQL, shared by control-plane replicas.

use super::store::{json_text, row, Approval, FirstPin, PinStore, SeenChange, COLUMNS, COMPONENT};
use super::ToolPin;
use crate::storage::postgres::{self, Connection};
use crate::storage::{PostgresUrl, StoreError};

/// The pin tables' schema versions, applied in order (see [`postgres::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: as SQLite's version 1. Names compare bytewise ("C"), as in SQLite, so both list
    // pins in one order.
    "CREATE TABLE mcp_tool_pins (
        server TEXT COLLATE \"C\" NOT NULL,
        tool TEXT COLLATE \"C\" NOT NULL,
        pinned_sha256 TEXT NOT NULL,
        definition TEXT,
        seen_sha256 TEXT,
        changes TEXT,
        approved_by TEXT,
        updated_unix_ms BIGINT NOT NULL,
        PRIMARY KEY (server, tool)
    );",
];

pub struct PostgresPinStore {
    connection: Connection,
}

impl PostgresPinStore {
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        let mut connection = Connection::open(url)?;
        postgres::migrate(connection.client()?, COMPONENT, MIGRATIONS)?;
        Ok(PostgresPinStore { connection })
    }
}

fn into_pin(r: &::postgres::Row) -> Result<ToolPin, StoreError> {
    row(
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
    )
}

impl PinStore for PostgresPinStore {
    fn pin_first(&mut self, pin: &FirstPin) -> Result<bool, StoreError> {
        let inserted = self.connection.client()?.execute(
            "INSERT INTO mcp_tool_pins (server, tool, pinned_sha256, definition, updated_unix_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server, tool) DO NOTHING",
            &[
                &pin.server,
                &pin.tool,
                &pin.sha256,
                &json_text(pin.definition),
                &pin.now_unix_ms,
            ],
        )?;
        Ok(inserted == 1)
    }

    fn record_seen(&mut self, change: &SeenChange) -> Result<bool, StoreError> {
        let changes = json_text(change.changes);
        // One binding for both statements: the same six values, by position.
        let values: [&(dyn ::postgres::types::ToSql + Sync); 6] = [
            &change.server,
            &change.tool,
            &change.pinned,
            &change.seen,
            &changes,
            &change.now_unix_ms,
        ];
        let mut transaction = self.connection.client()?.transaction()?;
        let inserted = transaction.execute(
            "INSERT INTO mcp_tool_pins
                (server, tool, pinned_sha256, seen_sha256, changes, updated_unix_ms)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (server, tool) DO NOTHING",
            &values,
        )?;
        if inserted == 0 {
            transaction.execute(
                "UPDATE mcp_tool_pins SET seen_sha256 = $4, changes = $5, updated_unix_ms = $6
                 WHERE server = $1 AND tool = $2 AND pinned_sha256 = $3",
                &values,
            )?;
        }
        transaction.commit()?;
        Ok(inserted == 1)
    }

    fn approve(&mut self, approval: &Approval) -> Result<Option<ToolPin>, StoreError> {
        // The row as it was, read in the statement that changes it.
        let sql = format!(
            "WITH before AS (
                SELECT {COLUMNS} FROM mcp_tool_pins
                WHERE server = $1 AND tool = $2 AND seen_sha256 = $3 FOR UPDATE
             ), approved AS (
                UPDATE mcp_tool_pins p SET pinned_sha256 = p.seen_sha256, definition = NULL,
                    seen_sha256 = NULL, changes = NULL, approved_by = $4, updated_unix_ms = $5
                FROM before b WHERE p.server = b.server AND p.tool = b.tool
             )
             SELECT {COLUMNS} FROM before"
        );
        let rows = self.connection.client()?.query(
            &sql,
            &[
                &approval.server,
                &approval.tool,
                &approval.sha256,
                &approval.actor,
                &approval.now_unix_ms,
            ],
        )?;
        rows.first().map(into_pin).transpose()
    }

    fn restore(&mut self, pin: &ToolPin) -> Result<(), StoreError> {
        let (definition, changes) = (
            pin.definition.as_ref().map(json_text),
            pin.changes.as_ref().map(json_text),
        );
        self.connection.client()?.execute(
            "UPDATE mcp_tool_pins SET pinned_sha256 = $3, definition = $4, seen_sha256 = $5,
                changes = $6, approved_by = $7, updated_unix_ms = $8
             WHERE server = $1 AND tool = $2",
            &[
                &pin.server,
                &pin.tool,
                &pin.pinned_sha256,
                &definition,
                &pin.seen_sha256,
                &changes,
                &pin.approved_by,
                &pin.updated_unix_ms,
            ],
        )?;
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<ToolPin>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mcp_tool_pins ORDER BY server, tool");
        let rows = self.connection.client()?.query(&sql, &[])?;
        rows.iter().map(into_pin).collect()
    }
}
