use serde_json::{json, Value};

use super::*;
use crate::error::ErrorKind;
use crate::model::ErrorClass;

use WireFormat::{Anthropic, Cohere, OpenAi};

fn target(format: WireFormat) -> ProviderTarget<'static> {
    ProviderTarget {
        format,
        base_path: "/v1",
        upstream_model: "up",
        api_version: None,
    }
}

fn body_of(request: &UpstreamRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

// === requests ===

#[test]
fn openai_passthrough_forces_stream_usage_and_remembers_the_client_wish() {
    let body =
        br#"{"model":"alias","stream":true,"messages":[{"role":"user","content":"hi"}],"x":1}"#;
    let up = translate_request(OpenAi, &target(OpenAi), body).unwrap();
    assert_eq!(up.path, "/v1/chat/completions");
    assert!(up.stream);
    assert!(!up.client_wants_stream_usage);
    let sent = body_of(&up);
    assert_eq!(sent["model"], "up");
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["x"], 1);

    let asked =
        br#"{"model":"a","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    assert!(
        translate_request(OpenAi, &target(OpenAi), asked)
            .unwrap()
            .client_wants_stream_usage
    );
}

#[test]
fn anthropic_passthrough_only_changes_the_model() {
    let body =
        br#"{"model":"alias","max_tokens":5,"messages":[],"context_management":{"edits":[]}}"#;
    let up = translate_request(Anthropic, &target(Anthropic), body).unwrap();
    assert_eq!(up.path, "/v1/messages");
    assert_eq!(
        body_of(&up),
        json!({"model": "up", "max_tokens": 5, "messages": [], "context_management": {"edits": []}})
    );
    assert!(up
        .headers
        .contains(&("anthropic-version", "2023-06-01".to_owned())));
}

#[test]
fn cross_format_request_sets_provider_headers() {
    let body = br#"{"model":"a","messages":[{"role":"user","content":"hi"}],"stream":true}"#;
    let up = translate_request(OpenAi, &target(Anthropic), body).unwrap();
    assert_eq!(up.path, "/v1/messages");
    assert!(up.stream);
    assert_eq!(body_of(&up)["max_tokens"], 4096);
}

#[test]
fn azure_deployment_addressing_puts_the_model_and_version_in_the_path() {
    let azure = ProviderTarget {
        format: OpenAi,
        base_path: "/openai",
        upstream_model: "gpt4o-prod",
        api_version: Some("2024-10-21"),
    };
    let body = br#"{"model":"alias","messages":[{"role":"user","content":"hi"}]}"#;
    let up = translate_request(OpenAi, &azure, body).unwrap();
    assert_eq!(
        up.path,
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(body_of(&up)["model"], "gpt4o-prod");
    // Azure's v1 API: a plain path below /openai/v1, the deployment in the body.
    let v1 = ProviderTarget {
        base_path: "/openai/v1",
        api_version: None,
        ..azure
    };
    let up = translate_request(
        Anthropic,
        &v1,
        br#"{"model":"a","max_tokens":5,"messages":[]}"#,
    )
    .unwrap();
    assert_eq!(up.path, "/openai/v1/chat/completions");
    assert_eq!(body_of(&up)["model"], "gpt4o-prod");
}

#[test]
fn cohere_requests_go_to_the_chat_endpoint() {
    let cohere = ProviderTarget {
        format: Cohere,
        base_path: "/v2",
        upstream_model: "command-a-03-2025",
        api_version: None,
    };
    let body = br#"{"model":"a","stream":true,"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}"#;
    let up = translate_request(OpenAi, &cohere, body).unwrap();
    assert_eq!(up.path, "/v2/chat");
    assert!(up.stream);
    let sent = body_of(&up);
    assert_eq!(sent["model"], "command-a-03-2025");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "s"})
    );
    assert!(sent.get("stream_options").is_none());
}

