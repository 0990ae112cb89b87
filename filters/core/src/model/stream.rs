//! Canonical stream events.
//!
//! A provider stream decodes into this sequence and a client stream encodes from it:
//!
//! ```text
//! Start, (BlockStart, BlockDelta*, BlockStop)*, Finish, End
//! ```
//!
//! with `Usage` reports anywhere after `Start` and `Error` ending the sequence early. Block
//! indices are the decoder's; encoders renumber them when their format needs it. Deltas are
//! emitted as soon as the provider event that carries them is complete, so translation adds
//! no latency beyond the current event.

use super::error::ApiError;
use super::response::StopReason;
use super::usage::Usage;

#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer begins. `usage` holds what the provider reported up front (often input
    /// counts), possibly nothing.
    Start {
        id: String,
        model: String,
        created: Option<u64>,
        usage: Usage,
    },
    /// A usage report; counters it carries replace earlier ones (reports are cumulative).
    Usage(Usage),
    BlockStart {
        index: u32,
        block: BlockStart,
    },
    BlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    BlockStop {
        index: u32,
    },
    /// Generation stopped. Usage may still follow.
    Finish {
        reason: StopReason,
        stop_sequence: Option<String>,
    },
    /// The provider closed the stream cleanly.
    End,
    /// The provider reported an error, or its output could not be understood. Nothing follows.
    Error(ApiError),
}

/// The kind of a content block, with what is known when it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockStart {
    Text,
    Thinking,
    RedactedThinking { data: String },
    ToolCall { id: String, name: String },
}

/// An increment of a content block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockDelta {
    Text(String),
    Thinking(String),
    /// Signature of a thinking block; arrives whole, after the thinking text.
    Signature(String),
    /// A fragment of a tool call's JSON arguments; fragments concatenate.
    ToolArguments(String),
}

impl BlockDelta {
    /// A delta that carries no text (providers send some as keep-alives or openers).
    pub fn is_empty(&self) -> bool {
        match self {
            BlockDelta::Text(s)
            | BlockDelta::Thinking(s)
            | BlockDelta::Signature(s)
            | BlockDelta::ToolArguments(s) => s.is_empty(),
        }
    }
}
