//! Stream events: SSE framing, fault truncation and a body that really streams (also used
//! for Bedrock's binary event-stream frames, which only differ in framing).

use std::convert::Infallible;
use std::fmt::Display;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// One framed event. `content` marks events that carry a piece of the reply (a text or
/// argument delta), which is what `x-mock-stream-error: after:N` counts.
pub struct Event {
    frame: Bytes,
    content: bool,
}

impl Event {
    /// `data: …` with no event name (OpenAI).
    pub fn data(data: impl Display) -> Self {
        Self::framed(format!("data: {data}\n\n"))
    }

    /// `data: …` with CRLF line ends and no event name (Gemini's `alt=sse`).
    pub fn data_crlf(data: impl Display) -> Self {
        Self::framed(format!("data: {data}\r\n\r\n"))
    }

    /// `event: name` + `data: …` (Anthropic, and OpenAI-compatible error events).
    pub fn named(name: &str, data: impl Display) -> Self {
        Self::framed(format!("event: {name}\ndata: {data}\n\n"))
    }

    fn framed(frame: String) -> Self {
        Self::binary(frame.into_bytes())
    }

    /// An already framed event (a Bedrock event-stream message).
    pub fn binary(frame: Vec<u8>) -> Self {
        Event {
            frame: Bytes::from(frame),
            content: false,
        }
    }

    /// Marks this event as carrying reply content.
    pub fn with_content(self) -> Self {
        Event {
            content: true,
            ..self
        }
    }
}

/// Keeps what a provider would have sent before failing mid-stream: everything up to
/// and including the `n`th content event (or the last one, if there are fewer), and
/// nothing after it.
pub fn cut_after_content(mut events: Vec<Event>, n: usize) -> Vec<Event> {
    let mut content_at = events
        .iter()
        .enumerate()
        .filter(|(_, event)| event.content)
        .map(|(at, _)| at);
    let keep = match n {
        0 => content_at.next(),
        n => content_at.take(n).last().map(|at| at + 1),
    };
    events.truncate(keep.unwrap_or(events.len()));
    events
}

/// A `text/event-stream` response sending each event as its own body frame, so hyper
/// writes it as its own chunk; with `delay`, sleeps between events.
pub fn response(events: Vec<Event>, delay: Option<Duration>) -> Response {
    streamed("text/event-stream; charset=utf-8", events, delay)
}

/// [`response`] with another content type.
pub fn streamed(
    content_type: &'static str,
    events: Vec<Event>,
    delay: Option<Duration>,
) -> Response {
    let frames = futures_util::stream::iter(events.into_iter().enumerate()).then(
        move |(index, event)| async move {
            if let Some(delay) = delay.filter(|_| index > 0) {
                tokio::time::sleep(delay).await;
            }
            Ok::<_, Infallible>(event.frame)
        },
    );
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        Body::from_stream(frames),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame texts of a stream shaped like `start, c1, c2, c3, end`.
    fn cut(n: usize) -> Vec<String> {
        let events = vec![
            Event::data("start"),
            Event::data("c1").with_content(),
            Event::data("c2").with_content(),
            Event::data("c3").with_content(),
            Event::data("end"),
        ];
        cut_after_content(events, n)
            .iter()
            .map(|event| String::from_utf8_lossy(&event.frame).trim().to_owned())
            .collect()
    }

    #[test]
    fn cuts_right_after_the_nth_content_event() {
        assert_eq!(cut(0), ["data: start"]);
        assert_eq!(cut(2), ["data: start", "data: c1", "data: c2"]);
        assert_eq!(cut(9), ["data: start", "data: c1", "data: c2", "data: c3"]);
    }

    #[test]
    fn frames_events() {
        assert_eq!(&Event::data("[DONE]").frame[..], b"data: [DONE]\n\n");
        assert_eq!(&Event::data_crlf("{}").frame[..], b"data: {}\r\n\r\n");
        assert_eq!(
            &Event::named("ping", "{}").frame[..],
            b"event: ping\ndata: {}\n\n"
        );
    }
}
