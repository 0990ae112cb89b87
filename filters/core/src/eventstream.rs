//! Incremental `application/vnd.amazon.eventstream` framing (AWS event streams, as sent by
//! Bedrock's ConverseStream).
//!
//! A message is binary:
//!
//! ```text
//! [u32 total length][u32 headers length][u32 CRC32 of the previous 8 bytes]
//! [headers: (u8 name length, name, u8 value type, value)*]
//! [payload]
//! [u32 CRC32 of everything before it]
//! ```
//!
//! all integers big-endian. [`EventStreamParser`] accepts input split at any byte, checks the
//! prelude checksum as soon as the prelude is complete (so a corrupt length never makes it
//! wait for, or buffer, a frame that does not exist), bounds the frame size, and checks the
//! message checksum once the frame is complete. Header errors are reported before a message
//! checksum mismatch, as the AWS reference decoder does. After an error the parser stays
//! failed: a byte stream cannot be resynchronised once a length is untrustworthy.

/// Prelude: total length, headers length, prelude CRC.
const PRELUDE_BYTES: usize = 12;
/// Prelude plus the trailing message CRC: the smallest possible frame.
const MIN_MESSAGE_BYTES: usize = PRELUDE_BYTES + 4;

/// Header value types, as numbered by the format.
const TYPE_TRUE: u8 = 0;
const TYPE_FALSE: u8 = 1;
const TYPE_BYTE: u8 = 2;
const TYPE_INT16: u8 = 3;
const TYPE_INT32: u8 = 4;
const TYPE_INT64: u8 = 5;
const TYPE_BYTES: u8 = 6;
const TYPE_STRING: u8 = 7;
const TYPE_TIMESTAMP: u8 = 8;
const TYPE_UUID: u8 = 9;

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<Header>,
    pub payload: Vec<u8>,
    /// The frame's bytes as received (empty unless the parser was built with
    /// [`EventStreamParser::keeping_raw`]).
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Bytes(Vec<u8>),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid(u128),
}

impl Message {
    /// The value of a string header (`:event-type`, `:message-type`, …).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| match &h.value {
            HeaderValue::String(value) if h.name == name => Some(value.as_str()),
            _ => None,
        })
    }
}

/// Why a byte stream is not a valid event stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventStreamError {
    #[error("an event-stream message declares {length} bytes, fewer than its fixed parts")]
    MessageTooShort { length: u32 },
    #[error("an event-stream message of {length} bytes exceeds the {limit}-byte limit")]
    MessageTooLarge { length: u32, limit: usize },
    #[error(
        "event-stream prelude checksum mismatch (computed {computed:#010x}, sent {sent:#010x})"
    )]
    PreludeChecksum { computed: u32, sent: u32 },
    #[error("event-stream headers length {headers} does not fit a {length}-byte message")]
    HeadersLength { headers: u32, length: u32 },
    #[error("an event-stream header name does not fit its headers")]
    HeaderNameLength,
    #[error("an event-stream header has the unknown value type {0}")]
    HeaderValueType(u8),
    #[error("an event-stream header value does not fit its headers")]
    HeaderValue,
    #[error("an event-stream header name or string value is not UTF-8")]
    InvalidUtf8,
    #[error(
        "event-stream message checksum mismatch (computed {computed:#010x}, sent {sent:#010x})"
    )]
    MessageChecksum { computed: u32, sent: u32 },
}

/// Push parser for event-stream bodies.
#[derive(Debug, Clone)]
pub struct EventStreamParser {
    max_message_bytes: usize,
    keep_raw: bool,
    /// Bytes of the current, incomplete message.
    buffer: Vec<u8>,
    /// Lengths of the current message once its prelude checked out.
    prelude: Option<Prelude>,
    failed: Option<EventStreamError>,
}

#[derive(Debug, Clone, Copy)]
struct Prelude {
    total: usize,
    headers: usize,
}

impl EventStreamParser {
    pub fn new(max_message_bytes: usize) -> EventStreamParser {
        EventStreamParser {
            max_message_bytes,
            keep_raw: false,
            buffer: Vec::new(),
            prelude: None,
            failed: None,
        }
    }

    /// Also record each message's raw bytes, for forwarding them unchanged.
    pub fn keeping_raw(mut self) -> EventStreamParser {
        self.keep_raw = true;
        self
    }

