//! Golden tests over the project's own fixtures in `testdata/`.
//!
//! Layout: `testdata/<kind>/<source format>/<case>.<ext>` is the input, and
//! `<case>.<target format>.<ext>` next to it the expected translation. Requests expect the
//! whole upstream request (path, headers, body); responses the client status and body;
//! streams the client event stream, plus `<case>.<target>.summary.json` with the outcome,
//! stop reason and normalised usage. JSON is compared structurally.
//!
//! Regenerate the expectations with `TOLLGATE_BLESS=1 cargo test -p tollgate-core --test
//! golden`, then review the diff: a blessed file is only as good as that review.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use tollgate_core::formats::WireFormat;
use tollgate_core::translate::{translate_request, ProviderTarget, ResponseTranslator};

use WireFormat::{Anthropic, Bedrock, Cohere, Gemini, OpenAi};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Request,
    Response,
    Stream,
}

/// Every golden case and the formats it is translated to.
const CASES: &[(Kind, WireFormat, &str, &[WireFormat])] = &[
    (
        Kind::Request,
        OpenAi,
        "minimal",
        &[Anthropic, OpenAi, Cohere, Gemini, Bedrock],
    ),
    (Kind::Request, OpenAi, "mcp-tools-images", &[Bedrock]),
    (
        Kind::Request,
        OpenAi,
        "tool-choice-none-history",
        &[Bedrock],
    ),
    (
        Kind::Request,
        OpenAi,
        "tools-multiturn",
        &[Anthropic, OpenAi, Cohere, Gemini],
    ),
    (
        Kind::Request,
        OpenAi,
        "reasoning-history",
        &[Anthropic, Gemini],
    ),
    (Kind::Request, OpenAi, "gemini-history", &[Gemini]),
    (
        Kind::Request,
        Anthropic,
        "tools-multiturn",
        &[OpenAi, Anthropic, Cohere, Gemini],
    ),
    (
        Kind::Request,
        Anthropic,
        "structured-output",
        &[OpenAi, Cohere, Gemini],
    ),
    (
        Kind::Request,
        Cohere,
        "tools-multiturn",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Response,
        Anthropic,
        "thinking-text-tool",
        &[OpenAi, Cohere],
    ),
    (Kind::Response, Anthropic, "stop-sequence", &[OpenAi]),
    (Kind::Response, Anthropic, "error-529-overloaded", &[OpenAi]),
    (
        Kind::Response,
        Anthropic,
        "error-401-authentication",
        &[OpenAi],
    ),
    (Kind::Response, OpenAi, "tool-calls-cached", &[Anthropic]),
    (Kind::Response, OpenAi, "reasoning-length", &[Anthropic]),
    (Kind::Response, OpenAi, "content-filter", &[Anthropic]),
    (Kind::Response, OpenAi, "azure-content-filter", &[Anthropic]),
    (
        Kind::Response,
        OpenAi,
        "error-400-context-length",
        &[Anthropic],
    ),
    (Kind::Response, OpenAi, "error-429-rate-limit", &[Anthropic]),
    (
        Kind::Response,
        Cohere,
        "thinking-text",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Response,
        Cohere,
        "tool-plan-parallel",
        &[OpenAi, Anthropic],
    ),
    (Kind::Response, Cohere, "max-tokens-citations", &[OpenAi]),
    (
        Kind::Response,
        Cohere,
        "finish-timeout",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Response,
        Cohere,
        "error-429-trial-key",
        &[OpenAi, Anthropic],
    ),
    (Kind::Response, Cohere, "error-401-invalid-token", &[OpenAi]),
    (
        Kind::Stream,
        Anthropic,
        "thinking-text-tool",
        &[OpenAi, Cohere],
    ),
    (Kind::Stream, Anthropic, "overloaded-mid-stream", &[OpenAi]),
    (Kind::Stream, Anthropic, "server-tool-redacted", &[OpenAi]),
    (
        Kind::Stream,
        OpenAi,
        "parallel-tools-crlf",
        &[Anthropic, Cohere],
    ),
    (
        Kind::Stream,
        OpenAi,
        "reasoning-usage-on-finish",
        &[Anthropic],
    ),
    (Kind::Stream, OpenAi, "error-event", &[Anthropic, Cohere]),
    (Kind::Stream, OpenAi, "truncated", &[Anthropic]),
    (
        Kind::Stream,
        OpenAi,
        "azure-content-filter",
        &[Anthropic, Cohere],
    ),
    (
        Kind::Stream,
        Cohere,
        "thinking-citations",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Stream,
        Cohere,
        "tool-plan-parallel",
        &[OpenAi, Anthropic],
    ),
    (Kind::Stream, Cohere, "error-finish", &[OpenAi, Anthropic]),
    (Kind::Stream, Cohere, "truncated", &[OpenAi]),
    (
        Kind::Response,
        Gemini,
        "thinking-text-calls",
        &[OpenAi, Anthropic],
    ),
    (Kind::Response, Gemini, "blocked-prompt", &[OpenAi]),
    (Kind::Response, Gemini, "max-tokens", &[OpenAi]),
    (
        Kind::Response,
        Gemini,
        "error-429-resource-exhausted",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Response,
        Gemini,
        "error-400-api-key-invalid",
        &[OpenAi],
    ),
    (
        Kind::Stream,
        Gemini,
        "thoughts-text-calls",
        &[OpenAi, Anthropic],
    ),
    (Kind::Stream, Gemini, "error-after-200", &[OpenAi]),
    (Kind::Stream, Gemini, "truncated", &[OpenAi]),
    (Kind::Stream, Gemini, "vertex-partial-args", &[OpenAi]),
    (
        Kind::Response,
        Bedrock,
        "thinking-text-tool",
        &[OpenAi, Anthropic],
    ),
    (Kind::Response, Bedrock, "guardrail-intervened", &[OpenAi]),
    (
        Kind::Response,
        Bedrock,
        "error-429-throttling",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Stream,
        Bedrock,
        "thinking-text-tool",
        &[OpenAi, Anthropic],
    ),
    (
        Kind::Stream,
        Bedrock,
        "throttled-mid-stream",
        &[OpenAi, Anthropic],
    ),
    (Kind::Stream, Bedrock, "truncated-mid-frame", &[OpenAi]),
];

