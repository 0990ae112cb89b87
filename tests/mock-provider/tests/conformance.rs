//! Conformance of the mock against real provider recordings in the shared fixtures.
//!
//! Each case sends a request (usually the very request that produced the recording) to
//! an in-process mock and compares the SHAPE of its answer with the recording, never the
//! values:
//! - streams: the same event kinds in the same order, counting a run of repeated kinds
//!   (text deltas, argument fragments) as one;
//! - every JSON object, recursively: the mock's keys are a subset of the keys recorded at
//!   the same position, with the same JSON types, and keys the recording always has there
//!   are present;
//! - a few values each case names where the mock must match the recording exactly
//!   (stop reasons, the empty first argument fragment, error types, cache counts).
//!
//! The recordings are read at run time from `$TOLLGATE_SHARED_FIXTURES` or
//! `<workspace>/../shared/fixtures`, never copied into the repo. Without them the test
//! prints `SKIPPED: …` and passes.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{parse_sse, SseEvent};

/// One request to the mock and the recording its answer must look like.
struct Case {
    name: &'static str,
    /// Path under the fixtures folder; `.sse` is a stream, anything else one JSON body.
    recording: &'static str,
    request: RequestBody,
    headers: &'static [(&'static str, &'static str)],
    status: u16,
    /// `(event kind, JSON pointer)` values that must equal the recording's, taken from the
    /// first event of that kind; the kind is "" for a JSON body.
    same_values: &'static [(&'static str, &'static str)],
}

