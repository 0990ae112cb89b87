//! Guardrail scan cost per KB, natively, for a realistic rule set: every built-in PII and
//! secret detector, two custom patterns, a 200-phrase keyword list and a length limit.
//!
//! `cargo bench -p tollgate-core --bench guardrails` (part of `make bench`). Figures:
//! - whole: [`CompiledGuardrails::apply`] on a 16 KB prompt (what the input stage and a
//!   non-streamed answer cost), in µs per KB;
//! - stream: the same text through a [`StreamGuard`] in 32-byte pushes (a streamed answer's
//!   deltas), in µs per KB.
//!
//! Each for benign prose and for prose with a PII value every ~200 bytes (redacted).
//!
//! Then the whole-text checks: the injection heuristics on the same 16 KB texts (µs per
//! KB), and the schema check of a request declaring five tools: compiling their schemas
//! (once per request) and validating one call's arguments (once per tool call), in µs.

use std::hint::black_box;

use serde_json::json;
use tollgate_core::guard::injection::InjectionRules;
use tollgate_core::guard::schema::RequestSchemas;
use tollgate_core::guard::{CompiledGuardrails, GuardrailsConfig, HoldBack, Masking, StreamGuard};
use tollgate_core::model::{Request, ToolDefinition};

#[path = "support/timing.rs"]
mod timing;

use timing::{per_op, BATCHES, BATCH_TIME};

const TEXT_BYTES: usize = 16 * 1024;
const PUSH_BYTES: usize = 32;

const PROSE: &str = "The quarterly review covered onboarding, the release train for version 4.2.1 \
    on 2024-03-15, latency budgets of 250 ms at p99, and a backlog of 1,284 tickets. ";
const VALUES: [&str; 4] = [
    "Reach ann.lee@example.com today. ",
    "Call +44 20 7946 0958 now. ",
    "Card 4111 1111 1111 1111 on file. ",
    "IBAN DE89 3704 0044 0532 0130 00 paid. ",
];

fn rules() -> CompiledGuardrails {
    let words: Vec<String> = (0..200).map(|i| format!("blocked phrase {i}")).collect();
    let config: GuardrailsConfig = serde_json::from_value(serde_json::json!({ "guardrails": [
        { "name": "pii", "action": "redact", "rules": [
            { "type": "pii", "entities":
                ["email", "phone", "creditCard", "usSsn", "iban", "ipv4", "ipv6", "secret"] },
            { "type": "regex", "name": "employeeId", "pattern": "EMP-[0-9]{6}" },
            { "type": "regex", "name": "ticket", "pattern": "(?i)TCK-[0-9]{4,8}" }
        ]},
        { "name": "topics", "action": "flag", "rules": [
            { "type": "keywords", "name": "phrases", "words": words },
            { "type": "length", "maxTokens": 100000 }
        ]}
    ]}))
    .expect("valid config");
    CompiledGuardrails::try_from(&config).expect("compiles")
}

fn text(with_values: bool) -> String {
    let mut text = String::with_capacity(TEXT_BYTES + 256);
    let mut i = 0;
    while text.len() < TEXT_BYTES {
        text.push_str(PROSE);
        if with_values {
            text.push_str(VALUES[i % VALUES.len()]);
        }
        i += 1;
    }
    text
}

fn stream(guards: &CompiledGuardrails, text: &str) -> usize {
    let mut guard = StreamGuard::new(guards, HoldBack::Auto);
    let mut released = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let mut at = PUSH_BYTES.min(rest.len());
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (chunk, tail) = rest.split_at(at);
        released += guard.push(chunk).release.len();
        rest = tail;
    }
    released + guard.finish().release.len()
}

fn main() {
    let guards = rules();
    println!(
        "guardrail scan cost (median of {BATCHES} batches of >= {} ms; {} KB texts, stream pushes of {PUSH_BYTES} bytes, hold-back {} chars)",
        BATCH_TIME.as_millis(),
        TEXT_BYTES / 1024,
        guards.hold_back()
    );
    println!(
        "{:<22} {:>14} {:>15}",
        "text", "whole µs/KB", "stream µs/KB"
    );
    for (name, with_values) in [("benign prose", false), ("prose + PII every line", true)] {
        let text = text(with_values);
        let findings = guards.scan(&text).findings.len();
        assert_eq!(findings > 0, with_values, "{name}: {findings} findings");
        let kb = text.len() as f64 / 1024.0;
        let whole = per_op(|| black_box(guards.apply(black_box(&text), &mut Masking::new())));
        let streamed = per_op(|| black_box(stream(&guards, black_box(&text))));
        println!(
            "{name:<22} {:>14.2} {:>15.2}  ({findings} findings)",
            whole / kb,
            streamed / kb
        );
    }
    whole_text_checks();
}

fn whole_text_checks() {
    let rules = InjectionRules::new().expect("compiles");
    for (name, with_values) in [("benign prose", false), ("prose + PII every line", true)] {
        let text = text(with_values);
        let kb = text.len() as f64 / 1024.0;
        let cost = per_op(|| black_box(rules.score(black_box(&text), &[])));
        println!("injection heuristics, {name:<22} {:>8.2} µs/KB", cost / kb);
    }
    let request = tool_request();
    let compile = per_op(|| black_box(RequestSchemas::from_request(black_box(&request))));
    let schemas = RequestSchemas::from_request(&request);
    let arguments = r#"{"city":"Lisbon","days":5,"units":"metric","hourly":false}"#;
    assert_eq!(schemas.check_tool_call("tool_2", arguments), Ok(()));
    let validate = per_op(|| black_box(schemas.check_tool_call("tool_2", black_box(arguments))));
    println!("schema check: compile 5 tool schemas {compile:.1} µs per request, validate one call {validate:.2} µs");
}

/// A request declaring five tools with typical parameter schemas.
fn tool_request() -> Request {
    let parameters = json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1, "maxLength": 100},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
            "units": {"enum": ["metric", "imperial"]},
            "hourly": {"type": "boolean"}
        },
        "required": ["city"],
        "additionalProperties": false
    });
    Request {
        tools: (0..5)
            .map(|i| ToolDefinition {
                name: format!("tool_{i}"),
                description: Some("Looks up the weather forecast.".into()),
                parameters: parameters.clone(),
                strict: None,
                cache_control: None,
            })
            .collect(),
        ..Request::default()
    }
}
