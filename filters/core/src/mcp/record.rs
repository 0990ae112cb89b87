//! What the MCP filter hands to the request log about one MCP request: the server, the
//! key, the method and its target, what the gateway decided, and what it changed in the
//! answer (tool pins that no longer match included).

use serde::Serialize;

use super::pins::PinChange;
use super::response::MessageOutcome;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct McpRecord {
    pub server: String,
    pub key_id: Option<String>,
    /// `POST`, `GET` or `DELETE`.
    pub http_method: String,
    /// The JSON-RPC method of a POST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The tool or prompt name, or the resource URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `forwarded`, or why the gateway answered itself (`access_denied`, …).
    pub decision: &'static str,
    /// List entries left out of the answer.
    #[serde(skip_serializing_if = "is_zero")]
    pub filtered: usize,
    /// Call results withheld by a guardrail.
    #[serde(skip_serializing_if = "is_zero")]
    pub withheld: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pin_changes: Vec<PinChangeRecord>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct PinChangeRecord {
    pub tool: String,
    pub pinned: String,
    pub seen: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl McpRecord {
    /// Adds what rewriting (part of) the answer did.
    pub fn answered(&mut self, outcome: MessageOutcome) {
        self.filtered += outcome.filtered;
        self.withheld += outcome.withheld;
        self.pin_changes
            .extend(
                outcome
                    .pin_changes
                    .into_iter()
                    .map(|c: PinChange| PinChangeRecord {
                        tool: c.tool,
                        pinned: c.pinned,
                        seen: c.seen,
                    }),
            );
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_what_was_decided_and_changed() {
        let mut record = McpRecord {
            server: "s".into(),
            key_id: Some("k".into()),
            http_method: "POST".into(),
            method: Some("tools/list".into()),
            decision: "forwarded",
            ..McpRecord::default()
        };
        record.answered(MessageOutcome {
            pin_changes: vec![PinChange {
                tool: "echo".into(),
                pinned: "a".into(),
                seen: "b".into(),
                fields: None,
                first_report: true,
            }],
            filtered: 2,
            ..MessageOutcome::default()
        });
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"server":"s","keyId":"k","httpMethod":"POST","method":"tools/list",
                "decision":"forwarded","filtered":2,
                "pinChanges":[{"tool":"echo","pinned":"a","seen":"b"}]})
        );
    }
}
