//! Conformance against real recorded provider traffic.
//!
//! Runs over the shared fixtures (`$TOLLGATE_SHARED_FIXTURES`, or `shared/fixtures` next to
//! the repository). The recordings are read at run time and never copied into the repository.
//! Every OpenAI, Anthropic, Cohere and Gemini response is translated to each other client
//! format and back; text, reasoning, tool-call arguments and normalised usage must survive,
//! with the expected numbers read from the recording itself, and so must the thought
//! signatures of Anthropic and Gemini answers wherever the client format can carry them.
//! Every request recording must translate to each other format and back without error.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;
use tollgate_core::formats::{codec, WireFormat};
use tollgate_core::model::{ContentPart, StopReason, Usage};
use tollgate_core::translate::{translate_request, Outcome, ProviderTarget};

/// Every format other than `format`.
fn others(format: WireFormat) -> impl Iterator<Item = WireFormat> {
    FORMATS.into_iter().filter(move |f| *f != format)
}

/// Usage numbers (input excl. cache, cache read, cache write, output, reasoning) from a
/// usage object of `format`.
fn numbers(format: WireFormat, usage: &Value) -> [Option<u64>; 5] {
    match format {
        WireFormat::OpenAi => openai_usage_numbers(usage),
        WireFormat::Anthropic => anthropic_usage_numbers(usage),
        WireFormat::Cohere => cohere_usage_numbers(usage),
        WireFormat::Gemini => gemini_usage_numbers(usage),
        WireFormat::Bedrock => bedrock_usage_numbers(usage),
    }
}

fn canonical_numbers(usage: Option<&Usage>) -> [Option<u64>; 5] {
    usage.map_or([None; 5], |u| {
        [
            u.input_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.output_tokens,
            u.reasoning_tokens,
        ]
    })
}

/// What survives a trip through `format`'s usage object: unknown counters become 0 in
/// Anthropic's and Gemini's, reasoning has no Anthropic field, and OpenAI has no cache-write
/// field of its own (OpenRouter's spelling is used, so it survives). Cohere's has neither
/// cache writes (they stay inside its input count) nor reasoning; Gemini's has no cache
/// writes (they count as prompt tokens).
fn representable(format: WireFormat, n: [Option<u64>; 5]) -> [Option<u64>; 5] {
    match format {
        WireFormat::OpenAi => [n[0].or(Some(0)), n[1], n[2], n[3].or(Some(0)), n[4]],
        WireFormat::Anthropic => [
            Some(n[0].unwrap_or(0)),
            Some(n[1].unwrap_or(0)),
            Some(n[2].unwrap_or(0)),
            Some(n[3].unwrap_or(0)),
            None,
        ],
        WireFormat::Cohere => [
            Some(n[0].unwrap_or(0) + n[2].unwrap_or(0)),
            n[1],
            None,
            Some(n[3].unwrap_or(0)),
            None,
        ],
        WireFormat::Gemini => [
            Some(n[0].unwrap_or(0) + n[2].unwrap_or(0)),
            Some(n[1].unwrap_or(0)),
            None,
            Some(n[3].unwrap_or(0)),
            Some(n[4].unwrap_or(0)),
        ],
        WireFormat::Bedrock => [n[0].or(Some(0)), n[1], n[2], n[3].or(Some(0)), None],
    }
}

/// Whether thought signatures from `source` survive in `target`'s shapes: Anthropic's in
/// OpenAI's thinking blocks, Gemini's in tool-call ids and thinking blocks of both client
/// formats, Bedrock's (Claude's) in the thinking blocks of both.
fn carries_signatures(source: WireFormat, target: WireFormat) -> bool {
    match source {
        WireFormat::Anthropic => target == WireFormat::OpenAi,
        WireFormat::Gemini | WireFormat::Bedrock => {
            matches!(target, WireFormat::OpenAi | WireFormat::Anthropic)
        }
        WireFormat::OpenAi | WireFormat::Cohere => false,
    }
}

