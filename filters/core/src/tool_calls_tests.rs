use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::*;
use crate::formats::WireFormat;
use crate::translate::{translate_request, ProviderTarget, ResponseTranslator};

/// `(id, name, arguments)` of the tool calls in an OpenAI chat answer, whole or streamed:
/// the oracle the log is checked against (what the client really received).
fn openai_tool_calls(body: &[u8], stream: bool) -> Vec<(String, String, String)> {
    let text = String::from_utf8_lossy(body);
    let chunks: Vec<Value> = if stream {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    } else {
        vec![serde_json::from_str(&text).unwrap()]
    };
    let mut calls: BTreeMap<u64, (String, String, String)> = BTreeMap::new();
    for chunk in chunks {
        let key = if stream { "delta" } else { "message" };
        let Some(list) = chunk["choices"][0][key]["tool_calls"].as_array().cloned() else {
            continue;
        };
        for (i, call) in list.iter().enumerate() {
            let index = call["index"].as_u64().unwrap_or(i as u64);
            let entry = calls.entry(index).or_default();
            if let Some(id) = call["id"].as_str() {
                entry.0 = id.to_owned();
            }
            let function = &call["function"];
            entry
                .1
                .push_str(function["name"].as_str().unwrap_or_default());
            entry
                .2
                .push_str(function["arguments"].as_str().unwrap_or_default());
        }
    }
    calls.into_values().collect()
}

fn testdata(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check(provider: WireFormat, fixture: &str, stream: bool) {
    let body = testdata(fixture);
    let mut translator = ResponseTranslator::new(WireFormat::OpenAi, provider, stream, false, 200);
    // Split into small chunks: argument fragments must hash the same however they arrive.
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = body.chunks(7).collect();
    for (i, piece) in pieces.iter().enumerate() {
        out.extend(translator.feed(piece, i + 1 == pieces.len()));
    }
    let expected = openai_tool_calls(&out, stream);
    assert!(
        !expected.is_empty(),
        "{fixture}: no tool calls in the answer"
    );
    let logged: Vec<_> = translator
        .tool_calls()
        .into_iter()
        .map(|c| (c.id, c.name, c.arguments_sha256))
        .collect();
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(id, name, args)| (id, name, arguments_sha256(&args)))
        .collect();
    assert_eq!(logged, expected, "{fixture}");
}

#[test]
fn whole_answers_of_every_format() {
    check(
        WireFormat::OpenAi,
        "responses/openai/tool-calls-cached.json",
        false,
    );
    check(
        WireFormat::Anthropic,
        "responses/anthropic/thinking-text-tool.json",
        false,
    );
    check(
        WireFormat::Bedrock,
        "responses/bedrock/thinking-text-tool.json",
        false,
    );
    check(
        WireFormat::Cohere,
        "responses/cohere/tool-plan-parallel.json",
        false,
    );
    check(
        WireFormat::Gemini,
        "responses/gemini/thinking-text-calls.json",
        false,
    );
}

#[test]
fn streams_of_every_format() {
    check(
        WireFormat::OpenAi,
        "streams/openai/parallel-tools-crlf.sse",
        true,
    );
    check(
        WireFormat::Anthropic,
        "streams/anthropic/thinking-text-tool.sse",
        true,
    );
    check(
        WireFormat::Bedrock,
        "streams/bedrock/thinking-text-tool.bin",
        true,
    );
    check(
        WireFormat::Cohere,
        "streams/cohere/tool-plan-parallel.sse",
        true,
    );
    check(
        WireFormat::Gemini,
        "streams/gemini/thoughts-text-calls.sse",
        true,
    );
}

#[test]
fn the_hash_is_of_the_arguments_text() {
    let mut log = ToolCallLog::default();
    log.observe_content(&[
        ContentPart::text("let me look"),
        ContentPart::ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        },
    ]);
    let [call] = log.calls().try_into().unwrap();
    assert_eq!(call.id, "call_1");
    // printf '{"city":"Paris"}' | sha256sum
    assert_eq!(
        call.arguments_sha256,
        "6e1e312d537bc71b5410b0599f5a508142149e13174c6ee0d1671658845bc67d"
    );
    assert_eq!(call.to_json(false)["arguments_sha256"], Value::Null);
    assert_eq!(call.to_json(true)["name"], "get_weather");
}

fn streamed_hash(fragments: &[&str]) -> String {
    let mut log = ToolCallLog::default();
    log.observe_event(&StreamEvent::BlockStart {
        index: 0,
        block: BlockStart::ToolCall {
            id: "call_1".into(),
            name: "f".into(),
        },
    });
    for fragment in fragments {
        log.observe_event(&StreamEvent::BlockDelta {
            index: 0,
            delta: BlockDelta::ToolArguments((*fragment).into()),
        });
    }
    log.calls().remove(0).arguments_sha256
}

