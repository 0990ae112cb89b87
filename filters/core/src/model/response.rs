//! Canonical non-streaming response.

use super::request::ContentPart;
use super::usage::Usage;

/// A complete assistant answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    pub id: String,
    pub model: String,
    /// Unix seconds, when the provider said (Anthropic does not).
    pub created: Option<u64>,
    /// Text, tool calls, thinking; in the order the model produced them.
    pub content: Vec<ContentPart>,
    pub stop_reason: Option<StopReason>,
    /// The stop sequence that ended generation, when the provider reports it.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Natural end of the answer.
    EndTurn,
    StopSequence,
    MaxTokens,
    /// The context window filled up before the answer ended.
    ContextWindowExceeded,
    ToolUse,
    /// The provider paused a long server-tool turn; the client should continue it.
    PauseTurn,
    /// Refused or filtered for safety.
    ContentFilter,
    /// A reason no mapping knows, kept verbatim.
    Other(String),
}
