//! Identifiers providers restrict to `[a-zA-Z0-9_-]` (Anthropic tool-use ids, Bedrock
//! tool-use ids and tool names). Rewriting is deterministic, so the same id maps the same
//! way wherever it appears in a request (a tool call and the result that answers it).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// Whether `c` is allowed in a restricted identifier.
pub fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `id` as a restricted identifier of at most `max_len` bytes. Valid ids are unchanged;
/// otherwise invalid characters become `_`, the result is cut to fit, and `prefix` and a
/// short digest of the original are added, so distinct ids stay distinct.
pub fn sanitize<'a>(id: &'a str, prefix: &str, max_len: usize) -> Cow<'a, str> {
    if !id.is_empty() && id.len() <= max_len && id.chars().all(allowed) {
        return Cow::Borrowed(id);
    }
    let digest = Sha256::digest(id.as_bytes());
    let suffix: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let room = max_len.saturating_sub(prefix.len() + 1 + suffix.len());
    let cleaned: String = id
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .take(room)
        .collect();
    Cow::Owned(format!("{prefix}{cleaned}_{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_are_borrowed() {
        assert!(matches!(
            sanitize("call_1-a", "p_", 64),
            Cow::Borrowed("call_1-a")
        ));
    }

    #[test]
    fn invalid_or_long_ids_are_cleaned_cut_and_stay_distinct() {
        let a = sanitize("server/tool.1", "", 64);
        assert!(a.chars().all(allowed), "{a}");
        assert!(a.starts_with("server_tool_1_"));
        assert_ne!(a, sanitize("server.tool/1", "", 64));
        let long = "x".repeat(100);
        let cut = sanitize(&long, "t_", 64);
        assert_eq!(cut.len(), 64);
        assert_ne!(cut, sanitize(&"x".repeat(101), "t_", 64));
        assert!(sanitize("", "", 64).chars().all(allowed));
    }
}
