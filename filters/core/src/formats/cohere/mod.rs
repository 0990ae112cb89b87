//! Cohere Chat API v2: `POST {base}/chat` with base `https://api.cohere.com/v2`, Bearer
//! auth. Not the legacy v1 API (`message` + `chat_history` + `preamble`) that some gateways
//! still target.
//!
//! v2 took OpenAI's shapes for user content, `tool` messages, function tools and tool calls
//! ([`super::openai_shapes`]); its own parts are the assistant message (`content` blocks,
//! `tool_plan`), sampling names (`p`, `k`, `stop_sequences`), upper-case `tool_choice` and
//! `finish_reason`, usage with `billed_units` and `tokens`, and a stream of typed events.
//! Features other formats cannot carry (documents, citations, safety modes, connectors)
//! are not produced on requests and are skipped in responses.

pub mod embeddings;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

use std::borrow::Cow;

use crate::model::{ApiError, ErrorClass, StopReason};

/// Path of the endpoint below the provider's base path.
pub const CHAT_PATH: &str = "/chat";

/// Headers an upstream chat request needs besides authentication.
pub fn upstream_headers() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".to_owned())]
}

/// Id for the `ordinal`th tool call of an answer sent to a Cohere client: the provider's,
/// or a generated one when it gave none (Gemini's compatibility endpoint), since the client
/// needs an id to send the result back with.
pub fn response_tool_id(id: &str, ordinal: usize) -> Cow<'_, str> {
    if id.is_empty() {
        Cow::Owned(format!("call_gen_{ordinal}"))
    } else {
        Cow::Borrowed(id)
    }
}

/// How a response ended, from its `finish_reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Stopped(StopReason),
    /// `ERROR` or `TIMEOUT`: the generation failed although the HTTP status was 200.
    Failed(ApiError),
}

/// `finish_reason` → how the answer ended. `message` is the error text the provider sent
/// with a failure, if any. `ERROR_TOXIC` and `ERROR_LIMIT` are v1 reasons some deployments
/// still send.
pub fn decode_finish_reason(reason: &str, message: Option<&str>) -> Finish {
    let failed = |class: ErrorClass, fallback: &str| {
        Finish::Failed(ApiError::new(class, message.unwrap_or(fallback)))
    };
    Finish::Stopped(match reason {
        "COMPLETE" => StopReason::EndTurn,
        "STOP_SEQUENCE" => StopReason::StopSequence,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "TOOL_CALL" => StopReason::ToolUse,
        "ERROR_TOXIC" => StopReason::ContentFilter,
        "ERROR_LIMIT" => StopReason::ContextWindowExceeded,
        "ERROR" => {
            return failed(
                ErrorClass::Server,
                "the provider failed to generate an answer",
            )
        }
        "TIMEOUT" => {
            return failed(
                ErrorClass::Timeout,
                "the provider timed out generating an answer",
            )
        }
        other => StopReason::Other(other.to_owned()),
    })
}

/// Canonical stop reason → `finish_reason`. Reasons Cohere has no word for become
/// `COMPLETE`, a normal end.
pub fn encode_finish_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn
        | StopReason::PauseTurn
        | StopReason::ContentFilter
        | StopReason::Other(_) => "COMPLETE",
        StopReason::StopSequence => "STOP_SEQUENCE",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "MAX_TOKENS",
        StopReason::ToolUse => "TOOL_CALL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        for (wire, canonical) in [
            ("COMPLETE", StopReason::EndTurn),
            ("STOP_SEQUENCE", StopReason::StopSequence),
            ("MAX_TOKENS", StopReason::MaxTokens),
            ("TOOL_CALL", StopReason::ToolUse),
        ] {
            assert_eq!(
                decode_finish_reason(wire, None),
                Finish::Stopped(canonical.clone())
            );
            assert_eq!(encode_finish_reason(&canonical), wire);
        }
        assert_eq!(
            decode_finish_reason("SOMETHING_NEW", None),
            Finish::Stopped(StopReason::Other("SOMETHING_NEW".into()))
        );
    }

    #[test]
    fn missing_tool_ids_are_generated_per_call() {
        assert_eq!(response_tool_id("", 0), "call_gen_0");
        assert_ne!(response_tool_id("", 0), response_tool_id("", 1));
        assert_eq!(response_tool_id("Person_1", 3), "Person_1");
    }

    #[test]
    fn error_and_timeout_are_failures() {
        let Finish::Failed(err) = decode_finish_reason("ERROR", Some("internal failure")) else {
            panic!("ERROR must fail")
        };
        assert_eq!(
            (err.class, err.message.as_str()),
            (ErrorClass::Server, "internal failure")
        );
        let Finish::Failed(err) = decode_finish_reason("TIMEOUT", None) else {
            panic!("TIMEOUT must fail")
        };
        assert_eq!(err.class, ErrorClass::Timeout);
    }
}