#[test]
fn key_order_and_spacing_do_not_change_the_hash() {
    let canonical = arguments_sha256(r#"{"a":1,"b":[true,null]}"#);
    assert_eq!(
        streamed_hash(&[r#"{"b": [true, "#, r#"null], "a": 1}"#]),
        canonical
    );
    assert_eq!(arguments_sha256(r#"{ "b":[true,null],"a":1 }"#), canonical);
    assert_ne!(arguments_sha256(r#"{"a":2,"b":[true,null]}"#), canonical);
    // Not JSON (a model cut off mid-arguments): the text itself is hashed.
    assert_eq!(arguments_sha256(r#"{"a":"#), sha256_hex(r#"{"a":"#));
}

#[test]
fn arguments_beyond_the_limit_hash_as_streamed() {
    let long = format!(r#"{{"text":"{}"}}"#, "x".repeat(CANONICAL_LIMIT));
    let (head, tail) = long.split_at(10);
    assert_eq!(streamed_hash(&[head, tail]), sha256_hex(&long));
}

fn target(format: WireFormat) -> ProviderTarget<'static> {
    ProviderTarget {
        format,
        base_path: "/v1",
        upstream_model: "up",
        api_version: None,
    }
}

#[test]
fn a_request_brings_back_only_the_results_after_the_last_assistant_turn() {
    let body = serde_json::json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_old", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_old", "content": "sunny"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{}"}},
                {"id": "call_b", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": "rain"},
            {"role": "tool", "tool_call_id": "call_b", "content": "snow"},
        ]
    })
    .to_string();
    for provider in [WireFormat::OpenAi, WireFormat::Anthropic] {
        let up = translate_request(WireFormat::OpenAi, &target(provider), body.as_bytes()).unwrap();
        assert_eq!(up.tool_results, ["call_a", "call_b"], "{provider:?}");
    }
}

#[test]
fn anthropic_tool_results_are_read_too() {
    let body = serde_json::json!({
        "model": "m", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
        ]
    })
    .to_string();
    let up = translate_request(
        WireFormat::Anthropic,
        &target(WireFormat::Anthropic),
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(up.tool_results, ["toolu_1"]);
    let first = r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    let up = translate_request(
        WireFormat::Anthropic,
        &target(WireFormat::Anthropic),
        first.as_bytes(),
    )
    .unwrap();
    assert!(up.tool_results.is_empty());
}

/// The raw reading must find exactly what the canonical decode finds.
fn raw_matches_canonical(format: WireFormat, body: &Value) {
    let canonical = new_tool_results(&crate::formats::codec::decode_request(format, body).unwrap());
    assert_eq!(
        new_tool_results_raw(format, body),
        Some(canonical),
        "{body}"
    );
}

#[test]
fn raw_reading_agrees_with_the_canonical_decode_on_every_client_fixture() {
    let mut checked_with_results = 0;
    for (format, dir) in [
        (WireFormat::OpenAi, "requests/openai"),
        (WireFormat::Anthropic, "requests/anthropic"),
        (WireFormat::Cohere, "requests/cohere"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(dir);
        for entry in std::fs::read_dir(path).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // `<case>.json` is the client's body; `<case>.<target>.json` a translation.
            if name.matches('.').count() != 1 {
                continue;
            }
            let body: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            raw_matches_canonical(format, &body);
            let canonical =
                new_tool_results(&crate::formats::codec::decode_request(format, &body).unwrap());
            checked_with_results += usize::from(!canonical.is_empty());
        }
    }
    // Tool-result histories are among the fixtures, so the comparison is not vacuous.
    assert!(checked_with_results >= 2, "{checked_with_results}");
}

#[test]
fn raw_reading_of_trailing_results() {
    let openai = serde_json::json!({"model": "m", "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"}]});
    raw_matches_canonical(WireFormat::OpenAi, &openai);
    assert_eq!(
        new_tool_results_raw(WireFormat::OpenAi, &openai).unwrap(),
        ["c1"]
    );
    let bedrock = serde_json::json!({"messages": [
        {"role": "user", "content": [{"text": "q"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "w", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "r"}]}}]}]});
    assert_eq!(
        new_tool_results_raw(WireFormat::Bedrock, &bedrock).unwrap(),
        ["t1"]
    );
    assert_eq!(new_tool_results_raw(WireFormat::Gemini, &bedrock), None);
    assert_eq!(
        new_tool_results_raw(WireFormat::OpenAi, &serde_json::json!({})),
        None
    );
}