    /// Consumes a chunk, appending every message it completes to `out`.
    pub fn push(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<Message>,
    ) -> Result<(), EventStreamError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        while !input.is_empty() {
            // Take only what the current message still needs, so each frame is decoded from
            // its own bytes and the buffer never holds more than one frame.
            let wanted = match self.prelude {
                None => PRELUDE_BYTES - self.buffer.len(),
                Some(prelude) => prelude.total - self.buffer.len(),
            };
            let (head, rest) = input.split_at(wanted.min(input.len()));
            self.buffer.extend_from_slice(head);
            input = rest;
            if let Err(err) = self.advance(out) {
                self.failed = Some(err.clone());
                return Err(err);
            }
        }
        Ok(())
    }

    /// Checks the prelude or decodes the message once enough bytes are buffered.
    fn advance(&mut self, out: &mut Vec<Message>) -> Result<(), EventStreamError> {
        let prelude = match self.prelude {
            Some(prelude) => prelude,
            None if self.buffer.len() == PRELUDE_BYTES => {
                let prelude = read_prelude(&self.buffer, self.max_message_bytes)?;
                self.prelude = Some(prelude);
                prelude
            }
            None => return Ok(()),
        };
        if self.buffer.len() < prelude.total {
            return Ok(());
        }
        let frame = std::mem::take(&mut self.buffer);
        self.prelude = None;
        let mut message = read_message(&frame, prelude)?;
        if self.keep_raw {
            message.raw = frame;
        }
        out.push(message);
        Ok(())
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(word)
}

/// Validates a complete 12-byte prelude.
fn read_prelude(prelude: &[u8], max_message_bytes: usize) -> Result<Prelude, EventStreamError> {
    let computed = crc32fast::hash(&prelude[..8]);
    let sent = be_u32(&prelude[8..]);
    if computed != sent {
        return Err(EventStreamError::PreludeChecksum { computed, sent });
    }
    let length = be_u32(prelude);
    let headers = be_u32(&prelude[4..]);
    let total = usize::try_from(length).unwrap_or(usize::MAX);
    if total < MIN_MESSAGE_BYTES {
        return Err(EventStreamError::MessageTooShort { length });
    }
    if total > max_message_bytes {
        return Err(EventStreamError::MessageTooLarge {
            length,
            limit: max_message_bytes,
        });
    }
    let headers_len = usize::try_from(headers).unwrap_or(usize::MAX);
    if headers_len > total - MIN_MESSAGE_BYTES {
        return Err(EventStreamError::HeadersLength { headers, length });
    }
    Ok(Prelude {
        total,
        headers: headers_len,
    })
}

/// Decodes a complete frame whose prelude was validated.
fn read_message(frame: &[u8], prelude: Prelude) -> Result<Message, EventStreamError> {
    let headers_end = PRELUDE_BYTES + prelude.headers;
    let crc_at = prelude.total - 4;
    let headers = read_headers(&frame[PRELUDE_BYTES..headers_end])?;
    let computed = crc32fast::hash(&frame[..crc_at]);
    let sent = be_u32(&frame[crc_at..]);
    if computed != sent {
        return Err(EventStreamError::MessageChecksum { computed, sent });
    }
    Ok(Message {
        headers,
        payload: frame[headers_end..crc_at].to_vec(),
        raw: Vec::new(),
    })
}

/// A cursor over the headers section; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, err: EventStreamError) -> Result<&'a [u8], EventStreamError> {
        if n > self.bytes.len() {
            return Err(err);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EventStreamError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, EventStreamError::HeaderValue)?);
        Ok(out)
    }
}

fn read_headers(bytes: &[u8]) -> Result<Vec<Header>, EventStreamError> {
    let mut reader = Reader { bytes };
    let mut headers = Vec::new();
    while !reader.bytes.is_empty() {
        let name_len = reader.take(1, EventStreamError::HeaderNameLength)?[0];
        // The name must leave room for at least the value type.
        if usize::from(name_len) >= reader.bytes.len() {
            return Err(EventStreamError::HeaderNameLength);
        }
        let name = reader.take(usize::from(name_len), EventStreamError::HeaderNameLength)?;
        let name = std::str::from_utf8(name).map_err(|_| EventStreamError::InvalidUtf8)?;
        let value = read_value(&mut reader)?;
        headers.push(Header {
            name: name.to_owned(),
            value,
        });
    }
    Ok(headers)
}

