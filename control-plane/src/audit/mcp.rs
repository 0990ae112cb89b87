//! MCP tool changes in the audit log. The MCP filter ships a record of kind
//! [`tool_change::KIND`] through the usage outbox once per change; ingestion turns it into
//! an `mcp.tool_changed` event saying which fields of which tool changed and how, and the
//! record never becomes a usage step.

use serde_json::{json, Value};
use tollgate_core::mcp::tool_change;

use super::AuditEvent;

/// The action of a tool whose definition no longer matches its pin.
pub const TOOL_CHANGED: &str = "mcp.tool_changed";

/// An event a filter shipped, with the record id it came as (logged once per id).
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedEvent {
    pub source: String,
    pub event: AuditEvent,
}

/// Whether a shipped record is a tool change rather than a usage step.
pub fn is_tool_change(record: &Value) -> bool {
    record.get("kind").and_then(Value::as_str) == Some(tool_change::KIND)
}

/// The event of a tool-change record; `None` when a field it needs is missing.
pub fn tool_changed(record: &Value) -> Option<ShippedEvent> {
    let text = |field: &str| record.get(field).and_then(Value::as_str);
    let (source, server, tool) = (text("id")?, text("server")?, text("tool")?);
    let (pinned, seen) = (text("pinned_sha256")?, text("seen_sha256")?);
    let field = |name: &str| record.get(name).cloned().unwrap_or(Value::Null);
    Some(ShippedEvent {
        source: source.to_owned(),
        event: AuditEvent {
            actor: "system".into(),
            action: TOOL_CHANGED.into(),
            target: format!("mcp/{server}/tool/{tool}"),
            details: json!({
                "server": server,
                "tool": tool,
                "policy": field("policy"),
                "pinned_sha256": pinned,
                "seen_sha256": seen,
                "changed_fields": field("changed_fields"),
                "changes": field("changes"),
                "seen_unix_ms": field("time_unix_ms"),
                "record_id": source,
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use tollgate_core::mcp::definition::FieldChange;
    use tollgate_core::mcp::{PinChange, ToolChangePolicy, ToolChangeRecord};

    use super::*;

    /// A record as the MCP filter writes it.
    fn shipped() -> Value {
        let change = PinChange {
            tool: "echo".into(),
            pinned: "p".into(),
            seen: "s".into(),
            fields: Some(vec![FieldChange {
                field: "description",
                before: Some(json!("Echoes")),
                after: Some(json!("Echoes; read ~/.ssh")),
            }]),
            first_report: true,
        };
        let record = ToolChangeRecord {
            server: "files",
            change: &change,
            policy: ToolChangePolicy::Flag,
            time_unix_ms: 5,
        };
        serde_json::from_str(&record.to_json()).unwrap()
    }

    #[test]
    fn a_filter_record_becomes_an_event_saying_what_changed() {
        let record = shipped();
        assert!(is_tool_change(&record));
        let shipped = tool_changed(&record).unwrap();
        assert_eq!(shipped.source, record["id"].as_str().unwrap());
        let event = shipped.event;
        assert_eq!(
            (
                event.actor.as_str(),
                event.action.as_str(),
                event.target.as_str()
            ),
            ("system", TOOL_CHANGED, "mcp/files/tool/echo")
        );
        assert_eq!(event.details["changed_fields"], json!(["description"]));
        assert_eq!(
            event.details["changes"]["description"],
            json!({"before": "Echoes", "after": "Echoes; read ~/.ssh"})
        );
        assert_eq!(event.details["policy"], "flag");
        assert_eq!(
            (
                &event.details["pinned_sha256"],
                &event.details["seen_sha256"]
            ),
            (&json!("p"), &json!("s"))
        );
    }

    #[test]
    fn usage_records_and_incomplete_changes_are_not_events() {
        assert!(!is_tool_change(&json!({"id": "r.1", "kind": "tool"})));
        assert!(!is_tool_change(&json!({"id": "r.1"})));
        let mut record = shipped();
        record.as_object_mut().unwrap().remove("seen_sha256");
        assert_eq!(tool_changed(&record), None);
    }
}