/// The Bedrock model requests are translated for: a Claude inference profile, whose id
/// needs percent-encoding in the path.
const BEDROCK_MODEL: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Request => "requests",
            Kind::Response => "responses",
            Kind::Stream => "streams",
        }
    }

    /// Extension of an input of `source`: provider streams are SSE, except Bedrock's binary
    /// event streams ([`stream_suffix`]).
    fn ext(self, source: WireFormat) -> &'static str {
        match self {
            Kind::Stream => stream_suffix(source).trim_start_matches('.'),
            Kind::Request | Kind::Response => "json",
        }
    }
}

fn case_path(kind: Kind, source: WireFormat, name: &str, suffix: &str) -> PathBuf {
    testdata()
        .join(kind.dir())
        .join(source.as_str())
        .join(format!("{name}{suffix}"))
}

fn blessing() -> bool {
    std::env::var_os("TOLLGATE_BLESS").is_some()
}

/// Compares `actual` with the expectation at `path`, or writes it when blessing.
fn check_json(path: &Path, actual: &Value) {
    if blessing() {
        let mut text = serde_json::to_string_pretty(actual).expect("serialise");
        text.push('\n');
        std::fs::write(path, text).expect("write golden");
        return;
    }
    let expected = read_json(path);
    assert_eq!(
        actual,
        &expected,
        "{} differs; actual:\n{}",
        path.display(),
        serde_json::to_string_pretty(actual).unwrap_or_default()
    );
}