fn assert_same_content(context: &str, expected: &Assembled, actual: &Assembled) {
    assert_eq!(actual.text, expected.text, "{context}: text");
    assert_eq!(actual.thinking, expected.thinking, "{context}: reasoning");
    assert_eq!(actual.calls(), expected.calls(), "{context}: tool calls");
    for (id, _, _) in &actual.tool_calls {
        assert!(!id.is_empty(), "{context}: tool call without id");
    }
}

/// [`assert_same_content`] for content that went between `formats`. Gemini carries tool-call
/// arguments as JSON objects, so through it they keep their value but not their spacing.
fn assert_same_content_between(
    formats: [WireFormat; 2],
    context: &str,
    expected: &Assembled,
    actual: &Assembled,
) {
    if !formats.contains(&WireFormat::Gemini) {
        return assert_same_content(context, expected, actual);
    }
    let compact = |assembled: &Assembled| {
        let mut assembled = assembled.clone();
        for (_, _, arguments) in &mut assembled.tool_calls {
            if let Ok(value) = serde_json::from_str::<Value>(arguments) {
                *arguments = value.to_string();
            }
        }
        assembled
    };
    assert_same_content(context, &compact(expected), &compact(actual));
}

// === streams ===

fn check_stream(source: WireFormat, path: &Path, body: &[u8]) {
    let name = path.display().to_string();
    let recorded = assemble_stream(source, body);
    let expected = recorded
        .usage
        .as_ref()
        .map_or([None; 5], |u| numbers(source, u));
    for target in others(source) {
        check_stream_through(source, target, &name, body, &recorded, expected);
    }

    // Same format: forwarded, usage counted, the usage-only chunk stripped unless asked for.
    let (asked, translator) = Run::stream(source, source, true).one_shot(body);
    assert_eq!(asked, body, "{name}: passthrough must be byte-exact");
    assert_eq!(
        canonical_numbers(translator.usage()),
        expected,
        "{name}: passthrough usage"
    );
    let (unasked, _) = Run::stream(source, source, false).one_shot(body);
    let forwarded = assemble_stream(source, &unasked);
    assert_same_content(&format!("{name} passthrough"), &recorded, &forwarded);
    let usage_only_chunk = sse_json(body).iter().any(|(_, v)| {
        v["choices"].as_array().is_some_and(|c| c.is_empty()) && v["usage"].is_object()
    });
    if source == WireFormat::OpenAi && usage_only_chunk {
        assert!(
            forwarded.usage.is_none(),
            "{name}: usage chunk must be stripped"
        );
        assert!(unasked.len() < body.len());
    } else {
        assert_eq!(unasked, body, "{name}: nothing to strip");
    }
}

/// Provider `source` → client `target`, and that output back to a `source` client.
fn check_stream_through(
    source: WireFormat,
    target: WireFormat,
    name: &str,
    body: &[u8],
    recorded: &Assembled,
    expected: [Option<u64>; 5],
) {
    let failed = recorded.error.is_some();
    let (out, translator) = Run::stream(target, source, true).one_shot(body);
    let translated = assemble_stream(target, &out);
    let context = format!("{name} as {target:?}");
    assert_same_content_between([source, target], &context, recorded, &translated);
    assert_eq!(
        canonical_numbers(translator.usage()),
        expected,
        "{context}: usage"
    );
    if failed {
        assert_eq!(translator.outcome(), Outcome::Failed, "{context}");
        assert!(
            translated.error.is_some(),
            "{context}: error event expected"
        );
        assert!(
            !translated.terminated,
            "{context}: no clean end after an error"
        );
    } else {
        assert_eq!(
            translator.outcome(),
            Outcome::Completed,
            "{context}: {:?}",
            translator.error()
        );
        assert!(translated.terminated, "{context}: clean end expected");
        assert!(translated.error.is_none(), "{context}");
        let usage = translated
            .usage
            .as_ref()
            .expect("usage in translated stream");
        assert_eq!(
            numbers(target, usage),
            representable(target, expected),
            "{context}: usage object"
        );
        assert_eq!(
            translated.stop.is_some(),
            recorded.stop.is_some(),
            "{context}: stop"
        );
    }
    if source != WireFormat::Gemini && carries_signatures(source, target) {
        assert_eq!(
            translated.signatures, recorded.signatures,
            "{context}: signatures"
        );
    }

    let (back, translator) = Run::stream(source, target, true).one_shot(&out);
    let returned = assemble_stream(source, &back);
    let context = format!("{name} round trip through {target:?}");
    assert_same_content_between([source, target], &context, recorded, &returned);
    assert_eq!(returned.error.is_some(), failed, "{context}: error");
    if source == WireFormat::Gemini && carries_signatures(source, target) {
        // Thought signatures ride in tool-call ids and thinking blocks, and come back whole.
        assert_eq!(
            returned.signatures, recorded.signatures,
            "{context}: signatures"
        );
    }
    if !failed {
        assert_eq!(translator.outcome(), Outcome::Completed, "{context}");
        let usage = returned.usage.as_ref().expect("usage after round trip");
        let through_target = representable(target, expected);
        assert_eq!(
            numbers(source, usage)[..4],
            representable(source, through_target)[..4],
            "{context}: usage"
        );
    }
}

