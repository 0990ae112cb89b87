//! Errors at the very start of a successful stream: a provider that answers 200 and then,
//! before any content, sends an error (Anthropic's `overloaded_error` event, a Bedrock
//! exception frame, a Gemini error chunk).
//!
//! Envoy retries on response status only, and a local reply from an upstream filter is
//! final, so the provider filter holds the response headers of a stream until
//! [`inspect`] has seen the first content or the first error. On an error it rewrites the
//! held status to [`retry_status`] (a retriable 5xx for overload), and Envoy's router
//! treats the attempt like any failed one: retried, failed over, or answered as an error.

use crate::formats::codec::{self, StreamDecoder};
use crate::formats::WireFormat;
use crate::framing::FrameParser;
use crate::model::{ApiError, ErrorClass, StreamEvent};
use crate::sse::DEFAULT_MAX_EVENT_BYTES;

/// How long the start of a stream is held, at most: past this many bytes without content
/// or error, the stream is let through as it is.
pub const MAX_HELD_BYTES: usize = 64 * 1024;

/// What the start of a stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStart {
    /// Only preamble so far (ids, roles, usage): keep holding.
    Undecided,
    /// Content (or the end) arrived first: release the stream.
    Content,
    /// The provider failed before any content.
    Error(ApiError),
}

/// Inspects the provider's stream from its first byte (`held` is everything so far).
pub fn inspect(provider: WireFormat, held: &[u8], end_of_stream: bool) -> StreamStart {
    let mut parser = FrameParser::new(codec::stream_framing(provider), DEFAULT_MAX_EVENT_BYTES);
    let mut decoder = StreamDecoder::new(provider);
    let mut frames = Vec::new();
    if parser.push(held, &mut frames).is_err() {
        // Unreadable output is the translator's to report.
        return StreamStart::Content;
    }
    let mut events = Vec::new();
    for frame in &frames {
        decoder.on_frame(frame, &mut events);
    }
    for event in events {
        match event {
            StreamEvent::Error(error) => return StreamStart::Error(error),
            StreamEvent::Start { .. }
            | StreamEvent::Usage(_)
            | StreamEvent::BlockStart { .. }
            | StreamEvent::BlockStop { .. } => {}
            StreamEvent::BlockDelta { delta, .. } if delta.is_empty() => {}
            _ => return StreamStart::Content,
        }
    }
    if end_of_stream || held.len() > MAX_HELD_BYTES {
        StreamStart::Content
    } else {
        StreamStart::Undecided
    }
}

/// The status that stands for an error found at the start of a stream: the class's own,
/// except overload, which becomes 503 (Anthropic's 529 is not a status routers retry).
pub fn retry_status(error: &ApiError) -> u16 {
    match error.class {
        ErrorClass::Overloaded => 503,
        class => class.status(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANTHROPIC_START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    const ANTHROPIC_OVERLOADED: &str = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    const ANTHROPIC_TEXT: &str = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";

    #[test]
    fn an_error_before_content_is_found() {
        let held = [ANTHROPIC_START, ANTHROPIC_OVERLOADED].concat();
        let StreamStart::Error(error) = inspect(WireFormat::Anthropic, held.as_bytes(), false)
        else {
            panic!("expected an error");
        };
        assert_eq!(error.class, ErrorClass::Overloaded);
        assert_eq!(retry_status(&error), 503);
    }

    #[test]
    fn preamble_alone_keeps_holding_until_the_end() {
        let held = ANTHROPIC_START.as_bytes();
        assert_eq!(
            inspect(WireFormat::Anthropic, held, false),
            StreamStart::Undecided
        );
        assert_eq!(
            inspect(WireFormat::Anthropic, held, true),
            StreamStart::Content
        );
        let partial = &ANTHROPIC_OVERLOADED.as_bytes()[..20];
        assert_eq!(
            inspect(WireFormat::Anthropic, partial, false),
            StreamStart::Undecided
        );
    }

    #[test]
    fn content_first_releases_the_stream() {
        let held = [ANTHROPIC_START, ANTHROPIC_TEXT, ANTHROPIC_OVERLOADED].concat();
        assert_eq!(
            inspect(WireFormat::Anthropic, held.as_bytes(), false),
            StreamStart::Content
        );
        let openai = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
        assert_eq!(
            inspect(WireFormat::OpenAi, openai.as_bytes(), false),
            StreamStart::Content
        );
    }

    #[test]
    fn rate_limits_keep_their_status() {
        let error = ApiError::new(ErrorClass::RateLimited, "slow down");
        assert_eq!(retry_status(&error), 429);
    }
}