fn check_sse(path: &Path, actual: &[u8]) {
    if blessing() {
        std::fs::write(path, actual).expect("write golden");
        return;
    }
    let expected = read(path);
    assert_eq!(
        sse_json(actual),
        sse_json(&expected),
        "{} differs; actual:\n{}",
        path.display(),
        String::from_utf8_lossy(actual)
    );
}

fn status_of(name: &str) -> u16 {
    name.split('-')
        .find_map(|part| part.parse::<u16>().ok().filter(|s| (400..600).contains(s)))
        .unwrap_or(200)
}

fn summary(translator: &ResponseTranslator) -> Value {
    json!({
        "outcome": format!("{:?}", translator.outcome()),
        "client_status": translator.client_status(),
        "stop_reason": translator.stop_reason().map(|r| format!("{r:?}")),
        "usage": translator.usage().map(|u| u.to_json()),
        "error": translator.error().map(|e| json!({
            "class": format!("{:?}", e.class),
            "code": e.code,
            "message": e.message,
        })),
    })
}

fn run_case(kind: Kind, source: WireFormat, name: &str, target: WireFormat) {
    let input = read(&case_path(
        kind,
        source,
        name,
        &format!(".{}", kind.ext(source)),
    ));
    let expected =
        |suffix: &str| case_path(kind, source, name, &format!(".{}{suffix}", target.as_str()));
    match kind {
        Kind::Request => {
            let (base_path, upstream_model) = match target {
                Bedrock => ("", BEDROCK_MODEL),
                OpenAi | Anthropic | Cohere | Gemini => ("/v1", "upstream-model"),
            };
            let provider = ProviderTarget {
                format: target,
                base_path,
                upstream_model,
                api_version: None,
            };
            let upstream = translate_request(source, &provider, &input)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let body: Value = serde_json::from_slice(&upstream.body).expect("body is JSON");
            let actual = json!({
                "path": upstream.path,
                "headers": upstream.headers,
                "stream": upstream.stream,
                "client_wants_stream_usage": upstream.client_wants_stream_usage,
                "body": body,
            });
            check_json(&expected(".json"), &actual);
        }
        Kind::Response => {
            let run = Run::body(target, source, status_of(name));
            let (out, translator) = run.one_shot(&input);
            let body: Value = serde_json::from_slice(&out).expect("output is JSON");
            let actual = json!({"summary": summary(&translator), "body": body});
            check_json(&expected(".json"), &actual);
        }
        Kind::Stream => {
            let run = Run::stream(target, source, true);
            let (out, translator) = run.one_shot(&input);
            check_sse(&expected(".sse"), &out);
            check_json(&expected(".summary.json"), &summary(&translator));
        }
    }
}

#[test]
fn golden_cases() {
    for (kind, source, name, targets) in CASES {
        for target in *targets {
            run_case(*kind, *source, name, *target);
        }
    }
    assert!(
        !blessing(),
        "expectations were rewritten; review them and run again without TOLLGATE_BLESS"
    );
}

/// Every input file in testdata is listed in `CASES`, so none is silently unchecked.
#[test]
fn every_fixture_is_covered() {
    for kind in [Kind::Request, Kind::Response, Kind::Stream] {
        for source in [OpenAi, Anthropic, Cohere, Gemini, Bedrock] {
            let dir = testdata().join(kind.dir()).join(source.as_str());
            for path in files(&dir, &format!(".{}", kind.ext(source))) {
                let file = path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let stem = file.trim_end_matches(&format!(".{}", kind.ext(source)));
                if stem.contains('.') {
                    continue; // an expectation (`<case>.<target>…`)
                }
                assert!(
                    CASES
                        .iter()
                        .any(|(k, s, n, _)| k.dir() == kind.dir() && *s == source && *n == stem),
                    "{} is not in CASES",
                    path.display()
                );
            }
        }
    }
}
