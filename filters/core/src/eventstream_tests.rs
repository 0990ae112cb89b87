use super::*;

/// A Bedrock-shaped text delta framed by an independent implementation (Python's
/// `zlib.crc32` and `struct`), so the encoder and decoder are checked against bytes neither
/// produced.
const TEXT_DELTA_HEX: &str = "0000009400000057b4ab9aee0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a224869227d7d1f944657";
const TEXT_DELTA_PAYLOAD: &[u8] = br#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn bedrock_headers(event: &str) -> Vec<Header> {
    vec![
        string_header(":event-type", event),
        string_header(":content-type", "application/json"),
        string_header(":message-type", "event"),
    ]
}

fn parse_all(bytes: &[u8]) -> Result<Vec<Message>, EventStreamError> {
    let mut parser = EventStreamParser::new(1 << 20);
    let mut out = Vec::new();
    parser.push(bytes, &mut out)?;
    Ok(out)
}

#[test]
fn decodes_an_independently_framed_message() {
    let messages = parse_all(&hex(TEXT_DELTA_HEX)).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].headers, bedrock_headers("contentBlockDelta"));
    assert_eq!(messages[0].payload, TEXT_DELTA_PAYLOAD);
    assert_eq!(
        messages[0].header_str(":event-type"),
        Some("contentBlockDelta")
    );
    assert!(messages[0].raw.is_empty());
}

#[test]
fn encoder_matches_the_independent_framing() {
    let frame = encode_message(&bedrock_headers("contentBlockDelta"), TEXT_DELTA_PAYLOAD).unwrap();
    assert_eq!(frame, hex(TEXT_DELTA_HEX));
}

#[test]
fn every_header_type_round_trips() {
    let headers = vec![
        Header {
            name: "t".into(),
            value: HeaderValue::Bool(true),
        },
        Header {
            name: "f".into(),
            value: HeaderValue::Bool(false),
        },
        Header {
            name: "b".into(),
            value: HeaderValue::Byte(-3),
        },
        Header {
            name: "s".into(),
            value: HeaderValue::Int16(-20_000),
        },
        Header {
            name: "i".into(),
            value: HeaderValue::Int32(500_000),
        },
        Header {
            name: "l".into(),
            value: HeaderValue::Int64(-50_000_000_000),
        },
        Header {
            name: "y".into(),
            value: HeaderValue::Bytes(vec![0, 255, 7]),
        },
        Header {
            name: "u8".into(),
            value: HeaderValue::String("héllo".into()),
        },
        Header {
            name: "ts".into(),
            value: HeaderValue::Timestamp(5_000_000_000),
        },
        Header {
            name: "id".into(),
            value: HeaderValue::Uuid(u128::MAX - 1),
        },
    ];
    let frame = encode_message(&headers, b"payload").unwrap();
    let messages = parse_all(&frame).unwrap();
    assert_eq!(messages[0].headers, headers);
    assert_eq!(messages[0].payload, b"payload");
}

