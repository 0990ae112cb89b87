//! Pins in SQLite.

use std::path::Path;

use rusqlite::{params, Connection, Row};

use super::store::{json_text, row, Approval, FirstPin, PinStore, SeenChange, COLUMNS, COMPONENT};
use super::ToolPin;
use crate::storage::{self, StoreError};

/// The pin tables' schema versions, applied in order (see [`storage::sqlite::migrate`]).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: one pin per server and tool; JSON columns as text.
    "CREATE TABLE mcp_tool_pins (
        server TEXT NOT NULL,
        tool TEXT NOT NULL,
        pinned_sha256 TEXT NOT NULL,
        definition TEXT,
        seen_sha256 TEXT,
        changes TEXT,
        approved_by TEXT,
        updated_unix_ms INTEGER NOT NULL,
        PRIMARY KEY (server, tool)
    );",
];

pub struct SqlitePinStore {
    connection: Connection,
}

impl SqlitePinStore {
    /// Opens (creating when absent) the database file and brings the pin tables up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = storage::sqlite::open(path)?;
        storage::sqlite::migrate(&mut connection, COMPONENT, MIGRATIONS)?;
        Ok(SqlitePinStore { connection })
    }

    fn get(&mut self, server: &str, tool: &str) -> Result<Option<ToolPin>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mcp_tool_pins WHERE server = ?1 AND tool = ?2");
        let mut select = self.connection.prepare_cached(&sql)?;
        let mut rows = select.query_map(params![server, tool], columns)?;
        rows.next().transpose()?.map(into_pin).transpose()
    }
}

type Columns = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

fn columns(r: &Row) -> rusqlite::Result<Columns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn into_pin(c: Columns) -> Result<ToolPin, StoreError> {
    row(c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7)
}

impl PinStore for SqlitePinStore {
    fn pin_first(&mut self, pin: &FirstPin) -> Result<bool, StoreError> {
        let inserted = self.connection.execute(
            "INSERT INTO mcp_tool_pins (server, tool, pinned_sha256, definition, updated_unix_ms)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (server, tool) DO NOTHING",
            params![
                pin.server,
                pin.tool,
                pin.sha256,
                json_text(pin.definition),
                pin.now_unix_ms
            ],
        )?;
        Ok(inserted == 1)
    }

    fn record_seen(&mut self, change: &SeenChange) -> Result<bool, StoreError> {
        let transaction = self.connection.transaction()?;
        let changes = json_text(change.changes);
        // One binding for both statements: the same six values, by position.
        let values = params![
            change.server,
            change.tool,
            change.pinned,
            change.seen,
            changes,
            change.now_unix_ms
        ];
        let inserted = transaction.execute(
            "INSERT INTO mcp_tool_pins
                (server, tool, pinned_sha256, seen_sha256, changes, updated_unix_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (server, tool) DO NOTHING",
            values,
        )?;
        if inserted == 0 {
            transaction.execute(
                "UPDATE mcp_tool_pins SET seen_sha256 = ?4, changes = ?5, updated_unix_ms = ?6
                 WHERE server = ?1 AND tool = ?2 AND pinned_sha256 = ?3",
                values,
            )?;
        }
        transaction.commit()?;
        Ok(inserted == 1)
    }

    fn approve(&mut self, approval: &Approval) -> Result<Option<ToolPin>, StoreError> {
        let Some(before) = self.get(approval.server, approval.tool)? else {
            return Ok(None);
        };
        let approved = self.connection.execute(
            "UPDATE mcp_tool_pins SET pinned_sha256 = seen_sha256, definition = NULL,
                seen_sha256 = NULL, changes = NULL, approved_by = ?4, updated_unix_ms = ?5
             WHERE server = ?1 AND tool = ?2 AND seen_sha256 = ?3",
            params![
                approval.server,
                approval.tool,
                approval.sha256,
                approval.actor,
                approval.now_unix_ms
            ],
        )?;
        Ok((approved == 1).then_some(before))
    }

    fn restore(&mut self, pin: &ToolPin) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE mcp_tool_pins SET pinned_sha256 = ?3, definition = ?4, seen_sha256 = ?5,
                changes = ?6, approved_by = ?7, updated_unix_ms = ?8
             WHERE server = ?1 AND tool = ?2",
            params![
                pin.server,
                pin.tool,
                pin.pinned_sha256,
                pin.definition.as_ref().map(json_text),
                pin.seen_sha256,
                pin.changes.as_ref().map(json_text),
                pin.approved_by,
                pin.updated_unix_ms
            ],
        )?;
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<ToolPin>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mcp_tool_pins ORDER BY server, tool");
        let mut select = self.connection.prepare_cached(&sql)?;
        let rows = select.query_map([], columns)?;
        rows.map(|r| into_pin(r?)).collect()
    }
}