#[test]
fn model_named_by_the_gateway_when_the_provider_names_none() {
    let body = br#"{"id":"r","message":{"role":"assistant","content":[{"type":"text","text":"Hi"}]},"finish_reason":"COMPLETE"}"#;
    let mut t = ResponseTranslator::new(OpenAi, Cohere, false, false, 200).with_model("command-a");
    let out: Value = serde_json::from_slice(&t.feed(body, true)).unwrap();
    assert_eq!(out["model"], "command-a");
    let stream = b"event: message-start\ndata: {\"id\":\"r\",\"type\":\"message-start\"}\n\n";
    let mut t =
        ResponseTranslator::new(Anthropic, Cohere, true, false, 200).with_model("command-a");
    let out = String::from_utf8(t.feed(stream, false)).unwrap();
    assert!(out.contains(r#""model":"command-a""#), "{out}");
}

#[test]
fn request_errors_are_invalid_request_and_never_echo_content() {
    let cases: [(&[u8], Option<&str>); 5] = [
        (b"{not json", None),
        (b"[1,2]", None),
        (br#"{"messages":[],"stream":"yes"}"#, Some("stream")),
        (br#"{"model":"a"}"#, Some("messages")),
        (
            br#"{"messages":[{"role":"user","content":[{"type":"secret-kind","text":"my secret"}]}]}"#,
            Some("messages[0].content[0].type"),
        ),
    ];
    for (body, param) in cases {
        let err = translate_request(OpenAi, &target(Anthropic), body).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert_eq!(err.param.as_deref(), param, "{err}");
        assert!(!err.message.contains("secret"), "{err}");
    }
}

// === streams: passthrough ===

const OPENAI_STREAM: &[u8] = b"data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n\
data: [DONE]\n\n";

#[test]
fn passthrough_strips_the_usage_chunk_only_when_not_asked() {
    let mut t = ResponseTranslator::new(OpenAi, OpenAi, true, false, 200);
    let out = t.feed(OPENAI_STREAM, true);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("prompt_tokens"));
    assert!(text.contains("\"Hi\""));
    assert!(text.ends_with("data: [DONE]\n\n"));
    let usage = t.usage().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.cache_read_tokens),
        (Some(6), Some(4))
    );
    assert_eq!(t.outcome(), Outcome::Completed);
    assert_eq!(t.stop_reason(), Some(&StopReason::EndTurn));

    let mut asked = ResponseTranslator::new(OpenAi, OpenAi, true, true, 200);
    assert_eq!(asked.feed(OPENAI_STREAM, true), OPENAI_STREAM);
}

#[test]
fn passthrough_forwards_each_event_as_soon_as_it_is_complete() {
    let mut t = ResponseTranslator::new(OpenAi, OpenAi, true, true, 200);
    let first_end = OPENAI_STREAM.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    assert!(t.feed(&OPENAI_STREAM[..first_end - 1], false).is_empty());
    assert_eq!(
        t.feed(&OPENAI_STREAM[first_end - 1..first_end], false),
        &OPENAI_STREAM[..first_end]
    );
}

#[test]
fn passthrough_reports_a_cut_stream_in_the_client_format() {
    let cut = &OPENAI_STREAM[..OPENAI_STREAM.len() / 3];
    let cut = &cut[..cut.windows(2).rposition(|w| w == b"\n\n").unwrap() + 2];
    let mut t = ResponseTranslator::new(OpenAi, OpenAi, true, false, 200);
    let out = String::from_utf8(t.feed(cut, true)).unwrap();
    assert!(out.ends_with("\n\n"));
    assert!(out.contains("data: {\"error\":"), "{out}");
    assert!(!out.contains("[DONE]"));
    assert_eq!(t.outcome(), Outcome::Failed);
    assert_eq!(t.error().unwrap().code.as_deref(), Some("stream_truncated"));
}

#[test]
fn settled_usage_is_exact_when_reported_and_estimated_when_cut() {
    let mut complete = ResponseTranslator::new(OpenAi, OpenAi, true, false, 200);
    complete.feed(OPENAI_STREAM, true);
    let settled = complete.settled_usage(400).unwrap();
    assert!(!settled.estimated);
    assert_eq!(settled.usage.input_tokens, Some(6));
    assert_eq!(settled.usage.output_tokens, Some(2));

    // Cut after the content: no usage chunk ever came.
    let cut = &OPENAI_STREAM[..OPENAI_STREAM.len() / 3];
    let cut = &cut[..cut.windows(2).rposition(|w| w == b"\n\n").unwrap() + 2];
    // Forwarded (same format) and translated alike.
    for client in [OpenAi, Anthropic] {
        let mut t = ResponseTranslator::new(client, OpenAi, true, false, 200);
        t.feed(cut, true);
        let settled = t.settled_usage(400).unwrap();
        assert!(settled.estimated, "{client:?}");
        assert_eq!(
            settled.usage.input_tokens,
            Some(100),
            "400 characters, 4 a token"
        );
        assert_eq!(settled.usage.output_tokens, Some(1), "\"Hi\" is one token");
    }

    // An error answer costs nothing and is not estimated.
    let mut error = ResponseTranslator::new(OpenAi, OpenAi, true, false, 429);
    error.feed(br#"{"error":{"message":"slow down"}}"#, true);
    assert_eq!(error.settled_usage(400), None);
}

#[test]
fn anthropic_passthrough_is_byte_exact_and_counts_usage() {
    let stream = b"event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":7,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}   \r\n\r\n\
event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n\
event: message_delta\r\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\r\n\r\n\
event: message_stop\r\ndata: {\"type\":\"message_stop\"}";
    let mut t = ResponseTranslator::new(Anthropic, Anthropic, true, false, 200);
    let mut out = t.feed(&stream[..50], false);
    out.extend(t.feed(&stream[50..], true));
    assert_eq!(out, stream);
    let usage = t.usage().unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.output_tokens
        ),
        (Some(7), Some(3), Some(9))
    );
    assert_eq!(t.outcome(), Outcome::Completed);
}

