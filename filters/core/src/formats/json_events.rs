//! The opening every decoder of one JSON document per SSE event shares (OpenAI chunks,
//! Cohere and Anthropic events): nothing counts once the stream is closed, an event without
//! data (a comment, a keep-alive) carries nothing, and the `[DONE]` sentinel of OpenAI's
//! streams (Cohere's end with it too) ends the stream.

use crate::model::StreamEvent;
use crate::sse::SseEvent;

/// A stream decoder reading one JSON document per SSE event.
pub trait JsonEventDecoder {
    /// Set once an error or the end was seen; nothing after it counts.
    fn closed(&mut self) -> &mut bool;

    /// Emits the stops of the blocks still open, before the stream ends at `[DONE]`.
    fn close_blocks(&mut self, _out: &mut Vec<StreamEvent>) {}
}

/// The JSON text of `event`, trimmed, or `None` when there is nothing to decode: the stream
/// is closed, the event has no data, or it is `[DONE]`, which this ends the stream with.
pub fn json_data<'e>(
    decoder: &mut impl JsonEventDecoder,
    event: &'e SseEvent,
    out: &mut Vec<StreamEvent>,
) -> Option<&'e str> {
    if *decoder.closed() {
        return None;
    }
    let data = event.data.as_deref()?.trim();
    if data.is_empty() {
        return None;
    }
    if data == "[DONE]" {
        decoder.close_blocks(out);
        *decoder.closed() = true;
        out.push(StreamEvent::End);
        return None;
    }
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One open block, stopped at `[DONE]`.
    #[derive(Default)]
    struct Decoder {
        closed: bool,
    }

    impl JsonEventDecoder for Decoder {
        fn closed(&mut self) -> &mut bool {
            &mut self.closed
        }

        fn close_blocks(&mut self, out: &mut Vec<StreamEvent>) {
            out.push(StreamEvent::BlockStop { index: 0 });
        }
    }

    fn data(data: Option<&str>) -> SseEvent {
        SseEvent {
            event: None,
            data: data.map(str::to_owned),
            raw: Vec::new(),
        }
    }

    #[test]
    fn json_is_handed_over_trimmed() {
        let mut out = Vec::new();
        let event = data(Some(" {\"a\":1}\r"));
        let json = json_data(&mut Decoder::default(), &event, &mut out);
        assert_eq!(json, Some("{\"a\":1}"));
        assert!(out.is_empty());
    }

    #[test]
    fn events_without_data_carry_nothing() {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for event in [data(None), data(Some("")), data(Some("  "))] {
            assert_eq!(json_data(&mut decoder, &event, &mut out), None);
        }
        assert!(out.is_empty() && !decoder.closed);
    }

    #[test]
    fn done_stops_open_blocks_ends_and_closes() {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        assert_eq!(
            json_data(&mut decoder, &data(Some("[DONE]")), &mut out),
            None
        );
        assert_eq!(out, [StreamEvent::BlockStop { index: 0 }, StreamEvent::End]);
        let late = data(Some("{}"));
        assert_eq!(json_data(&mut decoder, &late, &mut out), None);
        assert_eq!(out.len(), 2);
    }
}