enum RequestBody {
    /// A recorded request file under the fixtures folder.
    Recorded(&'static str),
    Inline(&'static str),
}

/// The format-specific parts: where to send, and how to name a stream event's kind.
struct Format {
    path: &'static str,
    /// `(case name, path)` for cases sent elsewhere (formats with the model in the path).
    case_paths: &'static [(&'static str, &'static str)],
    kind: fn(&SseEvent) -> String,
    cases: &'static [Case],
}

const OPENAI_AUTH: (&str, &str) = ("authorization", "Bearer test-openai-key");
const ANTHROPIC_KEY: (&str, &str) = ("x-api-key", "test-anthropic-key");
const ANTHROPIC_VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");
const OPENAI_MINIMAL: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
const ANTHROPIC_MINIMAL: &str =
    r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;

const OPENAI: Format = Format {
    path: "/v1/chat/completions",
    case_paths: &[],
    kind: openai_kind,
    cases: &[
        Case {
            name: "text completion",
            recording: "openai/chat-completion-text.json",
            request: RequestBody::Recorded("openai/chat-completion-text.request.json"),
            headers: &[OPENAI_AUTH],
            status: 200,
            same_values: &[("", "/object"), ("", "/choices/0/finish_reason")],
        },
        Case {
            name: "tool-call completion",
            recording: "openai/chat-completion-tool-calls.json",
            request: RequestBody::Recorded("openai/chat-completion-tool-calls.request.json"),
            headers: &[OPENAI_AUTH, ("x-mock-tool", "get_temperature")],
            status: 200,
            same_values: &[
                ("", "/choices/0/finish_reason"),
                ("", "/choices/0/message/tool_calls/0/type"),
            ],
        },
        Case {
            name: "text stream with include_usage",
            recording: "openai/stream-text-include-usage.sse",
            request: RequestBody::Recorded("openai/stream-text-include-usage.request.json"),
            headers: &[OPENAI_AUTH],
            status: 200,
            same_values: &[
                ("role", "/choices/0/delta"),
                ("finish", "/choices/0/delta"),
                ("finish", "/choices/0/finish_reason"),
                ("usage", "/choices"),
            ],
        },
        Case {
            name: "tool-call stream",
            recording: "openai/stream-tool-call-gpt-4o-mini.sse",
            request: RequestBody::Recorded("openai/stream-tool-call-gpt-4o-mini.request.json"),
            headers: &[OPENAI_AUTH, ("x-mock-tool", "get_capital")],
            status: 200,
            same_values: &[
                ("tool_call_start", "/choices/0/delta/content"),
                (
                    "tool_call_start",
                    "/choices/0/delta/tool_calls/0/function/arguments",
                ),
                ("finish", "/choices/0/finish_reason"),
            ],
        },
        Case {
            name: "missing messages",
            recording: "openai/error-400-unsupported-value.json",
            request: RequestBody::Inline(r#"{"model":"gpt-4o"}"#),
            headers: &[OPENAI_AUTH],
            status: 400,
            same_values: &[("", "/error/type")],
        },
        Case {
            name: "injected 404",
            recording: "openai/error-404-model-not-found.json",
            request: RequestBody::Inline(OPENAI_MINIMAL),
            headers: &[OPENAI_AUTH, ("x-mock-status", "404")],
            status: 404,
            same_values: &[("", "/error/type"), ("", "/error/code")],
        },
        Case {
            name: "wrong key",
            recording: "openai/error-404-model-not-found.json",
            request: RequestBody::Inline(OPENAI_MINIMAL),
            headers: &[("authorization", "Bearer wrong-key")],
            status: 401,
            same_values: &[("", "/error/type")],
        },
    ],
};

const ANTHROPIC: Format = Format {
    path: "/v1/messages",
    case_paths: &[],
    kind: anthropic_kind,
    cases: &[
        Case {
            name: "text message",
            recording: "anthropic/message-text-after-tool-result.json",
            request: RequestBody::Recorded("anthropic/message-text-after-tool-result.request.json"),
            headers: &[ANTHROPIC_KEY, ANTHROPIC_VERSION],
            status: 200,
            same_values: &[("", "/type"), ("", "/stop_reason")],
        },
        Case {
            name: "message with cache reads",
            recording: "anthropic/message-cache-usage.json",
            request: RequestBody::Recorded("anthropic/message-cache-usage.request.json"),
            headers: &[
                ANTHROPIC_KEY,
                ANTHROPIC_VERSION,
                ("x-mock-cached-tokens", "1111"),
            ],
            status: 200,
            same_values: &[("", "/stop_reason"), ("", "/usage/cache_read_input_tokens")],
        },
        Case {
            name: "tool_use message",
            recording: "anthropic/message-thinking-tool-use.json",
            request: RequestBody::Recorded("anthropic/message-thinking-tool-use.request.json"),
            headers: &[
                ANTHROPIC_KEY,
                ANTHROPIC_VERSION,
                ("x-mock-tool", "get_user_country"),
            ],
            status: 200,
            same_values: &[("", "/stop_reason")],
        },
        Case {
            name: "text stream",
            recording: "anthropic/stream-text.sse",
            request: RequestBody::Recorded("anthropic/stream-text.request.json"),
            headers: &[ANTHROPIC_KEY, ANTHROPIC_VERSION],
            status: 200,
            same_values: &[
                ("ping", ""),
                ("content_block_start:text", "/content_block"),
                ("message_delta", "/delta"),
            ],
        },
        Case {
            name: "tool_use stream",
            recording: "anthropic/stream-tool-use.sse",
            request: RequestBody::Recorded("anthropic/stream-tool-use.request.json"),
            headers: &[
                ANTHROPIC_KEY,
                ANTHROPIC_VERSION,
                ("x-mock-tool", "get_weather"),
            ],
            status: 200,
            same_values: &[
                ("content_block_start:tool_use", "/content_block/input"),
                ("content_block_start:tool_use", "/content_block/caller"),
                (
                    "content_block_delta:input_json_delta",
                    "/delta/partial_json",
                ),
                ("message_delta", "/delta"),
            ],
        },
        Case {
            name: "missing max_tokens",
            recording: "anthropic/error-400-invalid-request.json",
            request: RequestBody::Inline(
                r#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#,
            ),
            headers: &[ANTHROPIC_KEY, ANTHROPIC_VERSION],
            status: 400,
            same_values: &[("", "/type"), ("", "/error/type")],
        },
        Case {
            name: "missing anthropic-version",
            recording: "anthropic/error-400-invalid-request.json",
            request: RequestBody::Inline(ANTHROPIC_MINIMAL),
            headers: &[ANTHROPIC_KEY],
            status: 400,
            same_values: &[("", "/error/type")],
        },
        Case {
            name: "wrong key",
            recording: "anthropic/error-400-invalid-request.json",
            request: RequestBody::Inline(ANTHROPIC_MINIMAL),
            headers: &[("x-api-key", "wrong-key"), ANTHROPIC_VERSION],
            status: 401,
            same_values: &[("", "/type")],
        },
        Case {
            name: "injected 404",
            recording: "anthropic/error-404-not-found.json",
            request: RequestBody::Inline(ANTHROPIC_MINIMAL),
            headers: &[ANTHROPIC_KEY, ANTHROPIC_VERSION, ("x-mock-status", "404")],
            status: 404,
            same_values: &[("", "/error/type")],
        },
        Case {
            name: "injected 429",
            recording: "anthropic/error-429-rate-limit.json",
            request: RequestBody::Inline(ANTHROPIC_MINIMAL),
            headers: &[ANTHROPIC_KEY, ANTHROPIC_VERSION, ("x-mock-status", "429")],
            status: 429,
            same_values: &[("", "/error/type")],
        },
    ],
};

const COHERE_AUTH: (&str, &str) = ("authorization", "Bearer test-cohere-key");

const COHERE: Format = Format {
    path: "/v2/chat",
    case_paths: &[],
    kind: cohere_kind,
    cases: &[
        Case {
            name: "text chat",
            recording: "cohere/chat-v2-text.json",
            request: RequestBody::Recorded("cohere/chat-v2-text.request.json"),
            headers: &[COHERE_AUTH],
            status: 200,
            same_values: &[("", "/finish_reason"), ("", "/message/role")],
        },
        Case {
            name: "tool-call chat",
            recording: "cohere/chat-v2-tool-calls.json",
            request: RequestBody::Recorded("cohere/chat-v2-tool-calls.request.json"),
            headers: &[COHERE_AUTH, ("x-mock-tool", "Person")],
            status: 200,
            same_values: &[("", "/finish_reason"), ("", "/message/tool_calls/0/type")],
        },
        Case {
            name: "text stream",
            recording: "cohere/chat-v2-stream-text.sse",
            request: RequestBody::Recorded("cohere/chat-v2-stream-text.request.json"),
            headers: &[COHERE_AUTH],
            status: 200,
            same_values: &[
                ("message-start", "/delta/message"),
                ("content-start", "/delta/message/content"),
                ("message-end", "/delta/finish_reason"),
            ],
        },
        Case {
            name: "tool-call stream",
            recording: "cohere/chat-v2-stream-tool-call.sse",
            request: RequestBody::Recorded("cohere/chat-v2-stream-tool-call.request.json"),
            headers: &[COHERE_AUTH, ("x-mock-tool", "Person")],
            status: 200,
            same_values: &[
                (
                    "tool-call-start",
                    "/delta/message/tool_calls/function/arguments",
                ),
                ("tool-call-start", "/delta/message/tool_calls/type"),
                ("message-end", "/delta/finish_reason"),
            ],
        },
    ],
};

const GEMINI_KEY: (&str, &str) = ("x-goog-api-key", "test-gemini-key");
const VERTEX_AUTH: (&str, &str) = ("authorization", "Bearer test-vertex-token");
const GEMINI_MINIMAL: &str = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;

const GEMINI: Format = Format {
    path: "/v1beta/models/gemini-2.5-flash:generateContent",
    case_paths: &[
        (
            "function call",
            "/v1beta/models/gemini-3-flash-preview:generateContent",
        ),
        (
            "text stream",
            "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent?alt=sse",
        ),
        (
            "function call stream",
            "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
        ),
        (
            "vertex text",
            "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
        ),
        (
            "vertex function call stream",
            "/v1/projects/p/locations/global/publishers/google/models/gemini-3-pro-preview:streamGenerateContent?alt=sse",
        ),
    ],
    kind: gemini_kind,
    cases: &[
        Case {
            name: "text",
            recording: "gemini/generate-content-text.json",
            request: RequestBody::Recorded("gemini/generate-content-text.request.json"),
            headers: &[GEMINI_KEY, ("x-mock-reasoning-tokens", "34")],
            status: 200,
            same_values: &[
                ("", "/candidates/0/finishReason"),
                ("", "/candidates/0/content/role"),
                ("", "/candidates/0/index"),
            ],
        },
        Case {
            name: "function call",
            recording: "gemini/generate-content-function-call.json",
            request: RequestBody::Recorded("gemini/generate-content-function-call.request.json"),
            headers: &[
                GEMINI_KEY,
                ("x-mock-tool", "generate_topic"),
                ("x-mock-reasoning-tokens", "190"),
            ],
            status: 200,
            same_values: &[
                ("", "/candidates/0/finishReason"),
                ("", "/candidates/0/content/parts/0/functionCall/args"),
            ],
        },
        Case {
            name: "text stream",
            recording: "gemini/stream-text.sse",
            request: RequestBody::Recorded("gemini/stream-text.request.json"),
            headers: &[GEMINI_KEY],
            status: 200,
            same_values: &[
                ("finish", "/candidates/0/finishReason"),
                ("text", "/candidates/0/content/role"),
            ],
        },
        Case {
            name: "function call stream",
            recording: "gemini/stream-function-call.sse",
            request: RequestBody::Recorded("gemini/stream-function-call.request.json"),
            headers: &[
                GEMINI_KEY,
                ("x-mock-tool", "get_country"),
                ("x-mock-reasoning-tokens", "202"),
            ],
            status: 200,
            same_values: &[
                ("finish", "/candidates/0/finishReason"),
                ("finish", "/candidates/0/content/parts/0"),
                ("function_call", "/candidates/0/content/parts/0/functionCall/args"),
            ],
        },
        Case {
            name: "unknown model",
            recording: "gemini/error-404-model-not-found.json",
            request: RequestBody::Inline(GEMINI_MINIMAL),
            headers: &[GEMINI_KEY, ("x-mock-status", "404")],
            status: 404,
            same_values: &[("", "/error/status"), ("", "/error/code")],
        },
        Case {
            name: "vertex text",
            recording: "gemini/generate-content-text.json",
            request: RequestBody::Recorded("gemini/generate-content-text.request.json"),
            headers: &[VERTEX_AUTH, ("x-mock-reasoning-tokens", "34")],
            status: 200,
            same_values: &[("", "/candidates/0/finishReason")],
        },
        Case {
            name: "vertex function call stream",
            recording: "gemini/stream-function-call.sse",
            request: RequestBody::Recorded("gemini/stream-function-call.request.json"),
            headers: &[
                VERTEX_AUTH,
                ("x-mock-tool", "get_country"),
                ("x-mock-reasoning-tokens", "202"),
            ],
            status: 200,
            same_values: &[("finish", "/candidates/0/finishReason")],
        },
    ],
};

#[tokio::test]
async fn openai_matches_recordings() {
    conform(&OPENAI).await;
}

/// Bedrock's model is in the path; any bearer key passes a mock without configured keys.
const BEDROCK_AUTH: (&str, &str) = ("authorization", "Bearer test-bedrock-api-key");
const BEDROCK_TOOL_REQUEST: &str = r#"{"messages":[{"role":"user","content":[{"text":"What is the temperature in the capital of France?"}]}],
    "toolConfig":{"tools":[{"toolSpec":{"name":"get_temperature","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}]}}"#;

const BEDROCK: Format = Format {
    path: "/model/us.amazon.nova-micro-v1%3A0/converse",
    case_paths: &[],
    kind: openai_kind, // unused: Bedrock streams are binary
    cases: &[
        Case {
            name: "converse text",
            recording: "bedrock/converse-text.json",
            request: RequestBody::Recorded("bedrock/converse-text.request.json"),
            headers: &[BEDROCK_AUTH],
            status: 200,
            same_values: &[("", "/stopReason"), ("", "/output/message/role")],
        },
        Case {
            name: "missing messages",
            recording: "bedrock/converse-error-400.json",
            request: RequestBody::Inline(r#"{"inferenceConfig":{}}"#),
            headers: &[BEDROCK_AUTH],
            status: 400,
            same_values: &[],
        },
    ],
};

const BEDROCK_STREAM: Format = Format {
    path: "/model/us.amazon.nova-micro-v1%3A0/converse-stream",
    case_paths: &[],
    kind: openai_kind, // unused: Bedrock streams are binary
    cases: &[
        Case {
            name: "converse-stream text",
            recording: "bedrock/converse-stream-text.bin",
            request: RequestBody::Recorded("bedrock/converse-stream-text.request.json"),
            headers: &[BEDROCK_AUTH],
            status: 200,
            same_values: &[("messageStop", "/stopReason"), ("messageStart", "/role")],
        },
        Case {
            name: "converse-stream tool use",
            recording: "bedrock/converse-stream-tool-use.bin",
            request: RequestBody::Inline(BEDROCK_TOOL_REQUEST),
            headers: &[BEDROCK_AUTH, ("x-mock-tool", "get_temperature")],
            status: 200,
            same_values: &[("messageStop", "/stopReason")],
        },
    ],
};

#[tokio::test]
async fn bedrock_matches_recordings() {
    conform(&BEDROCK).await;
    conform(&BEDROCK_STREAM).await;
}

#[tokio::test]
async fn anthropic_matches_recordings() {
    conform(&ANTHROPIC).await;
}

#[tokio::test]
async fn cohere_matches_recordings() {
    conform(&COHERE).await;
}

#[tokio::test]
async fn gemini_matches_recordings() {
    conform(&GEMINI).await;
}

#[tokio::test]
async fn cohere_events_repeat_their_name_as_type() {
    let Some(fixtures) = fixtures() else { return };
    let addr = support::start().await;
    for case in COHERE
        .cases
        .iter()
        .filter(|case| case.recording.ends_with(".sse"))
    {
        let response = send(addr, &COHERE, case, &fixtures).await;
        let events = response.events();
        assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
        for event in &events[..events.len() - 1] {
            assert_eq!(
                event.name.as_deref(),
                event.json()["type"].as_str(),
                "{}",
                event.data
            );
        }
    }
}

#[tokio::test]
async fn anthropic_events_lead_with_the_type_their_name_repeats() {
    let Some(fixtures) = fixtures() else { return };
    let addr = support::start().await;
    for case in ANTHROPIC
        .cases
        .iter()
        .filter(|case| case.recording.ends_with(".sse"))
    {
        let response = send(addr, &ANTHROPIC, case, &fixtures).await;
        for event in response.events() {
            let data = event.json();
            assert_eq!(
                event.name.as_deref(),
                data["type"].as_str(),
                "{}",
                event.data
            );
        }
    }
}

/// The fixtures folder, or `None` after saying loudly that the test is skipped.
fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("TOLLGATE_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    if dir.is_dir() {
        return Some(dir);
    }
    eprintln!("SKIPPED: shared fixtures not found at {}", dir.display());
    None
}

async fn conform(format: &Format) {
    let Some(fixtures) = fixtures() else { return };
    let addr = support::start().await;
    let mut errors = Vec::new();
    for case in format.cases {
        let mut problems = Vec::new();
        check_case(addr, format, case, &fixtures, &mut problems).await;
        errors.extend(
            problems
                .into_iter()
                .map(|problem| format!("{} ({}): {problem}", case.name, case.recording)),
        );
    }
    // Every delta of a run fails the same way; report each problem once.
    let mut seen = std::collections::HashSet::new();
    errors.retain(|error| seen.insert(error.clone()));
    assert!(
        errors.is_empty(),
        "shape mismatches:\n{}",
        errors.join("\n")
    );
}

async fn send(
    addr: SocketAddr,
    format: &Format,
    case: &Case,
    fixtures: &Path,
) -> support::Response {
    let body = match case.request {
        RequestBody::Recorded(path) => read(fixtures, path).into_bytes(),
        RequestBody::Inline(body) => body.as_bytes().to_vec(),
    };
    let mut headers = case.headers.to_vec();
    headers.push(("content-type", "application/json"));
    let path = (format.case_paths.iter())
        .find(|(name, _)| *name == case.name)
        .map_or(format.path, |(_, path)| path);
    support::request(addr, "POST", path, &headers, &body).await
}

async fn check_case(
    addr: SocketAddr,
    format: &Format,
    case: &Case,
    fixtures: &Path,
    errors: &mut Vec<String>,
) {
    let response = send(addr, format, case, fixtures).await;
    if response.status != case.status {
        errors.push(format!(
            "status {} (want {}): {}",
            response.status,
            case.status,
            response.text()
        ));
        return;
    }
    if case.recording.ends_with(".bin") {
        check_event_stream(&response, case, fixtures, errors);
        return;
    }
    let recorded = read(fixtures, case.recording);
    if !case.recording.ends_with(".sse") {
        let (mock, recorded) = (response.json(), parse_json(&recorded));
        check_shape(&mock, &[&recorded], "$", errors);
        for (_, pointer) in case.same_values {
            check_same_value(&mock, &recorded, pointer, errors);
        }
        return;
    }
    if !response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"))
    {
        errors.push(format!(
            "content-type {:?}",
            response.header("content-type")
        ));
    }
    let mock = Stream::new(response.events(), format.kind);
    let recorded = Stream::new(parse_sse(&recorded), format.kind);
    if mock.pattern() != recorded.pattern() {
        errors.push(format!(
            "event order\n  mock:      {:?}\n  recording: {:?}",
            mock.pattern(),
            recorded.pattern()
        ));
        return;
    }
    for (kind, data) in &mock.events {
        let same_kind: Vec<&Value> = recorded.of_kind(kind).collect();
        if let Some(data) = data {
            check_shape(data, &same_kind, kind, errors);
        }
    }
    for (kind, pointer) in case.same_values {
        match (mock.of_kind(kind).next(), recorded.of_kind(kind).next()) {
            (Some(mock), Some(recorded)) => check_same_value(mock, recorded, pointer, errors),
            _ => errors.push(format!("no {kind} event in both streams")),
        }
    }
}

/// Bedrock event streams: the mock's frames must carry valid checksums; its event kinds must
/// appear in the recording's order (the recording may have more blocks, e.g. text before a
/// tool call); every payload must have the shape of the same event in some recording.
fn check_event_stream(
    response: &support::Response,
    case: &Case,
    fixtures: &Path,
    errors: &mut Vec<String>,
) {
    if response.header("content-type") != Some("application/vnd.amazon.eventstream") {
        errors.push(format!(
            "content-type {:?}",
            response.header("content-type")
        ));
    }
    let mock = match support::parse_event_stream(&response.body) {
        Ok(frames) => frames,
        Err(error) => return errors.push(format!("mock frames: {error}")),
    };
    let bytes =
        |path: &Path| std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let recorded = support::parse_event_stream(&bytes(&fixtures.join(case.recording)))
        .unwrap_or_else(|e| panic!("{}: {e}", case.recording));
    let mut all_recorded = Vec::new();
    for entry in std::fs::read_dir(fixtures.join("bedrock"))
        .unwrap()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "bin") {
            all_recorded.extend(support::parse_event_stream(&bytes(&entry.path())).unwrap());
        }
    }
    let pattern = |frames: &[(String, Value)]| {
        let mut kinds: Vec<String> = frames.iter().map(|(k, _)| k.clone()).collect();
        kinds.dedup();
        kinds
    };
    let (mock_kinds, recorded_kinds) = (pattern(&mock), pattern(&recorded));
    let mut rest = recorded_kinds.iter();
    if !mock_kinds.iter().all(|kind| rest.any(|r| r == kind)) {
        errors.push(format!(
            "event order\n  mock:      {mock_kinds:?}\n  recording: {recorded_kinds:?}"
        ));
    }
    for (kind, payload) in &mock {
        let same_kind: Vec<&Value> = all_recorded
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| v)
            .collect();
        check_shape(payload, &same_kind, kind, errors);
    }
    for (kind, pointer) in case.same_values {
        let first = |frames: &[(String, Value)]| {
            frames
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, v)| v.clone())
        };
        match (first(&mock), first(&recorded)) {
            (Some(mock), Some(recorded)) => check_same_value(&mock, &recorded, pointer, errors),
            _ => errors.push(format!("no {kind} event in both streams")),
        }
    }
}

/// A stream as (kind, parsed data) pairs; `[DONE]` has no JSON data.
struct Stream {
    events: Vec<(String, Option<Value>)>,
}

impl Stream {
    fn new(events: Vec<SseEvent>, kind: fn(&SseEvent) -> String) -> Self {
        let events = events
            .iter()
            .map(|event| (kind(event), serde_json::from_str(&event.data).ok()))
            .collect();
        Stream { events }
    }

    /// Kinds in order with runs of the same kind collapsed.
    fn pattern(&self) -> Vec<&str> {
        let mut pattern: Vec<&str> = self.events.iter().map(|(kind, _)| kind.as_str()).collect();
        pattern.dedup();
        pattern
    }

    fn of_kind<'s>(&'s self, kind: &'s str) -> impl Iterator<Item = &'s Value> {
        self.events
            .iter()
            .filter(move |(k, _)| k == kind)
            .filter_map(|(_, data)| data.as_ref())
    }
}

/// OpenAI chunks are all `data:` lines, so the kind comes from what the chunk carries.
fn openai_kind(event: &SseEvent) -> String {
    if event.data == "[DONE]" {
        return "done".into();
    }
    let chunk = event.json();
    if chunk.get("error").is_some() {
        return "error".into();
    }
    let Some(choice) = chunk["choices"].get(0) else {
        return "usage".into();
    };
    let delta = &choice["delta"];
    let kind = if !choice["finish_reason"].is_null() {
        "finish"
    } else if delta["tool_calls"][0].get("id").is_some() {
        "tool_call_start"
    } else if delta.get("tool_calls").is_some() {
        "tool_arguments"
    } else if delta.get("role").is_some() {
        "role"
    } else if delta.get("content").is_some() {
        "content"
    } else {
        "other"
    };
    kind.into()
}

/// Cohere names its events; `[DONE]` comes bare.
fn cohere_kind(event: &SseEvent) -> String {
    match &event.name {
        Some(name) => name.clone(),
        None if event.data == "[DONE]" => "done".into(),
        None => "<unnamed>".into(),
    }
}

/// Anthropic names its events; block events also say which block or delta type.
fn anthropic_kind(event: &SseEvent) -> String {
    let name = event.name.clone().unwrap_or_else(|| "<unnamed>".into());
    let data = event.json();
    let subtype = match name.as_str() {
        "content_block_start" => data["content_block"]["type"].as_str(),
        "content_block_delta" => data["delta"]["type"].as_str(),
        _ => None,
    };
    match subtype {
        Some(subtype) => format!("{name}:{subtype}"),
        None => name,
    }
}

/// Gemini chunks have no event names; the kind is what the first candidate carries.
fn gemini_kind(event: &SseEvent) -> String {
    let chunk = event.json();
    let candidate = &chunk["candidates"][0];
    let kind = if chunk.get("error").is_some() {
        "error"
    } else if candidate.get("finishReason").is_some() {
        "finish"
    } else if candidate["content"]["parts"][0]
        .get("functionCall")
        .is_some()
    {
        "function_call"
    } else {
        "text"
    };
    kind.into()
}

/// Checks `mock` against every value the recording has at the same position: its type
/// must be one of theirs; an object's keys must all occur there (with matching shapes)
/// and must include every key they all have; array items are checked against all their
/// items.
fn check_shape(mock: &Value, recorded: &[&Value], path: &str, errors: &mut Vec<String>) {
    let same_type: Vec<&Value> = recorded
        .iter()
        .copied()
        .filter(|value| json_type(value) == json_type(mock))
        .collect();
    if same_type.is_empty() {
        let theirs: Vec<&str> = recorded.iter().map(|value| json_type(value)).collect();
        errors.push(format!(
            "{path}: mock has {}, recording has {theirs:?}",
            json_type(mock)
        ));
        return;
    }
    match mock {
        Value::Object(fields) => {
            let objects: Vec<_> = same_type
                .iter()
                .filter_map(|value| value.as_object())
                .collect();
            for (key, value) in fields {
                let at_key: Vec<&Value> = objects
                    .iter()
                    .filter_map(|object| object.get(key))
                    .collect();
                if at_key.is_empty() {
                    errors.push(format!("{path}.{key}: not in the recording"));
                } else {
                    check_shape(value, &at_key, &format!("{path}.{key}"), errors);
                }
            }
            for key in objects[0].keys() {
                if !fields.contains_key(key)
                    && objects.iter().all(|object| object.contains_key(key))
                {
                    errors.push(format!(
                        "{path}.{key}: missing (the recording always has it)"
                    ));
                }
            }
        }
        Value::Array(items) => {
            let recorded_items: Vec<&Value> = same_type
                .iter()
                .filter_map(|value| value.as_array())
                .flatten()
                .collect();
            if !items.is_empty() && recorded_items.is_empty() {
                errors.push(format!(
                    "{path}: mock has items, the recording's array is empty"
                ));
                return;
            }
            for (index, item) in items.iter().enumerate() {
                check_shape(item, &recorded_items, &format!("{path}[{index}]"), errors);
            }
        }
        _ => {}
    }
}

fn check_same_value(mock: &Value, recorded: &Value, pointer: &str, errors: &mut Vec<String>) {
    let (mine, theirs) = (mock.pointer(pointer), recorded.pointer(pointer));
    if theirs.is_none() || mine != theirs {
        errors.push(format!(
            "value at {pointer:?}: mock {mine:?}, recording {theirs:?}"
        ));
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn read(fixtures: &Path, path: &str) -> String {
    let path = fixtures.join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("recording is not JSON: {error}"))
}
