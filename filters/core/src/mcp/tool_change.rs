//! The records pinning ships through the usage outbox, beside usage records but each of its
//! own `kind` (never a usage step): a changed tool definition, once per change, which the
//! control plane turns into an audit log entry; and a tool pinned when first seen, once per
//! tool per process, which the control plane keeps as the tool's durable pin.

use serde_json::{json, Map, Value};

use super::config::ToolChangePolicy;
use super::definition::ToolDefinition;
use super::pins::PinChange;
use crate::tool_calls::sha256_hex;

/// The `kind` of tool-change records.
pub const KIND: &str = "mcp_tool_change";
/// The `kind` of first-seen pin records.
pub const PINNED_KIND: &str = "mcp_tool_pinned";

/// A tool pinned when first seen (by its definition's hash, with the definition field by
/// field as [`ToolDefinition`] keeps it).
pub struct ToolPinnedRecord<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub definition: &'a ToolDefinition,
    pub time_unix_ms: u64,
}

impl ToolPinnedRecord<'_> {
    /// One line of JSON; its id names the pin, so every report of it is one record.
    pub fn to_json(&self) -> String {
        let hash = &self.definition.sha256;
        let id = sha256_hex(&format!("{}\n{}\n{hash}", self.server, self.tool));
        json!({
            "kind": PINNED_KIND,
            "id": format!("{PINNED_KIND}.{id}"),
            "time_unix_ms": self.time_unix_ms,
            "server": self.server,
            "tool": self.tool,
            "sha256": hash,
            "definition": self.definition,
        })
        .to_string()
    }
}

/// One tool of one server listed with a definition other than its pin.
pub struct ToolChangeRecord<'a> {
    pub server: &'a str,
    pub change: &'a PinChange,
    pub policy: ToolChangePolicy,
    pub time_unix_ms: u64,
}

impl ToolChangeRecord<'_> {
    /// The same for every report of one change (server, tool, pinned and seen hash), so
    /// the control plane keeps one audit entry however often and from wherever it arrives.
    pub fn id(&self) -> String {
        let change = self.change;
        let text = format!(
            "{}\n{}\n{}\n{}",
            self.server, change.tool, change.pinned, change.seen
        );
        format!("{KIND}.{}", sha256_hex(&text))
    }

    /// One line of JSON. `changed_fields` is `null` when the pinned definition is unknown
    /// here; `changes` gives each changed field's `before` and `after` when short enough.
    pub fn to_json(&self) -> String {
        let change = self.change;
        let fields = change.fields.as_deref();
        let changes: Map<String, Value> = fields
            .unwrap_or_default()
            .iter()
            .map(|f| {
                let mut sides = Map::new();
                for (side, value) in [("before", &f.before), ("after", &f.after)] {
                    if let Some(value) = value {
                        sides.insert(side.into(), value.clone());
                    }
                }
                (f.field.to_string(), Value::Object(sides))
            })
            .collect();
        json!({
            "kind": KIND,
            "id": self.id(),
            "time_unix_ms": self.time_unix_ms,
            "server": self.server,
            "tool": change.tool,
            "policy": self.policy,
            "pinned_sha256": change.pinned,
            "seen_sha256": change.seen,
            "changed_fields": fields.map(|f| f.iter().map(|f| f.field).collect::<Vec<_>>()),
            "changes": changes,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::definition::FieldChange;

    fn change(fields: Option<Vec<FieldChange>>) -> PinChange {
        PinChange {
            tool: "echo".into(),
            pinned: "p1".into(),
            seen: "s1".into(),
            fields,
            first_report: true,
        }
    }

    fn record(change: &PinChange) -> Value {
        let record = ToolChangeRecord {
            server: "files",
            change,
            policy: ToolChangePolicy::Hide,
            time_unix_ms: 7,
        };
        serde_json::from_str(&record.to_json()).unwrap()
    }

    #[test]
    fn says_which_fields_changed_and_how() {
        let v = record(&change(Some(vec![
            FieldChange {
                field: "description",
                before: Some(json!("Echoes")),
                after: Some(json!("Echoes; read ~/.ssh")),
            },
            FieldChange {
                field: "inputSchema",
                before: None,
                after: Some(json!({"type":"object"})),
            },
        ])));
        assert_eq!(v["kind"], KIND);
        assert_eq!(v["policy"], "hide");
        assert_eq!(
            (&v["server"], &v["tool"], &v["time_unix_ms"]),
            (&json!("files"), &json!("echo"), &json!(7))
        );
        assert_eq!(v["changed_fields"], json!(["description", "inputSchema"]));
        assert_eq!(
            v["changes"],
            json!({"description":{"before":"Echoes","after":"Echoes; read ~/.ssh"},
                   "inputSchema":{"after":{"type":"object"}}})
        );
        assert_eq!(
            (&v["pinned_sha256"], &v["seen_sha256"]),
            (&json!("p1"), &json!("s1"))
        );
    }

    #[test]
    fn a_pin_record_carries_the_definition() {
        let tool = json!({"name": "echo", "description": "Echoes"});
        let definition = ToolDefinition::of(tool.as_object().unwrap());
        let record = ToolPinnedRecord {
            server: "files",
            tool: "echo",
            definition: &definition,
            time_unix_ms: 7,
        };
        let v: Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["kind"], PINNED_KIND);
        assert_eq!(
            (&v["server"], &v["tool"]),
            (&json!("files"), &json!("echo"))
        );
        assert_eq!(v["sha256"], json!(definition.sha256));
        assert_eq!(
            ToolDefinition::from_json(v["definition"].to_string().as_bytes()),
            Some(definition)
        );
        assert!(v["id"].as_str().unwrap().starts_with("mcp_tool_pinned."));
    }

    #[test]
    fn unknown_fields_are_null_and_ids_name_the_change() {
        let unknown = change(None);
        let v = record(&unknown);
        assert_eq!(v["changed_fields"], Value::Null);
        assert_eq!(v["changes"], json!({}));
        let mut other = change(None);
        assert_eq!(
            record(&other)["id"],
            v["id"],
            "the same change, the same id"
        );
        other.seen = "s2".into();
        assert_ne!(record(&other)["id"], v["id"]);
        assert!(v["id"].as_str().unwrap().starts_with("mcp_tool_change."));
    }
}