#[test]
fn input_split_at_every_byte_gives_the_same_messages() {
    let mut stream = hex(TEXT_DELTA_HEX);
    stream.extend(encode_message(&[], b"").unwrap());
    stream.extend(encode_message(&bedrock_headers("metadata"), br#"{"usage":{}}"#).unwrap());
    let whole = parse_all(&stream).unwrap();
    assert_eq!(whole.len(), 3);
    for cut in 0..=stream.len() {
        let mut parser = EventStreamParser::new(1 << 20);
        let mut out = Vec::new();
        parser.push(&stream[..cut], &mut out).unwrap();
        parser.push(&stream[cut..], &mut out).unwrap();
        assert_eq!(out, whole, "cut at {cut}");
    }
    let mut parser = EventStreamParser::new(1 << 20);
    let mut out = Vec::new();
    for byte in stream.chunks(1) {
        parser.push(byte, &mut out).unwrap();
    }
    assert_eq!(out, whole);
}

#[test]
fn raw_bytes_are_kept_when_asked() {
    let frame = hex(TEXT_DELTA_HEX);
    let mut parser = EventStreamParser::new(1 << 20).keeping_raw();
    let mut out = Vec::new();
    parser.push(&frame[..50], &mut out).unwrap();
    parser.push(&frame[50..], &mut out).unwrap();
    assert_eq!(out[0].raw, frame);
}

#[test]
fn a_corrupt_prelude_fails_before_the_frame_arrives() {
    let mut frame = hex(TEXT_DELTA_HEX);
    frame[3] ^= 0x40; // total length changes, the prelude CRC no longer matches
    let mut parser = EventStreamParser::new(1 << 20);
    let mut out = Vec::new();
    let err = parser.push(&frame[..PRELUDE_BYTES], &mut out).unwrap_err();
    assert!(
        matches!(err, EventStreamError::PreludeChecksum { .. }),
        "{err}"
    );
    // The parser stays failed.
    assert_eq!(parser.push(&frame[PRELUDE_BYTES..], &mut out), Err(err));
    assert!(out.is_empty());
}

#[test]
fn frames_over_the_limit_are_refused_from_their_prelude() {
    let frame = encode_message(&[], &[b'x'; 100]).unwrap();
    let mut parser = EventStreamParser::new(64);
    let mut out = Vec::new();
    let err = parser.push(&frame[..PRELUDE_BYTES], &mut out).unwrap_err();
    assert_eq!(
        err,
        EventStreamError::MessageTooLarge {
            length: 116,
            limit: 64
        }
    );
}

#[test]
fn impossible_lengths_are_refused() {
    let prelude = |total: u32, headers: u32| {
        let mut bytes = total.to_be_bytes().to_vec();
        bytes.extend(headers.to_be_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend(crc.to_be_bytes());
        bytes
    };
    assert_eq!(
        parse_all(&prelude(15, 0)),
        Err(EventStreamError::MessageTooShort { length: 15 })
    );
    assert_eq!(
        parse_all(&prelude(20, 5)),
        Err(EventStreamError::HeadersLength {
            headers: 5,
            length: 20
        })
    );
    assert_eq!(
        parse_all(&prelude(u32::MAX, 0)),
        Err(EventStreamError::MessageTooLarge {
            length: u32::MAX,
            limit: 1 << 20
        })
    );
}

#[test]
fn corrupt_payload_fails_the_message_checksum() {
    let mut frame = hex(TEXT_DELTA_HEX);
    let at = frame.len() - 6;
    frame[at] ^= 1;
    assert!(matches!(
        parse_all(&frame),
        Err(EventStreamError::MessageChecksum { .. })
    ));
}

#[test]
fn header_errors_are_typed() {
    // A string header whose declared length runs past the headers section.
    let mut headers = vec![3, b'a', b'b', b'c', TYPE_STRING, 0, 9, b'x'];
    let frame = raw_frame(&headers, b"");
    assert_eq!(parse_all(&frame), Err(EventStreamError::HeaderValue));
    headers[4] = 42;
    assert_eq!(
        parse_all(&raw_frame(&headers, b"")),
        Err(EventStreamError::HeaderValueType(42))
    );
    assert_eq!(
        parse_all(&raw_frame(&[9, b'a', b'b'], b"")),
        Err(EventStreamError::HeaderNameLength)
    );
    assert_eq!(
        parse_all(&raw_frame(&[1, 0xff, TYPE_TRUE], b"")),
        Err(EventStreamError::InvalidUtf8)
    );
    assert_eq!(
        parse_all(&raw_frame(&[1, b'n', TYPE_INT32, 0, 0], b"")),
        Err(EventStreamError::HeaderValue)
    );
}

/// A frame with hand-made header bytes and correct checksums.
fn raw_frame(headers: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (MIN_MESSAGE_BYTES + headers.len() + payload.len()) as u32;
    let mut frame = total.to_be_bytes().to_vec();
    frame.extend((headers.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&frame);
    frame.extend(crc.to_be_bytes());
    frame.extend_from_slice(headers);
    frame.extend_from_slice(payload);
    let crc = crc32fast::hash(&frame);
    frame.extend(crc.to_be_bytes());
    frame
}

#[test]
fn encoder_refuses_oversized_parts() {
    let long_name = Header {
        name: "n".repeat(256),
        value: HeaderValue::Bool(true),
    };
    assert_eq!(
        encode_message(&[long_name], b""),
        Err(EncodeError::NameTooLong)
    );
    let long_value = Header {
        name: "n".into(),
        value: HeaderValue::Bytes(vec![0; 65536]),
    };
    assert_eq!(
        encode_message(&[long_value], b""),
        Err(EncodeError::ValueTooLong)
    );
}
