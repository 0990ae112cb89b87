use super::*;
use crate::eventstream::{EventStreamParser, Header};
use crate::model::ErrorClass;

fn event(event_type: &str, payload: &str) -> Message {
    Message {
        headers: vec![
            string_header(":event-type", event_type),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        payload: payload.as_bytes().to_vec(),
        raw: Vec::new(),
    }
}

fn exception(kind: &str, payload: &str) -> Message {
    Message {
        headers: vec![
            string_header(":exception-type", kind),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        payload: payload.as_bytes().to_vec(),
        raw: Vec::new(),
    }
}

fn decode_all(messages: &[Message], end: bool) -> Vec<StreamEvent> {
    let mut decoder = MessageDecoder::new();
    let mut out = Vec::new();
    for m in messages {
        decoder.on_message(m, &mut out);
    }
    if end {
        decoder.on_end(&mut out);
    }
    out
}

fn text_delta(index: u32, text: &str) -> StreamEvent {
    StreamEvent::BlockDelta {
        index,
        delta: BlockDelta::Text(text.into()),
    }
}

#[test]
fn blocks_open_with_their_first_delta_and_padding_is_ignored() {
    let out = decode_all(
        &[
            event(
                "messageStart",
                r#"{"p":"abcdefghijklmnopqr","role":"assistant"}"#,
            ),
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"The"},"p":"abc"}"#,
            ),
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":" end"},"p":"a"}"#,
            ),
            event("contentBlockStop", r#"{"contentBlockIndex":0,"p":"ab"}"#),
            event("messageStop", r#"{"p":"abc","stopReason":"end_turn"}"#),
            event(
                "metadata",
                r#"{"metrics":{"latencyMs":522},"p":"x","usage":{"inputTokens":13,"outputTokens":82,"serverToolUsage":{},"totalTokens":95}}"#,
            ),
        ],
        true,
    );
    assert!(matches!(out[0], StreamEvent::Start { .. }));
    assert_eq!(
        out[1..],
        [
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text
            },
            text_delta(0, "The"),
            text_delta(0, " end"),
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Finish {
                reason: StopReason::EndTurn,
                stop_sequence: None
            },
            StreamEvent::Usage(Usage {
                input_tokens: Some(13),
                output_tokens: Some(82),
                ..Usage::default()
            }),
            StreamEvent::End,
        ]
    );
}

#[test]
fn tool_use_reasoning_and_redacted_blocks() {
    let out = decode_all(
        &[
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"Hm"}}}"#,
            ),
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"Eu0C"}}}"#,
            ),
            event("contentBlockStop", r#"{"contentBlockIndex":0}"#),
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":1,"delta":{"reasoningContent":{"redactedContent":"cmVk"}}}"#,
            ),
            event("contentBlockStop", r#"{"contentBlockIndex":1}"#),
            event(
                "contentBlockStart",
                r#"{"contentBlockIndex":2,"start":{"toolUse":{"name":"get_temperature","toolUseId":"tooluse_lAG"}}}"#,
            ),
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":\"Paris\"}"}}}"#,
            ),
            event("contentBlockStop", r#"{"contentBlockIndex":2}"#),
            event("messageStop", r#"{"stopReason":"tool_use"}"#),
        ],
        true,
    );
    assert_eq!(
        out,
        [
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Thinking("Hm".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Signature("Eu0C".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::RedactedThinking {
                    data: "cmVk".into()
                }
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolCall {
                    id: "tooluse_lAG".into(),
                    name: "get_temperature".into()
                }
            },
            StreamEvent::BlockDelta {
                index: 2,
                delta: BlockDelta::ToolArguments(r#"{"city":"Paris"}"#.into())
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish {
                reason: StopReason::ToolUse,
                stop_sequence: None
            },
            // No metadata came: the body's end completes the stream.
            StreamEvent::End,
        ]
    );
}

#[test]
fn empty_deltas_open_a_block_but_carry_nothing_and_a_reused_index_gets_a_new_block() {
    let out = decode_all(
        &[
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":""}}"#,
            ),
            event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"r"}}}"#,
            ),
        ],
        false,
    );
    assert_eq!(
        out,
        [
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::Thinking
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::Thinking("r".into())
            },
        ]
    );
}

