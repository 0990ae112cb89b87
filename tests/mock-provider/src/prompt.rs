//! The format-neutral view of a chat request: just what reply planning needs.

use serde::Deserialize;
use serde_json::Value;

/// What the client asked, borrowed from the decoded request.
pub struct Prompt<'a> {
    /// Text of the last user message (text parts joined), echoed in the reply.
    pub last_user_text: String,
    pub tools: Vec<ToolSpec<'a>>,
    pub stream: bool,
}

/// A tool the client offered: its name and JSON Schema for the arguments.
pub struct ToolSpec<'a> {
    pub name: &'a str,
    pub schema: Option<&'a Value>,
}

/// A chat message as both formats spell it: a role and a string or a list of parts.
/// Fields the mock does not read are skipped by serde, not stored.
#[derive(Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// One content part or block; only text parts (`{"type":"text","text":…}`) carry text.
#[derive(Deserialize)]
pub struct Part {
    #[serde(default)]
    text: Option<String>,
}

/// The text of the last message with role `user`, or "" when there is none.
pub fn last_user_text(messages: &[Message]) -> String {
    // Only a conversation that ends with the user's turn has something to answer: after a
    // tool result (OpenAI's `tool` role) the user's earlier words were already answered.
    let Some(content) = messages
        .iter()
        .rev()
        .find(|message| !matches!(message.role.as_str(), "system" | "developer"))
        .filter(|message| message.role == "user")
        .and_then(|message| message.content.as_ref())
    else {
        return String::new();
    };
    match content {
        Content::Text(text) => text.clone(),
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|part| part.text.as_deref())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(json: &str) -> Vec<Message> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_tool_result_after_the_user_leaves_nothing_to_answer() {
        let after_tool = messages(
            r#"[{"role":"user","content":"use a tool"},{"role":"assistant","content":null},
                {"role":"tool","tool_call_id":"c1","content":"sunny"}]"#,
        );
        assert_eq!(last_user_text(&after_tool), "");
    }

    #[test]
    fn takes_the_last_user_message_in_either_content_shape() {
        let plain = messages(
            r#"[{"role":"user","content":"first"},{"role":"assistant","content":null},
                {"role":"user","content":"second"},{"role":"system","content":"late"}]"#,
        );
        assert_eq!(last_user_text(&plain), "second");

        let parts = messages(
            r#"[{"role":"user","content":[{"type":"text","text":"a"},
                {"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]"#,
        );
        assert_eq!(last_user_text(&parts), "a b");
    }

    #[test]
    fn no_user_message_gives_empty_text() {
        assert_eq!(
            last_user_text(&messages(r#"[{"role":"system","content":"x"}]"#)),
            ""
        );
    }
}
