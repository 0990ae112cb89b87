//! Durable MCP tool pins. The MCP filter pins a tool when it first lists it and ships a
//! [`PINNED_KIND`] record; the control plane keeps the first pin it gets per tool (first
//! writer wins), notes the definition each [`KIND`](tollgate_core::mcp::tool_change::KIND) record says a server now
//! lists, and sends the pins back in the filter's configuration, so a change made while
//! Envoy was down is still caught after a restart. An operator approves a changed
//! definition through the admin API ([`api`]), which moves the pin to the hash last seen.
//! Pins in the configuration file win over stored ones.
//!
//! - [`store`]: the backend-neutral [`store::PinStore`], in SQLite ([`store_sqlite`]) or
//!   PostgreSQL ([`store_postgres`]);
//! - [`registry`]: the store with audit and change notification;
//! - [`api`]: the admin REST API; [`client`]: the CLI's side of it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use tollgate_core::mcp::tool_change::PINNED_KIND;

use crate::config::McpServer;

pub mod api;
pub mod client;
pub mod registry;
pub mod store;
pub mod store_postgres;
pub mod store_sqlite;

/// A tool's stored pin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolPin {
    pub server: String,
    pub tool: String,
    pub pinned_sha256: String,
    /// The pinned definition as the filter remembered it (field hashes and short values);
    /// unknown after an approval.
    pub definition: Option<Value>,
    /// The definition the server was last seen listing, when not the pinned one.
    pub seen_sha256: Option<String>,
    /// What the last change record said changed: `changed_fields` and `changes`.
    pub changes: Option<Value>,
    /// The admin credential that approved the pin; `None` for a first-seen pin.
    pub approved_by: Option<String>,
    pub updated_unix_ms: i64,
}

/// What a filter shipped about pins.
#[derive(Debug, Clone, PartialEq)]
pub enum PinEvent {
    /// A tool pinned when first seen.
    FirstSeen {
        server: String,
        tool: String,
        sha256: String,
        definition: Value,
    },
    /// A server listed a definition other than the tool's pin.
    Changed {
        server: String,
        tool: String,
        pinned: String,
        seen: String,
        changes: Value,
    },
}

impl PinEvent {
    /// Whether a shipped record is a first-seen pin.
    pub fn is_first_seen(record: &Value) -> bool {
        record.get("kind").and_then(Value::as_str) == Some(PINNED_KIND)
    }

    /// The event of a first-seen pin record; `None` when a field it needs is missing.
    pub fn first_seen(record: &Value) -> Option<PinEvent> {
        let text = |field: &str| record.get(field).and_then(Value::as_str).map(str::to_owned);
        Some(PinEvent::FirstSeen {
            server: text("server")?,
            tool: text("tool")?,
            sha256: text("sha256")?,
            definition: record.get("definition")?.clone(),
        })
    }

    /// The event of a tool-change record (see [`tollgate_core::mcp::ToolChangeRecord`]).
    pub fn changed(record: &Value) -> Option<PinEvent> {
        let text = |field: &str| record.get(field).and_then(Value::as_str).map(str::to_owned);
        let field = |name: &str| record.get(name).cloned().unwrap_or(Value::Null);
        Some(PinEvent::Changed {
            server: text("server")?,
            tool: text("tool")?,
            pinned: text("pinned_sha256")?,
            seen: text("seen_sha256")?,
            changes: json!({
                "changed_fields": field("changed_fields"),
                "changes": field("changes"),
            }),
        })
    }
}

/// Adds the stored pins to the servers' configured ones; a tool pinned in the
/// configuration file keeps that pin.
pub fn merge_pins(servers: &mut [McpServer], stored: &[ToolPin]) {
    let mut by_server: BTreeMap<&str, Vec<&ToolPin>> = BTreeMap::new();
    for pin in stored {
        by_server.entry(&pin.server).or_default().push(pin);
    }
    for server in servers {
        for pin in by_server.get(server.name.as_str()).into_iter().flatten() {
            server
                .pins
                .entry(pin.tool.clone())
                .or_insert_with(|| pin.pinned_sha256.clone());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