#[test]
fn exceptions_end_the_stream_with_their_class() {
    let out = decode_all(
        &[
            event("messageStart", r#"{"role":"assistant"}"#),
            exception(
                "throttlingException",
                r#"{"message":"Too many tokens, please wait before trying again."}"#,
            ),
            event("messageStop", r#"{"stopReason":"end_turn"}"#),
        ],
        true,
    );
    assert_eq!(out.len(), 2, "{out:?}");
    let StreamEvent::Error(err) = &out[1] else {
        panic!("expected an error: {out:?}")
    };
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(
        err.message,
        "Too many tokens, please wait before trying again."
    );

    let protocol = Message {
        headers: vec![
            string_header(":message-type", "error"),
            string_header(":error-code", "InternalFailure"),
            string_header(":error-message", "boom"),
        ],
        payload: Vec::new(),
        raw: Vec::new(),
    };
    let out = decode_all(&[protocol], false);
    assert!(matches!(&out[0], StreamEvent::Error(e) if e.message == "boom"));
}

#[test]
fn truncated_streams_do_not_end_and_bad_payloads_fail() {
    let out = decode_all(
        &[event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"x"}}"#,
        )],
        true,
    );
    assert!(!out.contains(&StreamEvent::End));
    let out = decode_all(&[event("contentBlockDelta", "{not json")], true);
    assert!(
        matches!(&out[0], StreamEvent::Error(e) if e.code.as_deref() == Some("bad_upstream_response"))
    );
    let out = decode_all(
        &[event("contentBlockDelta", r#"{"delta":{"text":"x"}}"#)],
        true,
    );
    assert!(matches!(&out[0], StreamEvent::Error(_)));
    assert!(decode_all(&[event("somethingNew", "{}")], false).is_empty());
}

/// What a Bedrock client gets back decodes into the same canonical sequence.
#[test]
fn encoder_output_decodes_back() {
    let events = vec![
        StreamEvent::Start {
            id: String::new(),
            model: String::new(),
            created: None,
            usage: Usage::default(),
        },
        StreamEvent::BlockStart {
            index: 0,
            block: BlockStart::Thinking,
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: BlockDelta::Thinking("t".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: BlockDelta::Signature("s".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text,
        },
        text_delta(1, "hi"),
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolCall {
                id: "tooluse_1".into(),
                name: "f".into(),
            },
        },
        StreamEvent::BlockDelta {
            index: 2,
            delta: BlockDelta::ToolArguments("{}".into()),
        },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::Finish {
            reason: StopReason::ToolUse,
            stop_sequence: None,
        },
        StreamEvent::Usage(Usage {
            input_tokens: Some(4),
            output_tokens: Some(2),
            ..Usage::default()
        }),
        StreamEvent::End,
    ];
    let mut encoder = FrameEncoder::new();
    let mut bytes = Vec::new();
    for e in &events {
        encoder.encode(e, &mut bytes);
    }
    let mut parser = EventStreamParser::new(1 << 20);
    let mut messages = Vec::new();
    parser.push(&bytes, &mut messages).unwrap();
    let types: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.header_str(":event-type"))
        .collect();
    assert_eq!(types.first(), Some(&"messageStart"));
    assert_eq!(types.last(), Some(&"metadata"));
    let mut back = decode_all(&messages, true);
    if let Some(StreamEvent::Usage(u)) =
        back.iter_mut().find(|e| matches!(e, StreamEvent::Usage(_)))
    {
        // Bedrock reports cache counts only when known and total tokens always.
        assert_eq!(u.input_tokens, Some(4));
    }
    assert_eq!(back, events);
}

#[test]
fn errors_become_exception_frames() {
    let mut encoder = FrameEncoder::new();
    let mut bytes = Vec::new();
    encoder.encode(
        &StreamEvent::Error(ApiError::new(ErrorClass::Overloaded, "busy")),
        &mut bytes,
    );
    encoder.encode(&StreamEvent::End, &mut bytes);
    let mut parser = EventStreamParser::new(1 << 20);
    let mut messages = Vec::new();
    parser.push(&bytes, &mut messages).unwrap();
    assert_eq!(messages.len(), 1);
    let headers: &Vec<Header> = &messages[0].headers;
    assert!(headers.contains(&string_header(
        ":exception-type",
        "serviceUnavailableException"
    )));
    assert_eq!(messages[0].payload, br#"{"message":"busy"}"#);
}
