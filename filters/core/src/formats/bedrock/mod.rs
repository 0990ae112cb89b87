//! AWS Bedrock Converse and ConverseStream.
//!
//! The model is in the path, not the body: `POST /model/{model id}/converse`, or
//! `/converse-stream`, whose answer is an `application/vnd.amazon.eventstream` (see
//! [`crate::eventstream`]) rather than SSE. Requests are signed with SigV4 by Envoy after
//! translation, or carry a Bedrock API key as a bearer token; neither is this module's
//! business. Errors carry their type in the `x-amzn-errortype` response header, not the body.

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

use std::borrow::Cow;

use super::path::{encode_component, PathContext};
use crate::formats::identifier;
use crate::model::StopReason;

/// Response header naming the error type of an HTTP error
/// (`ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/`).
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// Bedrock's limit on tool names and tool-use ids (`[a-zA-Z0-9_-]{1,64}`).
const MAX_IDENTIFIER: usize = 64;

/// Path of the Converse endpoint for the context's model. Model ids, inference-profile ids
/// and ARNs contain `:` and `/`, so the id is percent-encoded as one path segment with the
/// shared [`encode_component`]. SigV4 encodes each segment once more in its canonical URI
/// (every AWS service but S3 does); Envoy's `aws_request_signing` does that when it signs,
/// so the wire path is encoded once, exactly as AWS SDKs send it.
pub fn endpoint_path(context: &PathContext) -> String {
    let action = if context.stream {
        "converse-stream"
    } else {
        "converse"
    };
    format!("/model/{}/{action}", encode_component(context.model))
}

/// Headers an upstream Converse request needs besides authentication. The client's
/// `accept` (OpenAI SDKs send `application/json` for streams too) is replaced with one that
/// fits both operations, since the same request may go to `converse-stream`.
pub fn upstream_headers() -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".to_owned()),
        ("accept", "*/*".to_owned()),
    ]
}

/// A tool name as Bedrock accepts it.
pub fn tool_name(name: &str) -> Cow<'_, str> {
    identifier::sanitize(name, "", MAX_IDENTIFIER)
}

/// A tool-use id as Bedrock accepts it.
pub fn tool_use_id(id: &str) -> Cow<'_, str> {
    identifier::sanitize(id, "tooluse_", MAX_IDENTIFIER)
}

/// `stopReason` → canonical stop reason.
pub fn decode_stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "stop_sequence" => StopReason::StopSequence,
        "max_tokens" => StopReason::MaxTokens,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        "tool_use" => StopReason::ToolUse,
        "guardrail_intervened" | "content_filtered" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Canonical stop reason → `stopReason`. Reasons Bedrock has no word for become `end_turn`.
pub fn encode_stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::PauseTurn | StopReason::Other(_) => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFilter => "content_filtered",
    }
}

/// The model families whose model-specific request fields differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Anthropic Claude; also assumed for ARNs, which do not name the model.
    Claude,
    /// Amazon Nova.
    Nova,
    /// OpenAI's open-weight models (gpt-oss).
    OpenAi,
    Other,
}

impl Family {
    /// The family of a model id, inference-profile id (`us.anthropic.…`) or ARN.
    pub fn of(model: &str) -> Family {
        if model.contains("anthropic.") || model.starts_with("arn:") {
            Family::Claude
        } else if model.contains("amazon.nova") {
            Family::Nova
        } else if model.contains("openai.") {
            Family::OpenAi
        } else {
            Family::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_and_arns_are_one_encoded_segment() {
        let path = |model, stream| {
            endpoint_path(&PathContext {
                model,
                stream,
                api_version: None,
            })
        };
        assert_eq!(
            path("us.anthropic.claude-sonnet-4-5-20250929-v1:0", false),
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
        );
        assert_eq!(
            path(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0",
                true
            ),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-micro-v1%3A0/converse-stream"
        );
    }

    #[test]
    fn stop_reasons_map_to_the_openai_meanings() {
        use crate::formats::openai::encode_finish_reason as finish;
        for (wire, openai) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
        ] {
            assert_eq!(finish(&decode_stop_reason(wire)), openai, "{wire}");
        }
        for wire in [
            "end_turn",
            "stop_sequence",
            "max_tokens",
            "tool_use",
            "content_filtered",
        ] {
            assert_eq!(encode_stop_reason(&decode_stop_reason(wire)), wire);
        }
    }

    #[test]
    fn tool_names_follow_bedrock_rules() {
        assert_eq!(tool_name("get_weather"), "get_weather");
        let mcp = tool_name("github/create_issue.v2");
        assert!(
            mcp.len() <= 64 && mcp.chars().all(identifier::allowed),
            "{mcp}"
        );
        assert!(tool_name(&"a".repeat(65)).len() <= 64);
    }

    #[test]
    fn families() {
        assert_eq!(
            Family::of("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            Family::Claude
        );
        assert_eq!(Family::of("amazon.nova-micro-v1:0"), Family::Nova);
        assert_eq!(Family::of("openai.gpt-oss-120b-1:0"), Family::OpenAi);
        assert_eq!(Family::of("meta.llama3-70b-instruct-v1:0"), Family::Other);
    }
}
