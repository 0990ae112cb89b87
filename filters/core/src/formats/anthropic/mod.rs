//! Anthropic Messages.
//!
//! Blocks Anthropic has but other formats cannot carry (server tools and their results,
//! compaction, documents, citations) are refused on requests and skipped in responses.

pub mod error;
pub mod ids;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

use crate::model::StopReason;

/// Path of the endpoint below the provider's base path.
pub const MESSAGES_PATH: &str = "/messages";

/// The only API version of the Messages API.
pub const API_VERSION: &str = "2023-06-01";

/// Headers an upstream Messages request needs besides authentication.
pub fn upstream_headers() -> Vec<(&'static str, String)> {
    vec![
        ("anthropic-version", API_VERSION.to_owned()),
        ("content-type", "application/json".to_owned()),
    ]
}

/// `stop_reason` → canonical stop reason.
pub fn decode_stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "stop_sequence" => StopReason::StopSequence,
        "max_tokens" => StopReason::MaxTokens,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        "tool_use" => StopReason::ToolUse,
        "pause_turn" => StopReason::PauseTurn,
        "refusal" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Canonical stop reason → `stop_reason`. Unknown reasons become `end_turn`.
pub fn encode_stop_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::Other(_) => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
        StopReason::ToolUse => "tool_use",
        StopReason::PauseTurn => "pause_turn",
        StopReason::ContentFilter => "refusal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_round_trip() {
        for wire in [
            "end_turn",
            "stop_sequence",
            "max_tokens",
            "model_context_window_exceeded",
            "tool_use",
            "pause_turn",
            "refusal",
        ] {
            assert_eq!(encode_stop_reason(&decode_stop_reason(wire)), wire);
        }
        assert_eq!(decode_stop_reason("refusal"), StopReason::ContentFilter);
        assert_eq!(
            encode_stop_reason(&StopReason::Other("x".into())),
            "end_turn"
        );
    }
}
