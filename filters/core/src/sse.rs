//! Incremental Server-Sent Events parsing and writing.
//!
//! Envoy hands response bodies over in arbitrary chunks, so [`SseParser`] accepts input split
//! at any byte, including between the `\r` and `\n` of a CRLF. Lines end in CRLF, LF or CR
//! (as the SSE spec allows); a block ends at a blank line. Every block is reported, including
//! comment-only keep-alives, so that passthrough can forward them; translators look only at
//! blocks with data. Buffering is bounded by a maximum block size.

/// Default bound on one event block. Provider events are small; the bound only has to stop a
/// broken upstream from growing the buffer without limit.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One event block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`; `None` when the block had no data line.
    pub data: Option<String>,
    /// The block's bytes as received, terminators included (empty unless the parser was
    /// built with [`SseParser::keeping_raw`]).
    pub raw: Vec<u8>,
}

/// What a parser [dropping oversized events](SseParser::dropping_oversized) reports, in
/// stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Event(SseEvent),
    /// A block over the bound, dropped whole: none of its bytes is kept or reported.
    Dropped,
}

/// Where parsed blocks go.
trait Sink {
    fn event(&mut self, event: SseEvent);
    fn dropped(&mut self);
}

impl Sink for Vec<SseEvent> {
    fn event(&mut self, event: SseEvent) {
        self.push(event);
    }
    /// Unreachable: without `dropping_oversized`, an oversized block is an error.
    fn dropped(&mut self) {}
}

impl Sink for Vec<Parsed> {
    fn event(&mut self, event: SseEvent) {
        self.push(Parsed::Event(event));
    }
    fn dropped(&mut self) {
        self.push(Parsed::Dropped);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("a stream event exceeded the {limit}-byte limit")]
    EventTooLarge { limit: usize },
}

/// Push parser for `text/event-stream` bodies.
#[derive(Debug, Clone)]
pub struct SseParser {
    max_event_bytes: usize,
    keep_raw: bool,
    /// An oversized block is dropped and parsing goes on at the next block, instead of
    /// failing the stream.
    drop_oversized: bool,
    /// The current, unterminated line.
    line: Vec<u8>,
    /// The last byte consumed was a CR, so an LF right after it belongs to the same line end.
    skip_lf: bool,
    at_stream_start: bool,
    block: Block,
    failed: Option<SseError>,
}

#[derive(Debug, Clone, Default)]
struct Block {
    event: Option<String>,
    data: String,
    has_data: bool,
    /// Any non-blank line (field or comment) was seen.
    has_lines: bool,
    /// Bytes consumed for this block so far, for the size bound.
    size: usize,
    raw: Vec<u8>,
    /// The block outgrew the bound and is being skipped to its end.
    oversized: bool,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    pub fn new(max_event_bytes: usize) -> SseParser {
        SseParser {
            max_event_bytes,
            keep_raw: false,
            drop_oversized: false,
            line: Vec::new(),
            skip_lf: false,
            at_stream_start: true,
            block: Block::default(),
            failed: None,
        }
    }

    /// Also record each block's raw bytes, for forwarding them unchanged.
    pub fn keeping_raw(mut self) -> SseParser {
        self.keep_raw = true;
        self
    }

    /// Drop a block over the bound (reported as [`Parsed::Dropped`]) and go on with the
    /// next one, instead of failing: for a stream that must stay checked to its end.
    pub fn dropping_oversized(mut self) -> SseParser {
        self.drop_oversized = true;
        self
    }