fn read_value(reader: &mut Reader) -> Result<HeaderValue, EventStreamError> {
    let kind = reader.take(1, EventStreamError::HeaderValue)?[0];
    Ok(match kind {
        TYPE_TRUE => HeaderValue::Bool(true),
        TYPE_FALSE => HeaderValue::Bool(false),
        TYPE_BYTE => HeaderValue::Byte(i8::from_be_bytes(reader.array()?)),
        TYPE_INT16 => HeaderValue::Int16(i16::from_be_bytes(reader.array()?)),
        TYPE_INT32 => HeaderValue::Int32(i32::from_be_bytes(reader.array()?)),
        TYPE_INT64 => HeaderValue::Int64(i64::from_be_bytes(reader.array()?)),
        TYPE_TIMESTAMP => HeaderValue::Timestamp(i64::from_be_bytes(reader.array()?)),
        TYPE_UUID => HeaderValue::Uuid(u128::from_be_bytes(reader.array()?)),
        TYPE_BYTES | TYPE_STRING => {
            let len = u16::from_be_bytes(reader.array()?);
            let value = reader.take(usize::from(len), EventStreamError::HeaderValue)?;
            if kind == TYPE_BYTES {
                HeaderValue::Bytes(value.to_vec())
            } else {
                let text = std::str::from_utf8(value).map_err(|_| EventStreamError::InvalidUtf8)?;
                HeaderValue::String(text.to_owned())
            }
        }
        other => return Err(EventStreamError::HeaderValueType(other)),
    })
}

// === encoding ===

/// Why a message cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("an event-stream header name is longer than 255 bytes")]
    NameTooLong,
    #[error("an event-stream header value is longer than 65535 bytes")]
    ValueTooLong,
    #[error("an event-stream message is longer than 4 GiB")]
    MessageTooLong,
}

/// Frames a message: headers in the given order, then the payload, with both checksums.
pub fn encode_message(headers: &[Header], payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut header_bytes = Vec::new();
    for header in headers {
        let name = header.name.as_bytes();
        header_bytes.push(u8::try_from(name.len()).map_err(|_| EncodeError::NameTooLong)?);
        header_bytes.extend_from_slice(name);
        write_value(&header.value, &mut header_bytes)?;
    }
    let headers_len = u32::try_from(header_bytes.len()).map_err(|_| EncodeError::MessageTooLong)?;
    let total = [MIN_MESSAGE_BYTES, header_bytes.len(), payload.len()]
        .iter()
        .try_fold(0usize, |sum, n| sum.checked_add(*n))
        .and_then(|total| u32::try_from(total).ok())
        .ok_or(EncodeError::MessageTooLong)?;
    let mut frame = Vec::with_capacity(total as usize);
    frame.extend_from_slice(&total.to_be_bytes());
    frame.extend_from_slice(&headers_len.to_be_bytes());
    let prelude_crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&prelude_crc.to_be_bytes());
    frame.extend_from_slice(&header_bytes);
    frame.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&message_crc.to_be_bytes());
    Ok(frame)
}

fn write_value(value: &HeaderValue, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match value {
        HeaderValue::Bool(true) => out.push(TYPE_TRUE),
        HeaderValue::Bool(false) => out.push(TYPE_FALSE),
        HeaderValue::Byte(v) => {
            out.push(TYPE_BYTE);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int16(v) => {
            out.push(TYPE_INT16);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int32(v) => {
            out.push(TYPE_INT32);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int64(v) => {
            out.push(TYPE_INT64);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Timestamp(v) => {
            out.push(TYPE_TIMESTAMP);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Uuid(v) => {
            out.push(TYPE_UUID);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Bytes(bytes) => write_sized(TYPE_BYTES, bytes, out)?,
        HeaderValue::String(text) => write_sized(TYPE_STRING, text.as_bytes(), out)?,
    }
    Ok(())
}

fn write_sized(kind: u8, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = u16::try_from(bytes.len()).map_err(|_| EncodeError::ValueTooLong)?;
    out.push(kind);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// A string header, the only kind event-stream services put on their messages.
pub fn string_header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_owned(),
        value: HeaderValue::String(value.to_owned()),
    }
}

#[cfg(test)]
#[path = "eventstream_tests.rs"]
mod tests;