// === streams: translation ===

#[test]
fn translated_deltas_leave_with_the_event_that_carried_them() {
    let mut t = ResponseTranslator::new(OpenAi, Anthropic, true, false, 200).with_created(42);
    let start = t.feed(
        b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n",
        false,
    );
    assert!(String::from_utf8(start).unwrap().contains("\"created\":42"));
    let delta = t.feed(
        b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel",
        false,
    );
    assert!(delta.is_empty(), "incomplete event must wait");
    let delta = t.feed(b"lo\"}}\n\n", false);
    assert!(String::from_utf8(delta)
        .unwrap()
        .contains("\"content\":\"Hello\""));
}

#[test]
fn oversized_event_ends_the_stream_with_an_error() {
    let mut t =
        ResponseTranslator::new(Anthropic, OpenAi, true, false, 200).with_max_event_bytes(64);
    let out = t.feed(&[b'x'; 100], false);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("event: error\n"), "{text}");
    assert_eq!(t.outcome(), Outcome::Failed);
    assert!(
        t.feed(b"data: [DONE]\n\n", true).is_empty(),
        "closed streams stay closed"
    );
}

#[test]
fn chunk_cut_mid_json_is_bad_upstream() {
    let mut t = ResponseTranslator::new(Anthropic, OpenAi, true, false, 200);
    let out = t.feed(b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"id\":\"c\",\"cho", true);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("event: error"), "{text}");
    assert_eq!(
        t.error().unwrap().code.as_deref(),
        Some("bad_upstream_response")
    );
}

#[test]
fn input_after_the_end_is_ignored() {
    let mut t = ResponseTranslator::new(Anthropic, OpenAi, true, false, 200);
    let out = t.feed(OPENAI_STREAM, false);
    assert!(String::from_utf8(out)
        .unwrap()
        .ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    assert!(t.feed(b"data: {\"choices\":[]}\n\n", true).is_empty());
    assert_eq!(t.outcome(), Outcome::Completed);
}

// === buffered bodies ===

#[test]
fn non_streams_and_error_statuses_are_buffered() {
    assert!(ResponseTranslator::new(OpenAi, Anthropic, false, false, 200).buffers_whole_body());
    assert!(ResponseTranslator::new(OpenAi, Anthropic, true, false, 429).buffers_whole_body());
    let streaming = ResponseTranslator::new(OpenAi, Anthropic, true, false, 200);
    assert!(!streaming.buffers_whole_body());
    assert_eq!(streaming.content_type(), "text/event-stream");
}

#[test]
fn buffered_body_may_arrive_in_pieces() {
    let body = br#"{"id":"m","type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#;
    let mut t = ResponseTranslator::new(OpenAi, Anthropic, false, false, 200);
    assert!(t.feed(&body[..20], false).is_empty());
    let out: Value = serde_json::from_slice(&t.feed(&body[20..], true)).unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], "hi");
    assert_eq!(t.content_type(), "application/json");
    assert_eq!(t.usage().unwrap().input_tokens, Some(3));
}

#[test]
fn unreadable_error_body_becomes_a_client_error_with_the_provider_status() {
    let mut t = ResponseTranslator::new(Anthropic, OpenAi, false, false, 503);
    let out: Value =
        serde_json::from_slice(&t.feed(b"<html>Service Unavailable</html>", true)).unwrap();
    assert_eq!(out["type"], "error");
    assert_eq!(out["error"]["type"], "overloaded_error");
    assert!(!out.to_string().contains("html"));
    assert_eq!(t.client_status(), 503);

    // Same format: a JSON error body is the client's own; anything else is rendered.
    let mut same = ResponseTranslator::new(OpenAi, OpenAi, false, false, 502);
    let out: Value = serde_json::from_slice(&same.feed(b"bad gateway", true)).unwrap();
    assert_eq!(out["error"]["type"], "api_error");
}