#[test]
fn recorded_streams_translate_both_ways() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    let streams = recorded_streams(&root);
    for (format, path, body) in &streams {
        // The oracle reads whole `args` only; partial arguments have a test of their own.
        if !path.ends_with(VERTEX_PARTIAL_ARGS) {
            check_stream(*format, path, body);
        }
    }
    let count = |format| streams.iter().filter(|(f, _, _)| *f == format).count();
    assert!(
        count(WireFormat::Cohere) >= 4,
        "Cohere stream recordings missing"
    );
    assert!(
        count(WireFormat::Gemini) >= 4,
        "Gemini stream recordings missing"
    );
    assert!(
        count(WireFormat::Bedrock) >= 4,
        "Bedrock stream recordings missing"
    );
    assert!(
        streams.len() >= 27,
        "only {} stream recordings found",
        streams.len()
    );
}

const VERTEX_PARTIAL_ARGS: &str =
    "gemini/payload-chunks/vertex-stream-function-call-partial-args.chunks.jsonl";

/// Vertex streams function-call arguments as JSON-path pieces when a client opts in. The
/// recording is payload-only (one chunk per line); it is framed as Gemini frames its events
/// (`data: …` and CRLF CRLF) and must assemble into the two whole calls it spells, with the
/// recorded usage, passthrough byte-exact, and the first call's signature back at Gemini.
#[test]
fn vertex_streamed_arguments_assemble_into_whole_calls() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    let path = root.join(VERTEX_PARTIAL_ARGS);
    let body = frame_gemini_payloads(&read(&path));
    let name = path.display().to_string();
    let last: Value = read_json_lines(&path).pop().expect("payloads");
    let expected = gemini_usage_numbers(&last["usageMetadata"]);
    let (same, translator) =
        Run::stream(WireFormat::Gemini, WireFormat::Gemini, true).one_shot(&body);
    assert_eq!(same, body, "{name}: passthrough must be byte-exact");
    assert_eq!(
        canonical_numbers(translator.usage()),
        expected,
        "{name}: passthrough usage"
    );
    for client in others(WireFormat::Gemini) {
        let (out, translator) = Run::stream(client, WireFormat::Gemini, true).one_shot(&body);
        let translated = assemble_stream(client, &out);
        let context = format!("{name} as {client:?}");
        assert_eq!(translator.outcome(), Outcome::Completed, "{context}");
        assert_eq!(
            translator.stop_reason(),
            Some(&StopReason::ToolUse),
            "{context}"
        );
        assert_eq!(
            canonical_numbers(translator.usage()),
            expected,
            "{context}: usage"
        );
        assert!(translated.terminated, "{context}");
        assert_eq!(
            translated.calls(),
            [
                (
                    "getWeather".to_owned(),
                    r#"{"location":"Boston"}"#.to_owned()
                ),
                (
                    "getWeather".to_owned(),
                    r#"{"location":"San Francisco"}"#.to_owned()
                ),
            ],
            "{context}"
        );
        if carries_signatures(WireFormat::Gemini, client) {
            let (back, _) = Run::stream(WireFormat::Gemini, client, true).one_shot(&out);
            let returned = assemble_stream(WireFormat::Gemini, &back);
            assert_eq!(
                returned.signatures,
                [first_signature(&path)],
                "{context}: signature"
            );
        }
    }
}

