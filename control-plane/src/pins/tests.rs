use serde_json::json;
use tollgate_core::mcp::definition::ToolDefinition;
use tollgate_core::mcp::{PinChange, ToolChangePolicy, ToolChangeRecord, ToolPinnedRecord};

use super::*;
use crate::config::load;

/// The configuration's servers: `files`, with `yaml_pins` (indented as its fields).
pub(crate) fn servers(yaml_pins: &str) -> Vec<McpServer> {
    let text = format!(
        "version: 1
providers: [{{name: p, kind: openai, credential: {{env: K}}}}]
models: [{{alias: a, provider: p, model: m}}]
mcp_servers:
  - name: files
    url: http://127.0.0.1:9000/mcp
{yaml_pins}"
    );
    let loaded = load(&text, None).unwrap_or_else(|e| panic!("{e:#?}"));
    loaded.config.mcp_servers
}

/// Tool `echo`'s definition with `description`.
pub(crate) fn definition(description: &str) -> ToolDefinition {
    let tool = json!({"name": "echo", "description": description});
    ToolDefinition::of(tool.as_object().unwrap())
}

/// The batch a filter ships (server `files`): `echo` pinned at `v1`, then seen changed to `v2`.
pub(crate) fn shipped(v1: &ToolDefinition, v2: &ToolDefinition) -> String {
    let pinned = ToolPinnedRecord {
        server: "files",
        tool: "echo",
        definition: v1,
        time_unix_ms: 1,
    };
    let change = PinChange {
        tool: "echo".into(),
        pinned: v1.sha256.clone(),
        seen: v2.sha256.clone(),
        fields: Some(v1.diff(v2)),
        first_report: true,
    };
    let changed = ToolChangeRecord {
        server: "files",
        change: &change,
        policy: ToolChangePolicy::Hide,
        time_unix_ms: 2,
    };
    format!("{}\n{}\n", pinned.to_json(), changed.to_json())
}

fn stored(server: &str, tool: &str, sha256: &str) -> ToolPin {
    ToolPin {
        server: server.into(),
        tool: tool.into(),
        pinned_sha256: sha256.into(),
        definition: None,
        seen_sha256: None,
        changes: None,
        approved_by: None,
        updated_unix_ms: 0,
    }
}

#[test]
fn stored_pins_join_the_configured_ones_which_win() {
    let configured = "a".repeat(64);
    let mut servers = servers(&format!("    pins: {{echo: {configured}}}\n"));
    let stored_pins = [
        stored("files", "echo", &"b".repeat(64)),
        stored("files", "grep", &"c".repeat(64)),
        stored("other", "cat", &"d".repeat(64)),
    ];
    merge_pins(&mut servers, &stored_pins);
    let pins: Vec<_> = servers[0]
        .pins
        .iter()
        .map(|(t, h)| (t.as_str(), &h[..1]))
        .collect();
    assert_eq!(pins, [("echo", "a"), ("grep", "c")]);
}

#[test]
fn filter_records_become_pin_events() {
    let definition = definition("Echoes");
    let record = ToolPinnedRecord {
        server: "files",
        tool: "echo",
        definition: &definition,
        time_unix_ms: 5,
    };
    let value: Value = serde_json::from_str(&record.to_json()).unwrap();
    assert!(PinEvent::is_first_seen(&value));
    let Some(PinEvent::FirstSeen {
        server,
        tool,
        sha256,
        definition: shipped,
    }) = PinEvent::first_seen(&value)
    else {
        panic!("a first-seen pin expected")
    };
    assert_eq!((server.as_str(), tool.as_str()), ("files", "echo"));
    assert_eq!(sha256, definition.sha256);
    assert_eq!(shipped, json!(definition));
    let change = json!({"kind": "mcp_tool_change", "server": "files", "tool": "echo",
        "pinned_sha256": "a", "seen_sha256": "b", "changed_fields": ["description"]});
    assert!(!PinEvent::is_first_seen(&change));
    assert_eq!(
        PinEvent::changed(&change),
        Some(PinEvent::Changed {
            server: "files".into(),
            tool: "echo".into(),
            pinned: "a".into(),
            seen: "b".into(),
            changes: json!({"changed_fields": ["description"], "changes": null}),
        })
    );
}