#[test]
fn unreadable_success_body_is_502() {
    let mut t = ResponseTranslator::new(OpenAi, Anthropic, false, false, 200);
    let out: Value = serde_json::from_slice(&t.feed(b"{\"content\": 5", true)).unwrap();
    assert_eq!(out["error"]["code"], "bad_upstream_response");
    assert_eq!(t.client_status(), 502);
    assert_eq!(t.outcome(), Outcome::Failed);
}

#[test]
fn error_object_with_status_200_keeps_its_class() {
    let mut t = ResponseTranslator::new(Anthropic, OpenAi, false, false, 200);
    let out: Value =
        serde_json::from_slice(&t.feed(br#"{"error":{"code":429,"message":"slow"}}"#, true))
            .unwrap();
    assert_eq!(out["error"]["type"], "rate_limit_error");
    assert_eq!(t.client_status(), 429);
    assert_eq!(t.error().unwrap().class, ErrorClass::RateLimited);
}

// === robustness ===

/// Deterministic byte mutations (flip, drop, duplicate, insert a line break) of `input`.
fn mutations(input: &[u8], count: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % bound.max(1)
    };
    (0..count)
        .map(|_| {
            let mut bytes = input.to_vec();
            for _ in 0..1 + next(4) {
                let at = next(bytes.len());
                match next(4) {
                    0 => bytes[at] ^= 1 << next(8),
                    1 => {
                        bytes.remove(at);
                    }
                    2 => bytes.insert(at, bytes[at]),
                    _ => bytes.insert(at, if next(2) == 0 { b'\r' } else { b'\n' }),
                }
                if bytes.is_empty() {
                    bytes.push(b'{');
                }
            }
            bytes
        })
        .collect()
}

const COHERE_STREAM: &[u8] = b"event: message-start\ndata: {\"id\":\"m\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_calls\":[]}}}\n\n\
event: tool-plan-delta\ndata: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will\"}}}\n\n\
event: tool-call-start\ndata: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"f_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}}}}\n\n\
event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{}\"}}}}}\n\n\
event: tool-call-end\ndata: {\"type\":\"tool-call-end\",\"index\":0}\n\n\
event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"tokens\":{\"input_tokens\":7,\"output_tokens\":9}}}}\n\n\
data: [DONE]\n\n";

const ANTHROPIC_STREAM: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":7}}}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":1}\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

#[test]
fn mangled_provider_output_never_panics() {
    for (provider, sample) in [
        (OpenAi, OPENAI_STREAM),
        (Anthropic, ANTHROPIC_STREAM),
        (Cohere, COHERE_STREAM),
    ] {
        for input in mutations(sample, 300) {
            for client in [OpenAi, Anthropic, Cohere] {
                for (stream, status) in [(true, 200), (false, 200), (false, 500)] {
                    let mut t = ResponseTranslator::new(client, provider, stream, true, status);
                    let (head, tail) = input.split_at(input.len() / 2);
                    let mut out = t.feed(head, false);
                    out.extend(t.feed(tail, true));
                    if !stream && client != provider {
                        let parsed = serde_json::from_slice::<Value>(&out);
                        assert!(parsed.is_ok(), "buffered output must be JSON");
                    }
                }
            }
        }
    }
}

#[test]
fn mangled_requests_never_panic() {
    let bodies: [&[u8]; 3] = [
        br#"{"model":"m","stream":true,"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}"#,
        br#"{"model":"m","max_tokens":9,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"c","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"c","content":[{"type":"text","text":"r"}]}]}],"thinking":{"type":"enabled","budget_tokens":2000},"tool_choice":{"type":"any"}}"#,
        br#"{"model":"m","stream":true,"p":0.5,"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","tool_plan":"p","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"document","document":{"data":"r"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"REQUIRED","thinking":{"type":"enabled","token_budget":900}}"#,
    ];
    for (client, body) in [
        (OpenAi, bodies[0]),
        (Anthropic, bodies[1]),
        (Cohere, bodies[2]),
    ] {
        for input in mutations(body, 400) {
            for provider in [OpenAi, Anthropic, Cohere] {
                if let Err(err) = translate_request(client, &target(provider), &input) {
                    assert_eq!(err.kind, ErrorKind::InvalidRequest);
                }
            }
        }
    }
}
