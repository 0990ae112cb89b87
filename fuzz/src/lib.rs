//! Harnesses behind the fuzz targets in `fuzz_targets/`.
//!
//! Each target reads a few header bytes that pick the case (formats, streaming, status,
//! limits) and where the body is cut, then feeds the rest of the input to the core and checks
//! invariants beyond "no panic". The input encoding lives here next to [`seeds`], which writes
//! the in-tree fixtures (and the shared recordings) as inputs in that encoding, so seeds and
//! targets cannot disagree.
//!
//! Extending: a new wire format is one entry in [`FORMATS`]; the translator targets and their
//! seeds pick it up (the translator chooses the framing itself, so Bedrock's binary event
//! streams are covered on both sides). A new framing parser implements
//! [`push_parser::PushParser`] (a dozen lines) and gets a target like
//! `fuzz_targets/sse_parser.rs` plus its `[[bin]]` entry; `make fuzz` runs every target.

use tollgate_core::formats::WireFormat;

pub mod chunks;
pub mod embeddings;
pub mod push_parser;
pub mod request;
pub mod response;
pub mod seeds;

/// Every wire format, in the order header bytes index them. One line per format.
pub const FORMATS: &[WireFormat] = &[
    WireFormat::OpenAi,
    WireFormat::Anthropic,
    WireFormat::Cohere,
    WireFormat::Gemini,
    WireFormat::Bedrock,
];

/// The format a header byte picks.
fn format_at(byte: u8) -> WireFormat {
    FORMATS[usize::from(byte) % FORMATS.len()]
}

/// The header byte that picks `format`.
fn format_byte(format: WireFormat) -> u8 {
    let index = FORMATS.iter().position(|&f| f == format);
    index.and_then(|i| u8::try_from(i).ok()).unwrap_or(0)
}

/// Reads header bytes off the front of a fuzz input; a short input reads as zeros.
struct Header<'a> {
    rest: &'a [u8],
}

impl<'a> Header<'a> {
    fn new(input: &'a [u8]) -> Self {
        Header { rest: input }
    }

    fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&first, rest)) => {
                self.rest = rest;
                first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// The body: everything after the header.
    fn body(self) -> &'a [u8] {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_its_own_byte() {
        for &format in FORMATS {
            assert_eq!(format_at(format_byte(format)), format);
        }
    }

    #[test]
    fn short_input_reads_as_zeros() {
        let mut header = Header::new(&[7]);
        assert_eq!(header.byte(), 7);
        assert_eq!(header.u16(), 0);
        assert!(header.body().is_empty());
    }
}