    /// Consumes a chunk, appending every block it completes to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.push_into(input, out)
    }

    /// [`SseParser::push`] for a parser [dropping oversized events](Self::dropping_oversized).
    pub fn push_dropping(&mut self, input: &[u8], out: &mut Vec<Parsed>) {
        // Never fails: an oversized block is dropped, not an error.
        let _ = self.push_into(input, out);
    }

    /// [`SseParser::finish`] for a parser [dropping oversized events](Self::dropping_oversized).
    pub fn finish_dropping(&mut self, out: &mut Vec<Parsed>) {
        let _ = self.finish_into(out);
    }

    fn push_into(&mut self, mut input: &[u8], out: &mut impl Sink) -> Result<(), SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        while let Some((&first, rest)) = input.split_first() {
            if self.skip_lf {
                self.skip_lf = false;
                if first == b'\n' {
                    self.consume(&input[..1])?;
                    input = rest;
                    continue;
                }
            }
            match input.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.consume(input)?;
                    self.extend_line(input);
                    input = &[];
                }
                Some(end) => {
                    let (with_terminator, rest) = input.split_at(end + 1);
                    self.consume(with_terminator)?;
                    self.extend_line(&with_terminator[..end]);
                    self.skip_lf = with_terminator[end] == b'\r';
                    self.end_line(out);
                    input = rest;
                }
            }
        }
        Ok(())
    }

    /// Ends the stream. A final block without its blank line is still reported: some
    /// providers (and recorded fixtures) omit the last terminator.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.finish_into(out)
    }

    fn finish_into(&mut self, out: &mut impl Sink) -> Result<(), SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if !self.line.is_empty() {
            self.end_line(out);
        }
        if self.block.has_lines || !self.block.raw.is_empty() || self.block.oversized {
            self.dispatch(out);
        }
        Ok(())
    }

    /// Adds bytes to the current line; of an oversized block's line only whether it is
    /// blank matters (a blank line ends the block), so one byte stands for the rest.
    fn extend_line(&mut self, bytes: &[u8]) {
        if !self.block.oversized {
            self.line.extend_from_slice(bytes);
        } else if self.line.is_empty() && !bytes.is_empty() {
            self.line.push(b' ');
        }
    }

    fn consume(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.block.oversized {
            return Ok(());
        }
        let size = self.block.size.checked_add(bytes.len());
        match size {
            Some(size) if size <= self.max_event_bytes => self.block.size = size,
            _ if self.drop_oversized => {
                // Nothing of the block is kept; the line read so far only counts as non-blank.
                let nonblank = !self.line.is_empty();
                self.block = Block {
                    oversized: true,
                    ..Block::default()
                };
                self.line = if nonblank { vec![b' '] } else { Vec::new() };
                return Ok(());
            }
            _ => {
                let err = SseError::EventTooLarge {
                    limit: self.max_event_bytes,
                };
                self.failed = Some(err.clone());
                return Err(err);
            }
        }
        if self.keep_raw {
            self.block.raw.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut impl Sink) {
        let mut line = std::mem::take(&mut self.line);
        if self.at_stream_start {
            self.at_stream_start = false;
            if line.starts_with(UTF8_BOM) {
                line.drain(..UTF8_BOM.len());
            }
        }
        if line.is_empty() {
            if self.block.has_lines || self.keep_raw || self.block.oversized {
                self.dispatch(out);
            } else {
                self.block = Block::default();
            }
        } else if !self.block.oversized {
            self.block.has_lines = true;
            self.field(&line);
        }
        // Reuse the allocation for the next line.
        line.clear();
        self.line = line;
    }

    fn field(&mut self, line: &[u8]) {
        if line.first() == Some(&b':') {
            return; // comment
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"event" => self.block.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                if self.block.has_data {
                    self.block.data.push('\n');
                }
                self.block.data.push_str(&String::from_utf8_lossy(value));
                self.block.has_data = true;
            }
            _ => {} // id, retry and unknown fields carry nothing a translator needs
        }
    }

    fn dispatch(&mut self, out: &mut impl Sink) {
        let block = std::mem::take(&mut self.block);
        if block.oversized {
            out.dropped();
            return;
        }
        out.event(SseEvent {
            event: block.event,
            data: block.has_data.then_some(block.data),
            raw: block.raw,
        });
    }
}

