//! OpenAI Chat Completions, also spoken by the OpenAI-compatible family (Groq, DeepSeek,
//! OpenRouter, vLLM, Gemini's compatibility endpoint, …). Compatible servers' known deviations
//! are accepted on input: usage on the finish chunk, `reasoning_content`/`reasoning` deltas,
//! numeric error codes, empty tool-call ids, SSE comments.

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

use super::path::{encode_component, PathContext};
use crate::model::StopReason;

/// Path of the endpoint below the provider's base path.
pub const CHAT_COMPLETIONS_PATH: &str = "/chat/completions";

/// The endpoint below the provider's base path. With an API version configured the
/// provider is addressed the way Azure OpenAI's classic API wants it: the deployment (the
/// upstream model name) in the path and the version in the query, below a base path
/// ending in `/openai`. Without one it is the plain `/chat/completions`, which also serves
/// Azure's v1 API (base path `/openai/v1`, deployment in the body's `model`).
pub fn endpoint_path(context: &PathContext) -> String {
    operation_path(context, CHAT_COMPLETIONS_PATH)
}

/// `endpoint` (e.g. `/chat/completions`, `/embeddings`) addressed as [`endpoint_path`]
/// describes: below the deployment when an API version is configured.
pub fn operation_path(context: &PathContext, endpoint: &str) -> String {
    match context.api_version {
        Some(version) => format!(
            "/deployments/{}{endpoint}?api-version={}",
            encode_component(context.model),
            encode_component(version)
        ),
        None => endpoint.to_owned(),
    }
}

/// Headers an upstream Chat Completions request needs besides authentication.
pub fn upstream_headers() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".to_owned())]
}

/// `finish_reason` → canonical stop reason.
pub fn decode_finish_reason(reason: &str) -> StopReason {
    match reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Canonical stop reason → `finish_reason`. Reasons OpenAI has no word for become `stop`,
/// which clients treat as a normal end.
pub fn encode_finish_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn
        | StopReason::StopSequence
        | StopReason::PauseTurn
        | StopReason::Other(_) => "stop",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter => "content_filter",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_paths() {
        let plain = PathContext {
            model: "gpt-4o",
            stream: true,
            api_version: None,
        };
        assert_eq!(endpoint_path(&plain), "/chat/completions");
        let azure = PathContext {
            model: "prod/gpt 4o",
            api_version: Some("2024-10-21"),
            ..plain
        };
        assert_eq!(
            endpoint_path(&azure),
            "/deployments/prod%2Fgpt%204o/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn finish_reasons() {
        for (wire, canonical) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("tool_calls", StopReason::ToolUse),
            ("content_filter", StopReason::ContentFilter),
        ] {
            assert_eq!(decode_finish_reason(wire), canonical);
            assert_eq!(encode_finish_reason(&canonical), wire);
        }
        assert_eq!(decode_finish_reason("function_call"), StopReason::ToolUse);
        assert_eq!(encode_finish_reason(&StopReason::StopSequence), "stop");
        assert_eq!(encode_finish_reason(&StopReason::PauseTurn), "stop");
        assert_eq!(
            encode_finish_reason(&StopReason::ContextWindowExceeded),
            "length"
        );
    }
}
