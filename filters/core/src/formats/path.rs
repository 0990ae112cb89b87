//! Upstream endpoint paths that depend on the request: the model (Azure OpenAI deployments,
//! Gemini and Bedrock model paths), streaming (separate streaming endpoints) and a
//! configured API version (Azure OpenAI's `api-version` query parameter).

/// What a provider's endpoint path may depend on, beyond its base path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathContext<'a> {
    /// The model name the provider knows (for Azure OpenAI, the deployment name).
    pub model: &'a str,
    /// The request streams.
    pub stream: bool,
    /// The API version the provider was configured with, if any.
    pub api_version: Option<&'a str>,
}

/// `value` percent-encoded for one path segment or query value: everything but RFC 3986
/// unreserved characters is escaped, so a model name can never add path segments, a query
/// or a fragment; the dot segments `.` and `..` are escaped whole, so it cannot climb out
/// of its place either.
pub fn encode_component(value: &str) -> String {
    let dot_segment = value == "." || value == "..";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved && !dot_segment {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_are_kept() {
        assert_eq!(encode_component("gpt-4o_mini.v1~x"), "gpt-4o_mini.v1~x");
    }

    #[test]
    fn separators_and_non_ascii_are_escaped() {
        assert_eq!(encode_component("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(encode_component("us.anthropic:0"), "us.anthropic%3A0");
        assert_eq!(encode_component("é"), "%C3%A9");
        assert_eq!(encode_component(".."), "%2E%2E");
        assert_eq!(encode_component("."), "%2E");
    }
}
