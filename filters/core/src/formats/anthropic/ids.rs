//! Tool-use ids. Anthropic accepts only `^[a-zA-Z0-9_-]+$`; other providers' ids (or empty
//! ones, from Gemini's compatibility endpoint) are rewritten deterministically, so the same
//! id maps the same way in a `tool_use` block and in the `tool_result` that answers it.

use std::borrow::Cow;

use crate::formats::identifier;

/// The id as Anthropic accepts it. Valid ids are unchanged; otherwise invalid characters
/// become `_` and a short digest of the original is appended, so distinct ids stay distinct.
pub fn sanitize(id: &str) -> Cow<'_, str> {
    identifier::sanitize(id, "toolu_", usize::MAX)
}

/// Id for the `ordinal`th tool call of a response: the provider's id sanitised, or a
/// generated one when the provider gave none.
pub fn response_tool_id(id: &str, ordinal: usize) -> Cow<'_, str> {
    if id.is_empty() {
        Cow::Owned(format!("toolu_gen_{ordinal}"))
    } else {
        sanitize(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::identifier::allowed;

    #[test]
    fn valid_ids_are_kept() {
        assert_eq!(sanitize("call_abc-123"), "call_abc-123");
        assert!(matches!(sanitize("toolu_01"), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_ids_are_cleaned_deterministically_and_stay_distinct() {
        let a = sanitize("server/tool.1");
        assert!(a.chars().all(allowed));
        assert_eq!(a, sanitize("server/tool.1"));
        assert_ne!(a, sanitize("server.tool/1"));
        assert!(sanitize("").chars().all(allowed));
    }

    #[test]
    fn empty_response_ids_are_generated_per_call() {
        assert_eq!(response_tool_id("", 0), "toolu_gen_0");
        assert_ne!(response_tool_id("", 0), response_tool_id("", 1));
        assert_eq!(response_tool_id("call_1", 3), "call_1");
    }
}