/// Appends one event in canonical form (`event:` line if named, one `data:` line per line of
/// `data`, blank line).
pub fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    let mut rest = data;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&rest.as_bytes()[..end]);
        out.push(b'\n');
        let Some(tail) = rest.get(end..).filter(|t| !t.is_empty()) else {
            break;
        };
        let skip = if tail.starts_with("\r\n") { 2 } else { 1 };
        rest = &tail[skip..];
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new(1024).keeping_raw();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, &mut out).unwrap();
        }
        parser.finish(&mut out).unwrap();
        out
    }

    fn data_events(events: &[SseEvent]) -> Vec<(Option<&str>, &str)> {
        events
            .iter()
            .filter_map(|e| Some((e.event.as_deref(), e.data.as_deref()?)))
            .collect()
    }

    const SAMPLE: &[u8] = b"event: a\ndata: {\"x\":1}   \n\n: keep-alive\n\ndata: line1\ndata: line2\n\nevent: b\r\ndata:no-space\r\n\r\ndata: [DONE]\n\n";

    #[test]
    fn parses_fields_comments_and_multiline_data() {
        let events = parse_all(&[SAMPLE]);
        assert_eq!(
            data_events(&events),
            vec![
                (Some("a"), "{\"x\":1}   "),
                (None, "line1\nline2"),
                (Some("b"), "no-space"),
                (None, "[DONE]"),
            ]
        );
        // The comment block is reported without data so passthrough can forward it.
        assert!(events
            .iter()
            .any(|e| e.data.is_none() && e.raw == b": keep-alive\n\n"));
    }

    #[test]
    fn every_split_gives_the_same_events_and_raw_bytes() {
        let whole = parse_all(&[SAMPLE]);
        for cut in 0..=SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(cut);
            assert_eq!(parse_all(&[a, b]), whole, "split at {cut}");
        }
        let bytes: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(parse_all(&bytes), whole);
        let raw: Vec<u8> = whole.iter().flat_map(|e| e.raw.clone()).collect();
        assert_eq!(raw, SAMPLE);
    }

    #[test]
    fn crlf_split_between_cr_and_lf() {
        let events = parse_all(&[b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"]);
        assert_eq!(data_events(&events), vec![(None, "1"), (None, "2")]);
    }

    #[test]
    fn bare_cr_ends_lines() {
        let events = parse_all(&[b"event: x\rdata: y\r\r"]);
        assert_eq!(data_events(&events), vec![(Some("x"), "y")]);
    }

    #[test]
    fn final_block_without_blank_line_is_reported() {
        let events = parse_all(&[b"event: message_stop\ndata: {}"]);
        assert_eq!(data_events(&events), vec![(Some("message_stop"), "{}")]);
    }

    #[test]
    fn leading_bom_is_ignored() {
        let events = parse_all(&[b"\xEF\xBB", b"\xBFdata: 1\n\n"]);
        assert_eq!(data_events(&events), vec![(None, "1")]);
    }

    #[test]
    fn oversized_event_is_an_error_and_stays_one() {
        let mut parser = SseParser::new(16);
        let mut out = Vec::new();
        parser.push(b"data: 0123456", &mut out).unwrap();
        let err = parser.push(b"789abcdef\n\n", &mut out).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
        assert!(parser.push(b"\n", &mut out).is_err());
        assert!(parser.finish(&mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn an_oversized_block_is_dropped_and_parsing_goes_on_at_every_split() {
        let stream: &[u8] =
            b"data: a\n\ndata: 0123456789abcdef\ndata: more\r\n\r\nevent: e\ndata: b\n\n";
        for split in 0..stream.len() {
            let mut parser = SseParser::new(20).keeping_raw().dropping_oversized();
            let mut out = Vec::new();
            parser.push_dropping(&stream[..split], &mut out);
            parser.push_dropping(&stream[split..], &mut out);
            parser.finish_dropping(&mut out);
            let kinds: Vec<_> = out
                .iter()
                .map(|p| match p {
                    Parsed::Event(e) => e.data.clone().unwrap_or_default(),
                    Parsed::Dropped => "<dropped>".into(),
                })
                .collect();
            // The LF after the oversized block's last CR starts the next block as a blank line.
            let kinds: Vec<_> = kinds.into_iter().filter(|k| !k.is_empty()).collect();
            assert_eq!(kinds, ["a", "<dropped>", "b"], "split at {split}");
        }
    }

    #[test]
    fn a_block_filling_the_bound_until_its_blank_line_is_dropped_at_it() {
        let mut parser = SseParser::new(8).dropping_oversized();
        let mut out = Vec::new();
        parser.push_dropping(b"data: 1\n\ndata: 2\n", &mut out);
        parser.push_dropping(b"data: 3\n", &mut out);
        assert_eq!(out.len(), 1, "the second block is still open");
        parser.finish_dropping(&mut out);
        assert_eq!(out.last(), Some(&Parsed::Dropped));
    }

    #[test]
    fn limit_applies_per_event_not_per_stream() {
        let mut parser = SseParser::new(16);
        let mut out = Vec::new();
        for _ in 0..100 {
            parser.push(b"data: 12345\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 100);
    }

    #[test]
    fn invalid_utf8_does_not_panic() {
        let events = parse_all(&[b"data: \xff\xfe\n\n"]);
        assert_eq!(events.len(), 1);
        assert!(events[0].data.as_deref().unwrap().contains('\u{FFFD}'));
    }

    #[test]
    fn writer_output_parses_back() {
        let mut out = Vec::new();
        write_event(
            &mut out,
            Some("message_stop"),
            "{\"type\":\"message_stop\"}",
        );
        write_event(&mut out, None, "a\nb\r\nc");
        write_event(&mut out, None, "");
        assert!(out.starts_with(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
        let events = parse_all(&[&out]);
        assert_eq!(
            data_events(&events),
            vec![
                (Some("message_stop"), "{\"type\":\"message_stop\"}"),
                (None, "a\nb\nc"),
                (None, ""),
            ]
        );
    }
}
