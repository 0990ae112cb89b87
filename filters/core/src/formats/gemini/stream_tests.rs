use super::*;

fn sse(data: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: Some(data.to_owned()),
        raw: Vec::new(),
    }
}

fn decode_all(chunks: &[&str]) -> Vec<StreamEvent> {
    let mut decoder = ChunkDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.on_event(&sse(chunk), &mut out);
    }
    decoder.on_end(&mut out);
    out
}

fn start(id: &str) -> StreamEvent {
    StreamEvent::Start {
        id: id.into(),
        model: "m".into(),
        created: None,
        usage: Usage::default(),
    }
}

#[test]
fn thoughts_text_and_a_signed_call() {
    let events = decode_all(&[
        r#"{"candidates":[{"content":{"parts":[{"text":"Plan","thought":true}],"role":"model"}}],"modelVersion":"m","responseId":"r-1"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"Hi","thoughtSignature":"c2ln"}],"role":"model"}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"Q+/x"}],"role":"model"}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"thoughtsTokenCount":4}}"#,
    ]);
    let usage = Usage {
        input_tokens: Some(5),
        cache_read_tokens: Some(0),
        output_tokens: Some(7),
        reasoning_tokens: Some(4),
        ..Usage::default()
    };
    assert_eq!(
        events,
        vec![
            start("r-1"),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Thinking("Plan".into())
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Signature("c2ln".into())
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::Text
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::Text("Hi".into())
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolCall {
                    id: "call_r-1_0__thought__Q-_x".into(),
                    name: "f".into()
                }
            },
            StreamEvent::BlockDelta {
                index: 2,
                delta: BlockDelta::ToolArguments(r#"{"a":1}"#.into())
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Usage(usage),
            StreamEvent::Finish {
                reason: StopReason::ToolUse,
                stop_sequence: None
            },
            StreamEvent::End,
        ]
    );
}

#[test]
fn after_the_finish_only_usage_counts() {
    let events = decode_all(&[
        r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":2}}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":" again"}]}}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}"#,
    ]);
    let after_finish: Vec<&StreamEvent> = events
        .iter()
        .skip_while(|e| !matches!(e, StreamEvent::Finish { .. }))
        .skip(1)
        .collect();
    assert!(
        matches!(after_finish.as_slice(), [StreamEvent::Usage(u), StreamEvent::End] if u.output_tokens == Some(1)),
        "{events:?}"
    );
}

#[test]
fn no_finish_reason_means_no_end() {
    let events = decode_all(&[r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#]);
    assert!(!events.contains(&StreamEvent::End), "{events:?}");
}

#[test]
fn error_after_200_ends_the_stream() {
    let events = decode_all(&[
        r#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#,
        r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP"}]}"#,
    ]);
    let last = events.last().unwrap();
    assert!(
        matches!(last, StreamEvent::Error(e) if e.class == crate::model::ErrorClass::Overloaded),
        "{events:?}"
    );
    assert!(!events.contains(&StreamEvent::End));
}

#[test]
fn malformed_chunk_is_an_error() {
    let events = decode_all(&["{not json"]);
    assert!(
        matches!(&events[0], StreamEvent::Error(e) if e.code.as_deref() == Some("bad_upstream_response"))
    );
}

#[test]
fn blocked_prompt_finishes_with_content_filter() {
    let events = decode_all(&[
        r#"{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":9},"modelVersion":"m","responseId":"r"}"#,
    ]);
    assert!(events.contains(&StreamEvent::Finish {
        reason: StopReason::ContentFilter,
        stop_sequence: None
    }));
    assert_eq!(events.last(), Some(&StreamEvent::End));
}

#[test]
fn vertex_partial_arguments_are_assembled() {
    let events = decode_all(&[
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"getWeather","willContinue":true},"thoughtSignature":"c2ln"}]}}],"responseId":"v"}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"partialArgs":[{"jsonPath":"$.location","stringValue":"Bos","willContinue":true}],"willContinue":true}}]}}]}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"partialArgs":[{"jsonPath":"$.location","stringValue":"ton"},{"jsonPath":"$.days[1]","numberValue":3},{"jsonPath":"$.opts['hourly']","boolValue":true}],"willContinue":true}}]}}]}"#,
        r#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{}}]},"finishReason":"STOP"}]}"#,
    ]);
    let calls: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart {
                block: BlockStart::ToolCall { id, .. },
                ..
            } => Some((id.as_str(), "")),
            StreamEvent::BlockDelta {
                delta: BlockDelta::ToolArguments(a),
                ..
            } => Some(("", a.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("call_v_0__thought__c2ln", ""),
            (
                "",
                r#"{"days":[null,3],"location":"Boston","opts":{"hourly":true}}"#
            )
        ]
    );
    assert!(events.contains(&StreamEvent::Finish {
        reason: StopReason::ToolUse,
        stop_sequence: None
    }));
}

#[test]
fn unreadable_json_path_is_an_error() {
    let events = decode_all(&[
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","willContinue":true}}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"partialArgs":[{"jsonPath":"location","stringValue":"x"}]}}]}}]}"#,
    ]);
    assert!(
        matches!(events.last(), Some(StreamEvent::Error(_))),
        "{events:?}"
    );
}

fn encode_all(events: &[StreamEvent]) -> String {
    let mut encoder = ChunkEncoder::new();
    let mut out = Vec::new();
    for e in events {
        encoder.encode(e, &mut out);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn encoder_output_decodes_to_the_same_events() {
    let events = decode_all(&[
        r#"{"candidates":[{"content":{"parts":[{"text":"Plan","thought":true}]}}],"modelVersion":"m","responseId":"r-1"}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}"#,
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2ln"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3}}"#,
    ]);
    let wire = encode_all(&events);
    assert!(wire.contains(r#""thoughtSignature":"c2ln""#), "{wire}");
    let mut parser = crate::sse::SseParser::new(usize::MAX);
    let mut chunks = Vec::new();
    parser.push(wire.as_bytes(), &mut chunks).unwrap();
    let mut decoder = ChunkDecoder::new();
    let mut again = Vec::new();
    for chunk in &chunks {
        decoder.on_event(chunk, &mut again);
    }
    decoder.on_end(&mut again);
    let content = |events: &[StreamEvent]| -> Vec<StreamEvent> {
        events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    StreamEvent::BlockDelta { .. } | StreamEvent::Finish { .. } | StreamEvent::End
                )
            })
            .cloned()
            .collect()
    };
    assert_eq!(content(&again), content(&events));
}

#[test]
fn encoder_error_is_a_google_error_chunk() {
    let out = encode_all(&[start("r"), StreamEvent::Error(ApiError::bad_upstream("x"))]);
    assert_eq!(
        out,
        "data: {\"error\":{\"code\":500,\"message\":\"x\",\"status\":\"INTERNAL\"}}\n\n"
    );
}