fn read_json_lines(path: &Path) -> Vec<Value> {
    String::from_utf8(read(path))
        .expect("UTF-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("payload is JSON"))
        .collect()
}

/// The `thoughtSignature` the recording puts on its first call.
fn first_signature(path: &Path) -> String {
    read_json_lines(path)
        .iter()
        .find_map(|c| {
            c["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("a signature in the recording")
}

// === non-streaming bodies ===

fn status_of(path: &Path) -> u16 {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.split('-')
        .find_map(|part| part.parse::<u16>().ok().filter(|s| (400..600).contains(s)))
        .unwrap_or(200)
}

fn check_body(source: WireFormat, path: &Path) {
    let name = path.display().to_string();
    let body = read(path);
    let status = status_of(path);
    let recorded = assemble_body(source, &body);
    for target in others(source) {
        check_body_through(source, target, &name, &body, status, &recorded);
    }
    // Same format: the provider's body is the client's.
    let (same, translator) = Run::body(source, source, status).one_shot(&body);
    assert_eq!(same, body, "{name}: passthrough");
    if status < 400 {
        let expected = numbers(source, recorded.usage.as_ref().expect("usage in recording"));
        assert_eq!(
            canonical_numbers(translator.usage()),
            expected,
            "{name}: passthrough usage"
        );
    }
}

/// Provider `source` → client `target`, and that output back to a `source` client.
fn check_body_through(
    source: WireFormat,
    target: WireFormat,
    name: &str,
    body: &[u8],
    status: u16,
    recorded: &Assembled,
) {
    let (out, translator) = Run::body(target, source, status).one_shot(body);
    let translated = assemble_body(target, &out);
    let context = format!("{name} as {target:?}");
    assert_eq!(translator.client_status(), status, "{context}: status");
    if status >= 400 {
        assert_eq!(translator.outcome(), Outcome::Failed, "{context}");
        let message = |e: &Option<Value>| {
            e.as_ref()
                .and_then(|e| e["message"].as_str().map(str::to_owned))
        };
        assert!(
            message(&recorded.error).is_some(),
            "{context}: recording has a message"
        );
        assert_eq!(
            message(&translated.error),
            message(&recorded.error),
            "{context}: message"
        );
        let (back, _) = Run::body(source, target, status).one_shot(&out);
        let returned = assemble_body(source, &back);
        assert_eq!(
            message(&returned.error),
            message(&recorded.error),
            "{context}: round trip"
        );
        return;
    }
    let expected = numbers(source, recorded.usage.as_ref().expect("usage in recording"));
    assert_eq!(translator.outcome(), Outcome::Completed, "{context}");
    assert_same_content_between([source, target], &context, recorded, &translated);
    assert_eq!(
        canonical_numbers(translator.usage()),
        expected,
        "{context}: usage"
    );
    let usage = translated.usage.as_ref().expect("usage");
    assert_eq!(
        numbers(target, usage),
        representable(target, expected),
        "{context}: usage object"
    );
    if source != WireFormat::Gemini && carries_signatures(source, target) {
        assert_eq!(
            translated.signatures, recorded.signatures,
            "{context}: signatures"
        );
    }
    let (back, _) = Run::body(source, target, 200).one_shot(&out);
    let returned = assemble_body(source, &back);
    let context = format!("{context} round trip");
    assert_same_content_between([source, target], &context, recorded, &returned);
    if source == WireFormat::Gemini && carries_signatures(source, target) {
        assert_eq!(
            returned.signatures, recorded.signatures,
            "{context}: signatures"
        );
    }
}

#[test]
fn recorded_bodies_translate_both_ways() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    let mut checked = 0;
    for (format, dir) in format_dirs(&root) {
        for path in files(&dir, ".json") {
            if path.to_string_lossy().ends_with(".request.json") {
                continue;
            }
            check_body(format, &path);
            checked += 1;
        }
    }
    assert!(checked >= 17, "only {checked} body recordings found");
}

// === requests ===

fn check_request(source: WireFormat, path: &Path) {
    let name = path.display().to_string();
    let body = read(path);
    for target in others(source) {
        check_request_through(source, target, &name, &body);
    }
}

fn check_request_through(source: WireFormat, target: WireFormat, name: &str, body: &[u8]) {
    let original: Value = serde_json::from_slice(body).expect("request JSON");
    let to_target = ProviderTarget {
        format: target,
        base_path: "/v1",
        upstream_model: "upstream-model",
        api_version: None,
    };
    let upstream = translate_request(source, &to_target, body)
        .unwrap_or_else(|e| panic!("{name} → {target:?}: {e}"));
    let translated: Value = serde_json::from_slice(&upstream.body).expect("translated JSON");
    if target == WireFormat::Gemini {
        // Gemini names the model (and streaming) in the path only.
        assert!(
            upstream.path.starts_with("/v1/models/upstream-model:"),
            "{name}: {}",
            upstream.path
        );
    } else if target == WireFormat::Bedrock {
        // So does Bedrock.
        assert!(
            upstream
                .path
                .starts_with("/v1/model/upstream-model/converse"),
            "{name}: {}",
            upstream.path
        );
    } else {
        assert_eq!(translated["model"], "upstream-model", "{name}");
    }
    assert_eq!(
        upstream.stream,
        original["stream"] == true,
        "{name}: stream"
    );
    assert_eq!(
        tools(target, &translated),
        tools(source, &original),
        "{name}: tool definitions"
    );
    // A conversation of empty text only (a Gemini recording sends one empty part) may come
    // out empty where the target drops empty text (Anthropic rejects empty text blocks).
    if says_something(source, &original) {
        assert!(turns(target, &translated) > 0, "{name} → {target:?}: turns");
    }
    if target == WireFormat::Anthropic {
        assert!(
            translated["max_tokens"].as_u64().is_some(),
            "{name}: max_tokens"
        );
    }

    let to_source = ProviderTarget {
        format: source,
        base_path: "/v1",
        upstream_model: "back",
        api_version: None,
    };
    let returned = translate_request(target, &to_source, &upstream.body)
        .unwrap_or_else(|e| panic!("{name} → {target:?} → {source:?}: {e}"));
    let returned: Value = serde_json::from_slice(&returned.body).expect("returned JSON");
    assert_eq!(
        tools(source, &returned),
        tools(source, &original),
        "{name}: tools after round trip"
    );
}

/// Number of function tools a request body of `format` declares.
fn tools(format: WireFormat, body: &Value) -> usize {
    let tools = body["tools"].as_array().into_iter().flatten();
    match format {
        WireFormat::Gemini => tools
            .filter_map(|t| t["functionDeclarations"].as_array())
            .map(Vec::len)
            .sum(),
        WireFormat::Bedrock => body["toolConfig"]["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t.get("toolSpec").is_some())
            .count(),
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere => tools.count(),
    }
}

/// Whether a request body of `format` has any content besides empty text.
fn says_something(format: WireFormat, body: &Value) -> bool {
    let request = codec::decode_request(format, body).expect("request decodes");
    request
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .any(|part| !matches!(part, ContentPart::Text { text, .. } if text.is_empty()))
}

/// Number of conversation turns a request body of `format` carries.
fn turns(format: WireFormat, body: &Value) -> usize {
    let key = match format {
        WireFormat::Gemini => "contents",
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere | WireFormat::Bedrock => {
            "messages"
        }
    };
    body[key].as_array().map_or(0, Vec::len)
}

#[test]
fn recorded_requests_translate_both_ways() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    let mut checked = 0;
    for (format, dir) in format_dirs(&root) {
        for path in files(&dir, ".request.json") {
            check_request(format, &path);
            checked += 1;
        }
    }
    assert!(checked >= 19, "only {checked} request recordings found");
}
