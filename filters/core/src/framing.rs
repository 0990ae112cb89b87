//! How a provider frames its stream: Server-Sent Events, or AWS event-stream messages
//! (Bedrock). The provider's format picks the framing ([`crate::formats::codec::stream_framing`]);
//! the translator parses frames with [`FrameParser`] and hands each to the format's decoder.

use crate::eventstream::{EventStreamError, EventStreamParser, Message};
use crate::sse::{SseError, SseEvent, SseParser};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream`.
    Sse,
    /// `application/vnd.amazon.eventstream`.
    EventStream,
}

impl Framing {
    pub fn content_type(self) -> &'static str {
        match self {
            Framing::Sse => "text/event-stream",
            Framing::EventStream => "application/vnd.amazon.eventstream",
        }
    }

    /// Whether a response `content-type` says the body is framed this way.
    pub fn matches(self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case(self.content_type())
    }
}

/// One complete frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Sse(SseEvent),
    EventStream(Message),
}

impl Frame {
    /// The frame's bytes as received (empty unless the parser keeps them).
    pub fn raw(&self) -> &[u8] {
        match self {
            Frame::Sse(event) => &event.raw,
            Frame::EventStream(message) => &message.raw,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error(transparent)]
    Sse(#[from] SseError),
    #[error(transparent)]
    EventStream(#[from] EventStreamError),
}

/// Push parser for either framing; input may be split at any byte.
#[derive(Debug, Clone)]
pub enum FrameParser {
    Sse(SseParser),
    EventStream(EventStreamParser),
}

impl FrameParser {
    /// `max_frame_bytes` bounds one frame; a larger one is an error.
    pub fn new(framing: Framing, max_frame_bytes: usize) -> FrameParser {
        match framing {
            Framing::Sse => FrameParser::Sse(SseParser::new(max_frame_bytes)),
            Framing::EventStream => {
                FrameParser::EventStream(EventStreamParser::new(max_frame_bytes))
            }
        }
    }

    /// Also record each frame's raw bytes, for forwarding them unchanged.
    pub fn keeping_raw(self) -> FrameParser {
        match self {
            FrameParser::Sse(p) => FrameParser::Sse(p.keeping_raw()),
            FrameParser::EventStream(p) => FrameParser::EventStream(p.keeping_raw()),
        }
    }

    /// Consumes a chunk, appending every frame it completes to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        match self {
            FrameParser::Sse(p) => {
                let mut events = Vec::new();
                let result = p.push(input, &mut events);
                out.extend(events.into_iter().map(Frame::Sse));
                Ok(result?)
            }
            FrameParser::EventStream(p) => {
                let mut messages = Vec::new();
                let result = p.push(input, &mut messages);
                out.extend(messages.into_iter().map(Frame::EventStream));
                Ok(result?)
            }
        }
    }

    /// Ends the stream. SSE reports a final block that lacks its blank line; a partial
    /// event-stream message is dropped (the decoder then sees an unfinished stream).
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        match self {
            FrameParser::Sse(p) => {
                let mut events = Vec::new();
                let result = p.finish(&mut events);
                out.extend(events.into_iter().map(Frame::Sse));
                Ok(result?)
            }
            FrameParser::EventStream(_) => Ok(()),
        }
    }
}
