//! The AWS event-stream framing test vectors (smithy-rs `aws-smithy-eventstream/test_data`,
//! in the shared fixtures under `bedrock/eventstream-vectors/`), read at run time.
//!
//! Valid vectors must decode to the headers and payload the reference implementation's own
//! tests expect (written out here from those tests), whole and split at every byte;
//! invalid ones must fail with the error their name describes.

mod common;

use std::path::Path;

use common::*;
use tollgate_core::eventstream::{
    encode_message, EventStreamError, EventStreamParser, Header, HeaderValue, Message,
};

fn header(name: &str, value: HeaderValue) -> Header {
    Header {
        name: name.into(),
        value,
    }
}

fn decode(bytes: &[u8]) -> Result<Vec<Message>, EventStreamError> {
    let mut parser = EventStreamParser::new(1 << 20);
    let mut out = Vec::new();
    parser.push(bytes, &mut out)?;
    Ok(out)
}

fn vectors() -> Option<std::path::PathBuf> {
    Some(shared_fixtures()?.join("bedrock/eventstream-vectors"))
}

fn check_valid(dir: &Path, name: &str, headers: Vec<Header>, payload: &[u8]) {
    let bytes = read(&dir.join(format!("{name}.bin")));
    let messages = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(messages.len(), 1, "{name}");
    assert_eq!(messages[0].headers, headers, "{name}: headers");
    assert_eq!(messages[0].payload, payload, "{name}: payload");
    // The encoder reproduces the vector byte for byte.
    assert_eq!(
        encode_message(&headers, payload).unwrap(),
        bytes,
        "{name}: encode"
    );
    for cut in 0..=bytes.len() {
        let mut parser = EventStreamParser::new(1 << 20);
        let mut out = Vec::new();
        parser.push(&bytes[..cut], &mut out).unwrap();
        parser.push(&bytes[cut..], &mut out).unwrap();
        assert_eq!(out, messages, "{name}: cut at {cut}");
    }
}

#[test]
fn valid_vectors_decode() {
    let Some(dir) = vectors() else { return };
    check_valid(
        &dir,
        "valid_with_all_headers_and_payload",
        vec![
            header("true", HeaderValue::Bool(true)),
            header("false", HeaderValue::Bool(false)),
            header("byte", HeaderValue::Byte(50)),
            header("short", HeaderValue::Int16(20_000)),
            header("int", HeaderValue::Int32(500_000)),
            header("long", HeaderValue::Int64(50_000_000_000)),
            header("bytes", HeaderValue::Bytes(b"some bytes".to_vec())),
            header("str", HeaderValue::String("some str".into())),
            header("time", HeaderValue::Timestamp(5_000_000_000)),
            header(
                "uuid",
                HeaderValue::Uuid(0xb79bc914_de21_4e13_b8b2_bc47e85b7f0b),
            ),
        ],
        b"some payload",
    );
    check_valid(
        &dir,
        "valid_empty_payload",
        vec![header("some-header", HeaderValue::Int16(500))],
        b"",
    );
    check_valid(&dir, "valid_no_headers", vec![], b"another test payload");
}

#[test]
fn invalid_vectors_give_their_error() {
    let Some(dir) = vectors() else { return };
    type Expected = fn(&EventStreamError) -> bool;
    let cases: [(&str, Expected); 8] = [
        ("invalid_header_string_value_length", |e| {
            *e == EventStreamError::HeaderValue
        }),
        ("invalid_header_string_length_cut_off", |e| {
            *e == EventStreamError::HeaderValue
        }),
        ("invalid_header_value_type", |e| {
            *e == EventStreamError::HeaderValueType(0x60)
        }),
        ("invalid_header_name_length", |e| {
            *e == EventStreamError::HeaderNameLength
        }),
        // The reference decoder reads this name past the end of the frame and reports bad
        // UTF-8; bounded to the headers section, the name's length is what is wrong.
        ("invalid_header_name_length_too_long", |e| {
            *e == EventStreamError::HeaderNameLength
        }),
        ("invalid_headers_length", |e| {
            *e == EventStreamError::HeadersLength {
                headers: 77,
                length: 89,
            }
        }),
        ("invalid_prelude_checksum", |e| {
            *e == EventStreamError::PreludeChecksum {
                computed: 0x8BB4_95FB,
                sent: 0xDEAD_BEEF,
            }
        }),
        ("invalid_message_checksum", |e| {
            *e == EventStreamError::MessageChecksum {
                computed: 0x01a0_5860,
                sent: 0xDEAD_BEEF,
            }
        }),
    ];
    let mut seen = 0;
    for (name, expected) in cases {
        let bytes = read(&dir.join(format!("{name}.bin")));
        let err = decode(&bytes).expect_err(name);
        assert!(expected(&err), "{name}: got {err:?}");
        // Byte by byte, the same error.
        let mut parser = EventStreamParser::new(1 << 20);
        let mut out = Vec::new();
        let err = bytes
            .chunks(1)
            .find_map(|b| parser.push(b, &mut out).err())
            .expect(name);
        assert!(expected(&err), "{name} byte by byte: got {err:?}");
        seen += 1;
    }
    let listed = files(&dir, ".bin")
        .iter()
        .filter(|p| p.to_string_lossy().contains("invalid_"))
        .count();
    assert_eq!(seen, listed, "every invalid vector is checked");
}
