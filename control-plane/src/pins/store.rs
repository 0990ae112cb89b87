//! Where pins live: the backend-neutral [`PinStore`], implemented for SQLite
//! ([`store_sqlite`](super::store_sqlite)) and PostgreSQL
//! ([`store_postgres`](super::store_postgres)); [`open`] picks by the configured database.
//!
//! One row per server and tool. A first-seen pin is an insert that leaves an existing row
//! alone (first writer wins); an approval is one conditional `UPDATE … WHERE seen_sha256 =
//! approved`, so an approval computed from a stale listing, or racing another, changes
//! nothing.

use serde_json::Value;

use super::store_postgres::PostgresPinStore;
use super::store_sqlite::SqlitePinStore;
use super::ToolPin;
use crate::storage::{Database, StoreError};

/// A tool pinned when first seen.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstPin<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub sha256: &'a str,
    pub definition: &'a Value,
    pub now_unix_ms: i64,
}

/// A server seen listing `seen` for a tool pinned at `pinned`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenChange<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub pinned: &'a str,
    pub seen: &'a str,
    pub changes: &'a Value,
    pub now_unix_ms: i64,
}

/// An approval of the definition `sha256` of one tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub sha256: &'a str,
    pub actor: &'a str,
    pub now_unix_ms: i64,
}

pub trait PinStore: Send {
    /// Stores a first-seen pin unless the tool has one; returns whether it was stored.
    fn pin_first(&mut self, pin: &FirstPin) -> Result<bool, StoreError>;

    /// Notes what the server now lists, if the tool's pin is still `change.pinned`. A tool
    /// without a pin gets `pinned` as its pin (its first-seen record never arrived);
    /// returns whether it did.
    fn record_seen(&mut self, change: &SeenChange) -> Result<bool, StoreError>;

    /// Moves the pin to `approval.sha256` if that is the definition last seen; returns the
    /// pin as it was before when it did, `None` when the tool has no such seen definition.
    fn approve(&mut self, approval: &Approval) -> Result<Option<ToolPin>, StoreError>;

    /// Writes `pin` back as it was (undoing an approval that could not be audited).
    fn restore(&mut self, pin: &ToolPin) -> Result<(), StoreError>;

    /// Every pin, by server then tool.
    fn list(&mut self) -> Result<Vec<ToolPin>, StoreError>;
}

/// Opens (creating when absent) the pin tables of `database`, migrated to this build.
pub fn open(database: &Database) -> Result<Box<dyn PinStore>, StoreError> {
    match database {
        Database::Sqlite(path) => Ok(Box::new(SqlitePinStore::open(path)?)),
        Database::Postgres(url) => Ok(Box::new(PostgresPinStore::open(url)?)),
    }
}

/// The pin tables' component name in `schema_versions`.
pub(super) const COMPONENT: &str = "mcp_pins";

/// The columns every query reads, in [`row`]'s order.
pub(super) const COLUMNS: &str =
    "server, tool, pinned_sha256, definition, seen_sha256, changes, approved_by, updated_unix_ms";

/// A JSON column's text.
pub(super) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// A pin from its columns (JSON ones as text).
#[allow(clippy::too_many_arguments)]
pub(super) fn row(
    server: String,
    tool: String,
    pinned_sha256: String,
    definition: Option<String>,
    seen_sha256: Option<String>,
    changes: Option<String>,
    approved_by: Option<String>,
    updated_unix_ms: i64,
) -> Result<ToolPin, StoreError> {
    let parse = |text: Option<String>| {
        text.map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|source| StoreError::Corrupt {
                what: format!("pin of MCP tool {server}/{tool}"),
                source,
            })
    };
    Ok(ToolPin {
        definition: parse(definition)?,
        changes: parse(changes)?,
        server,
        tool,
        pinned_sha256,
        seen_sha256,
        approved_by,
        updated_unix_ms,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
