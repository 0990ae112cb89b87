//! Framing parsers (`text/event-stream`, AWS event streams): whatever the cuts, the frames,
//! their raw bytes and the first error must be those of the uncut input.

use std::fmt::Debug;

use tollgate_core::eventstream::{self, EventStreamError, EventStreamParser, Message};
use tollgate_core::sse::{self, SseError, SseEvent, SseParser, DEFAULT_MAX_EVENT_BYTES};

use crate::chunks::chunks;
use crate::Header;

/// The shape every incremental framing parser in the core shares.
pub trait PushParser: Sized {
    type Frame: Debug + PartialEq;
    type Error: Debug + PartialEq;

    /// A parser that keeps each frame's raw bytes, bounded to `max_frame_bytes` per frame.
    fn keeping_raw(max_frame_bytes: usize) -> Self;
    fn push(&mut self, input: &[u8], out: &mut Vec<Self::Frame>) -> Result<(), Self::Error>;
    /// Ends the input. The default reports nothing: a partial frame is dropped.
    fn finish(&mut self, _out: &mut Vec<Self::Frame>) -> Result<(), Self::Error> {
        Ok(())
    }
    fn raw(frame: &Self::Frame) -> &[u8];
    /// More checks on one frame.
    fn check_frame(_frame: &Self::Frame) {}
    /// `finish` reports a trailing partial frame, so a clean input is covered byte for byte.
    const FINISH_KEEPS_PARTIAL: bool = false;
}

/// Frame bounds a header byte picks from: the production default and small ones, so the
/// size-limit path is reached.
const MAX_FRAME_BYTES: [usize; 4] = [DEFAULT_MAX_EVENT_BYTES, 64, 7, 0];

/// Input: `[split lo, split hi, frame bound]` then the stream.
pub fn fuzz<P: PushParser>(data: &[u8]) {
    let mut header = Header::new(data);
    let split = header.u16();
    let max = MAX_FRAME_BYTES[usize::from(header.byte()) % MAX_FRAME_BYTES.len()];
    let body = header.body();

    let whole = parse::<P>(max, &[body]);
    let cut = parse::<P>(max, &chunks(body, split));
    assert_eq!(cut, whole, "frames depend on where the input is cut");

    let (frames, result) = whole;
    let raw: Vec<u8> = frames.iter().flat_map(|f| P::raw(f).to_vec()).collect();
    assert!(body.starts_with(&raw), "raw bytes are not the input's");
    if result.is_ok() && P::FINISH_KEEPS_PARTIAL {
        assert_eq!(raw.len(), body.len(), "input bytes missing from the frames");
    }
    frames.iter().for_each(P::check_frame);
}

/// Header bytes for a seed: `split` cuts, production frame bound.
pub fn seed_header(split: u16) -> Vec<u8> {
    let [lo, hi] = split.to_le_bytes();
    vec![lo, hi, 0]
}

type Parsed<P> = (
    Vec<<P as PushParser>::Frame>,
    Result<(), <P as PushParser>::Error>,
);

fn parse<P: PushParser>(max: usize, pieces: &[&[u8]]) -> Parsed<P> {
    let mut parser = P::keeping_raw(max);
    let mut frames = Vec::new();
    let mut first_error = Ok(());
    for piece in pieces {
        if let Err(err) = parser.push(piece, &mut frames) {
            first_error = first_error.and(Err(err));
        }
    }
    if let Err(err) = parser.finish(&mut frames) {
        first_error = first_error.and(Err(err));
    }
    (frames, first_error)
}

// === impl PushParser for SseParser ===

impl PushParser for SseParser {
    type Frame = SseEvent;
    type Error = SseError;
    const FINISH_KEEPS_PARTIAL: bool = true;

    fn keeping_raw(max_frame_bytes: usize) -> Self {
        SseParser::new(max_frame_bytes).keeping_raw()
    }

    fn push(&mut self, input: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        SseParser::push(self, input, out)
    }

    fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        SseParser::finish(self, out)
    }

    fn raw(frame: &SseEvent) -> &[u8] {
        &frame.raw
    }

    /// The writer the stream encoders use must give the event back unchanged.
    fn check_frame(event: &SseEvent) {
        let Some(data) = &event.data else { return };
        let mut written = Vec::new();
        sse::write_event(&mut written, event.event.as_deref(), data);
        let mut parser = SseParser::new(usize::MAX);
        let mut again = Vec::new();
        let parsed = parser
            .push(&written, &mut again)
            .and_then(|()| parser.finish(&mut again));
        assert_eq!(parsed, Ok(()));
        let again: Vec<_> = again.iter().map(|e| (&e.event, &e.data)).collect();
        assert_eq!(
            again,
            [(&event.event, &event.data)],
            "write_event round trip"
        );
    }
}

// === impl PushParser for EventStreamParser ===

impl PushParser for EventStreamParser {
    type Frame = Message;
    type Error = EventStreamError;

    fn keeping_raw(max_frame_bytes: usize) -> Self {
        EventStreamParser::new(max_frame_bytes).keeping_raw()
    }

    fn push(&mut self, input: &[u8], out: &mut Vec<Message>) -> Result<(), EventStreamError> {
        EventStreamParser::push(self, input, out)
    }

    fn raw(frame: &Message) -> &[u8] {
        &frame.raw
    }

    /// A decoded message is canonical: the encoder the Bedrock stream encoder uses writes
    /// its headers and payload back to the very bytes received.
    fn check_frame(message: &Message) {
        let written = eventstream::encode_message(&message.headers, &message.payload);
        assert_eq!(
            written.as_deref(),
            Ok(&message.raw[..]),
            "encode_message round trip"
        );
    }
}
