//! [`ResponseTranslator`] for every provider × client pair, streaming or not, any status.

use serde::de::IgnoredAny;
use tollgate_core::formats::{codec, WireFormat};
use tollgate_core::framing::{Frame, FrameParser};
use tollgate_core::model::{ApiError, StopReason, Usage};
use tollgate_core::translate::{Outcome, ResponseTranslator};

use crate::chunks::chunks;
use crate::{format_at, format_byte, Header};

/// Statuses a header byte picks from: success first (byte 0), the errors providers send, and
/// a few no provider should (Envoy passes on whatever arrives).
const STATUSES: &[u16] = &[
    200, 201, 204, 400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529, 0, 100, 302,
    599, 999,
];

const STREAM: u8 = 1;
const WANTS_USAGE: u8 = 1 << 1;
/// A 64-byte bound on one provider event, so the oversized-event path is reached.
const SMALL_EVENTS: u8 = 1 << 2;
/// End of stream comes as a separate empty chunk, as Envoy often delivers it.
const EMPTY_LAST_CHUNK: u8 = 1 << 3;

/// One translation, as the header picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub provider: WireFormat,
    pub client: WireFormat,
    /// Flag bits above.
    pub flags: u8,
    pub status: u16,
    /// Where the body is cut, see [`chunks`].
    pub split: u16,
}

impl Case {
    /// Input: `[provider, client, flags, status, split lo, split hi]` then the provider body.
    pub fn read(data: &[u8]) -> (Case, &[u8]) {
        let mut header = Header::new(data);
        let case = Case {
            provider: format_at(header.byte()),
            client: format_at(header.byte()),
            flags: header.byte(),
            status: STATUSES[usize::from(header.byte()) % STATUSES.len()],
            split: header.u16(),
        };
        (case, header.body())
    }

    /// The header bytes [`Case::read`] reads back as this case.
    pub fn header(&self) -> Vec<u8> {
        let status = STATUSES.iter().position(|&s| s == self.status).unwrap_or(0);
        let [lo, hi] = self.split.to_le_bytes();
        vec![
            format_byte(self.provider),
            format_byte(self.client),
            self.flags,
            u8::try_from(status).unwrap_or(0),
            lo,
            hi,
        ]
    }

    /// A streamed answer with the usage chunk an OpenAI client asks for.
    pub fn stream(provider: WireFormat, client: WireFormat, status: u16, split: u16) -> Case {
        let usage = if client == WireFormat::OpenAi {
            WANTS_USAGE
        } else {
            0
        };
        Case {
            provider,
            client,
            flags: STREAM | usage,
            status,
            split,
        }
    }

    pub fn body(provider: WireFormat, client: WireFormat, status: u16, split: u16) -> Case {
        Case {
            provider,
            client,
            flags: 0,
            status,
            split,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn translator(&self) -> ResponseTranslator {
        let translator = ResponseTranslator::new(
            self.client,
            self.provider,
            self.has(STREAM),
            self.has(WANTS_USAGE),
            self.status,
        )
        .with_created(1_700_000_000)
        .with_model("upstream-model");
        if self.has(SMALL_EVENTS) {
            translator.with_max_event_bytes(64)
        } else {
            translator
        }
    }

    fn run(&self, pieces: &[&[u8]]) -> Run {
        let mut translator = self.translator();
        let mut out = Vec::new();
        let separate_end = self.has(EMPTY_LAST_CHUNK) || pieces.is_empty();
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            out.extend(translator.feed(piece, last && !separate_end));
        }
        if separate_end {
            out.extend(translator.feed(&[], true));
        }
        let late = translator.feed(b"data: {}\n\n", true);
        assert!(late.is_empty(), "output after the end: {late:?}");
        Run {
            out,
            usage: translator.usage().copied(),
            stop_reason: translator.stop_reason().cloned(),
            outcome: translator.outcome(),
            error: translator.error().cloned(),
            client_status: translator.client_status(),
            streaming: translator.content_type() != "application/json",
        }
    }
}

/// Everything a translation reports.
#[derive(Debug, PartialEq)]
struct Run {
    out: Vec<u8>,
    usage: Option<Usage>,
    stop_reason: Option<StopReason>,
    outcome: Outcome,
    error: Option<ApiError>,
    client_status: u16,
    streaming: bool,
}

pub fn fuzz(data: &[u8]) {
    let (case, body) = Case::read(data);
    let whole = case.run(&[body]);
    let cut = case.run(&chunks(body, case.split));
    assert_eq!(
        cut, whole,
        "{case:?}: the result depends on where the body is cut"
    );
    check(&case, &whole);
}

fn check(case: &Case, run: &Run) {
    assert_ne!(
        run.outcome,
        Outcome::InProgress,
        "{case:?}: no outcome after the end"
    );
    assert_eq!(
        run.outcome == Outcome::Failed,
        run.error.is_some(),
        "{case:?}: a failure must say why, and only a failure"
    );
    if !run.streaming {
        let json = serde_json::from_slice::<IgnoredAny>(&run.out);
        assert!(json.is_ok(), "{case:?}: body is not JSON");
    } else if case.client != case.provider {
        check_translated_stream(case, &run.out);
    }
}

/// A translated stream is the gateway's own output: well-formed frames of the client's
/// framing (SSE, or AWS event-stream messages for a Bedrock client), each carrying JSON.
fn check_translated_stream(case: &Case, out: &[u8]) {
    let mut parser = FrameParser::new(codec::stream_framing(case.client), usize::MAX).keeping_raw();
    let mut frames = Vec::new();
    let parsed = parser
        .push(out, &mut frames)
        .and_then(|()| parser.finish(&mut frames));
    assert!(
        parsed.is_ok(),
        "{case:?}: output is not a stream: {parsed:?}"
    );
    for frame in &frames {
        let data = match frame {
            Frame::Sse(event) => match event.data.as_deref() {
                Some("[DONE]") | None => continue,
                Some(data) => data.as_bytes(),
            },
            Frame::EventStream(message) => &message.payload,
        };
        let json = serde_json::from_slice::<IgnoredAny>(data);
        assert!(
            json.is_ok(),
            "{case:?}: frame data is not JSON: {:?}",
            String::from_utf8_lossy(data)
        );
    }
    let framed: usize = frames.iter().map(|f| f.raw().len()).sum();
    assert_eq!(framed, out.len(), "{case:?}: output ends inside a frame");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reads_back() {
        for case in [
            Case::stream(WireFormat::Cohere, WireFormat::OpenAi, 200, 0x0102),
            Case::body(WireFormat::OpenAi, WireFormat::Anthropic, 529, 7),
        ] {
            let mut input = case.header();
            input.extend_from_slice(b"{}");
            assert_eq!(Case::read(&input), (case, &b"{}"[..]));
        }
    }
}
