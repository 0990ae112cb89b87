//! Tool names a provider saw in place of the client's (Bedrock accepts only
//! `[a-zA-Z0-9_-]{1,64}`, so MCP-style `server/tool` names are rewritten).
//!
//! The map is built per request from every name the request carries, by the same
//! deterministic function the encoder applies; the translator uses it to give tool calls in
//! the answer their client names back, so no format decoder needs it.

use std::collections::BTreeMap;

use crate::model::{ContentPart, Request, ToolChoice};

/// Provider name → client name, for the names that were rewritten.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNameMap {
    restored: BTreeMap<String, String>,
}

impl ToolNameMap {
    /// The map for `request` under `rename` (the provider's name for a client name).
    pub fn for_request(request: &Request, rename: impl Fn(&str) -> String) -> ToolNameMap {
        let definitions = request.tools.iter().map(|t| t.name.as_str());
        let calls =
            request
                .messages
                .iter()
                .flat_map(|m| &m.content)
                .filter_map(|part| match part {
                    ContentPart::ToolCall { name, .. } => Some(name.as_str()),
                    _ => None,
                });
        let forced = match &request.tool_choice {
            Some(ToolChoice::Tool(name)) => Some(name.as_str()),
            _ => None,
        };
        let mut restored = BTreeMap::new();
        for name in definitions.chain(calls).chain(forced) {
            let renamed = rename(name);
            if renamed != name {
                restored.insert(renamed, name.to_owned());
            }
        }
        ToolNameMap { restored }
    }

    pub fn is_empty(&self) -> bool {
        self.restored.is_empty()
    }

    /// The client's name for a name the provider used.
    pub fn restore(&self, name: &mut String) {
        if let Some(original) = self.restored.get(name.as_str()) {
            name.clone_from(original);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Role, ToolDefinition};
    use serde_json::json;

    #[test]
    fn maps_every_rewritten_name_back() {
        let request = Request {
            tools: vec![ToolDefinition {
                name: "fs/read".into(),
                description: None,
                parameters: json!({}),
                strict: None,
                cache_control: None,
            }],
            messages: vec![Message {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall {
                    id: "1".into(),
                    name: "old.tool".into(),
                    arguments: String::new(),
                }],
            }],
            ..Request::default()
        };
        let map = ToolNameMap::for_request(&request, |n| n.replace(['/', '.'], "_"));
        let mut name = "fs_read".to_owned();
        map.restore(&mut name);
        assert_eq!(name, "fs/read");
        let mut name = "old_tool".to_owned();
        map.restore(&mut name);
        assert_eq!(name, "old.tool");
        let mut unknown = "other".to_owned();
        map.restore(&mut unknown);
        assert_eq!(unknown, "other");
    }
}
