use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::formats::WireFormat;
use crate::guard::{HoldBack, Masking};
use crate::model::{
    BlockDelta, BlockStart, ContentPart, Message, Request, Response, Role, StopReason, StreamEvent,
    ToolResultPart,
};
use crate::translate::ResponseTranslator;

fn policy(value: serde_json::Value) -> CompiledPolicy {
    CompiledPolicy::new(serde_json::from_value(value).expect("valid policy")).expect("compiles")
}

/// Redacts e-mails reversibly on input and output, denies a keyword on output, flags a
/// keyword for team `red` only, and calls a webhook for alias `gpt`.
fn sample() -> CompiledPolicy {
    policy(json!({ "guardrails": [
        { "stages": ["input", "output"], "check": { "rules": {
            "name": "pii", "action": "redact", "reversible": true,
            "rules": [{ "type": "pii", "entities": ["email"] }] } } },
        { "stages": ["output"], "check": { "rules": {
            "name": "leaks", "action": "deny",
            "rules": [{ "type": "keywords", "name": "codename", "words": ["project nightingale"] }] } } },
        { "stages": ["input"], "scope": { "teams": ["red"] }, "check": { "rules": {
            "name": "watch", "action": "flag",
            "rules": [{ "type": "keywords", "name": "money", "words": ["budget"] }] } } },
        { "stages": ["input"], "scope": { "models": ["gpt"] }, "check": { "webhook": {
            "name": "hook", "cluster": "guardrail.hook", "authority": "h", "path": "/c",
            "timeoutMs": 100, "failure": "open" } } }
    ]}))
}

fn who<'a>(team: Option<&'a str>, alias: Option<&'a str>) -> RequestScope<'a> {
    RequestScope {
        key_id: Some("k"),
        team,
        alias,
    }
}

// === policy ===

#[test]
fn selection_follows_scopes_and_compiled_sets_are_shared() {
    let policy = sample();
    let plain = policy.select(who(None, Some("claude")));
    assert!(plain.input_callouts.is_empty());
    let red = policy.select(who(Some("red"), Some("gpt")));
    assert_eq!(red.input_callouts.len(), 1);
    let input = red.input.expect("input guards");
    assert_eq!(input.scan("the budget").findings.len(), 1);
    assert!(plain
        .input
        .as_ref()
        .expect("pii")
        .scan("the budget")
        .is_clean());
    // Same combination, same compiled set: never compiled per request.
    let again = policy.select(who(Some("red"), Some("claude")));
    assert!(Arc::ptr_eq(&input, again.input.as_ref().expect("input")));
    assert!(Arc::ptr_eq(
        plain.output.as_ref().expect("output"),
        again.output.as_ref().expect("output")
    ));
}

#[test]
fn invalid_policies_are_refused_when_configured() {
    let rules = |name: &str| {
        json!({ "rules": { "name": name, "action": "flag",
        "rules": [{ "type": "length", "maxChars": 5 }] } })
    };
    for (bad, expected) in [
        (
            json!({ "guardrails": [{ "stages": ["input"], "check": rules("a") },
                                { "stages": ["output"], "check": rules("a") }] }),
            "defined twice",
        ),
        (
            json!({ "guardrails": [{ "stages": [], "check": rules("a") }] }),
            "names no stage",
        ),
        (
            json!({ "guardrails": [{ "stages": ["input"], "check": { "rules": { "name": "r",
            "action": "deny", "rules": [{ "type": "regex", "name": "x", "pattern": "a+" }] } } }] }),
            "no maximum match length",
        ),
    ] {
        let policy: GuardrailPolicy = serde_json::from_value(bad).expect("parses");
        let err = CompiledPolicy::new(policy)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(expected), "{err}");
    }
}

// === whole messages ===

/// The request's masking after the input stage guarded one user message.
fn masked_prompt(selection: &Selection, text: &str) -> Masking {
    let mut masking = Masking::new();
    let mut request = Request {
        messages: vec![user(text)],
        ..Request::default()
    };
    guard_request(
        &mut request,
        selection.input.as_ref().expect("input guards"),
        &mut masking,
    );
    masking
}

fn user(text: &str) -> Message {
    Message {
        role: Role::User,
        content: vec![ContentPart::text(text)],
    }
}

#[test]
fn every_request_text_is_guarded_including_tool_calls_and_results() {
    let policy = sample();
    let guards = policy.select(who(None, None)).input.expect("input");
    let mut request = Request {
        messages: vec![
            user("from ann@example.com"),
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall {
                    id: "c".into(),
                    name: "send".into(),
                    arguments: r#"{"to":"bob@example.com"}"#.into(),
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "c".into(),
                    content: vec![ToolResultPart::Text("sent to ANN@EXAMPLE.COM".into())],
                    is_error: false,
                    cache_control: None,
                }],
            },
        ],
        ..Request::default()
    };
    let mut masking = Masking::new();
    let inspection = guard_request(&mut request, &guards, &mut masking);
    assert!(inspection.changed && inspection.denied.is_none());
    assert_eq!(inspection.findings.len(), 3);
    assert_eq!(
        request_texts(&request),
        [
            "from [EMAIL_1]",
            r#"{"to":"[EMAIL_2]"}"#,
            "sent to [EMAIL_1]"
        ]
    );
}

#[test]
fn a_whole_answer_is_denied_redacted_and_unmasked() {
    let policy = sample();
    let selection = policy.select(who(None, None));
    let masking = masked_prompt(&selection, "write to ann@example.com");
    let answer = |parts: Vec<ContentPart>| Response {
        content: parts,
        ..Response::default()
    };
    let mut guard = OutputGuard::new(selection.output.clone(), HoldBack::Auto, masking.clone());
    let mut ok = answer(vec![
        ContentPart::text("Wrote [EMAIL_1]; cc carl@example.com"),
        ContentPart::ToolCall {
            id: "t".into(),
            name: "send".into(),
            arguments: r#"{"to":"[EMAIL_1]"}"#.into(),
        },
    ]);
    let inspection = guard.whole(&mut ok);
    assert!(inspection.changed && inspection.denied.is_none());
    assert_eq!(
        ok.content[0],
        ContentPart::text("Wrote ann@example.com; cc [EMAIL_2]")
    );
    assert!(
        matches!(&ok.content[1], ContentPart::ToolCall { arguments, .. } if arguments == r#"{"to":"ann@example.com"}"#)
    );
    let mut guard = OutputGuard::new(selection.output, HoldBack::Auto, masking);
    let mut leak = answer(vec![ContentPart::text("About Project NIGHTINGALE...")]);
    let denied = guard.whole(&mut leak).denied.expect("denied");
    assert_eq!(
        denied_error(Stage::Output, &denied).message,
        "The answer was withheld by guardrail `leaks` (category: codename)."
    );
}

// === streams ===

fn text_stream(pieces: &[&str]) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::BlockStart {
        index: 0,
        block: BlockStart::Text,
    }];
    events.extend(pieces.iter().map(|p| StreamEvent::BlockDelta {
        index: 0,
        delta: BlockDelta::Text((*p).to_owned()),
    }));
    events.extend([
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::Finish {
            reason: StopReason::EndTurn,
            stop_sequence: None,
        },
        StreamEvent::End,
    ]);
    events
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                delta: BlockDelta::Text(t),
                ..
            } => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// Feeds the events one at a time, as a provider stream would.
fn run(guard: &mut OutputGuard, events: Vec<StreamEvent>) -> Vec<Vec<StreamEvent>> {
    events.into_iter().map(|e| guard.process(vec![e])).collect()
}

#[test]
fn a_stream_split_at_every_byte_boundary_is_redacted_unmasked_and_denied_in_time() {
    let policy = sample();
    let selection = policy.select(who(None, None));
    let masking = masked_prompt(&selection, "write to ann@example.com");
    let answer = "Dear [EMAIL_1], cc Carl@Example.com ✓ — ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ bye";
    let expected = "Dear ann@example.com, cc [EMAIL_2] ✓ — [EMAIL_3] bye";
    let leak = "intro text, then Project\u{a0}x and project nightingale details";
    for at in (0..=answer.len()).filter(|&i| answer.is_char_boundary(i)) {
        let mut guard = OutputGuard::new(selection.output.clone(), HoldBack::Auto, masking.clone());
        let steps = run(&mut guard, text_stream(&[&answer[..at], &answer[at..]]));
        let all: Vec<StreamEvent> = steps.concat();
        assert_eq!(text_of(&all), expected, "split at {at}");
        assert!(matches!(all.last(), Some(StreamEvent::End)));
    }
    for at in (0..=leak.len()).filter(|&i| leak.is_char_boundary(i)) {
        let mut guard = OutputGuard::new(selection.output.clone(), HoldBack::Auto, masking.clone());
        let all = run(&mut guard, text_stream(&[&leak[..at], &leak[at..]])).concat();
        assert!(!text_of(&all).contains("nightingale"), "split at {at}");
        assert!(
            matches!(all.last(), Some(StreamEvent::Error(e)) if e.code.as_deref() == Some("guardrail_denied")),
            "split at {at}: {:?}",
            all.last()
        );
        assert!(!all
            .iter()
            .any(|e| matches!(e, StreamEvent::Finish { .. } | StreamEvent::End)));
    }
}

#[test]
fn tool_call_arguments_are_guarded_and_unmasked_as_json() {
    let policy = sample();
    let selection = policy.select(who(None, None));
    let masking = masked_prompt(&selection, "a\"b@example.com");
    let mut guard = OutputGuard::new(selection.output, HoldBack::Auto, masking);
    let args = r#"{"to":"[EMAIL_1]","cc":"x@example.org"}"#;
    let mut events = vec![StreamEvent::BlockStart {
        index: 1,
        block: BlockStart::ToolCall {
            id: "t".into(),
            name: "send".into(),
        },
    }];
    events.extend(args.as_bytes().chunks(3).map(|c| StreamEvent::BlockDelta {
        index: 1,
        delta: BlockDelta::ToolArguments(String::from_utf8_lossy(c).into_owned()),
    }));
    events.push(StreamEvent::BlockStop { index: 1 });
    let out: String = run(&mut guard, events)
        .concat()
        .into_iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta {
                delta: BlockDelta::ToolArguments(a),
                ..
            } => Some(a),
            _ => None,
        })
        .collect();
    // Unmasked inside the JSON string; a new address in the answer is redacted.
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
    assert_eq!(parsed["cc"], "[EMAIL_2]");
    assert_eq!(parsed["to"], "b@example.com");
}

#[test]
fn a_guarded_same_format_stream_is_re_encoded_and_denied_without_done() {
    let policy = sample();
    let selection = policy.select(who(None, None));
    let guard = OutputGuard::new(selection.output, HoldBack::Auto, Masking::new());
    let mut translator =
        ResponseTranslator::new(WireFormat::OpenAi, WireFormat::OpenAi, true, false, 200)
            .with_guard(guard);
    let chunk = |text: &str| {
        format!(
            "data: {}\n\n",
            json!({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
                "choices":[{"index":0,"delta":{"content":text},"finish_reason":null}]})
        )
    };
    let mut out = Vec::new();
    for piece in ["Hello", " project", " nightingale", " more"] {
        out.extend(translator.feed(chunk(piece).as_bytes(), false));
    }
    out.extend(translator.feed(b"data: [DONE]\n\n", true));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        !text.contains("nightingale") && !text.contains("[DONE]"),
        "{text}"
    );
    assert!(text.contains("guardrail_denied"), "{text}");
    assert_eq!(translator.outcome(), crate::translate::Outcome::Failed);
}

// === webhook and report ===

#[test]
fn webhook_answers_are_read_strictly() {
    assert_eq!(
        webhook_verdict(Some(200), br#"{"action":"allow"}"#),
        CalloutVerdict::Allow
    );
    assert_eq!(
        webhook_verdict(Some(200), br#"{"action":"deny","category":"self_harm"}"#),
        CalloutVerdict::Deny {
            category: "self_harm".into()
        }
    );
    // A category is an identifier, never free text that would reach the client.
    assert_eq!(
        webhook_verdict(
            Some(200),
            br#"{"action":"deny","category":"you said: a secret"}"#
        ),
        CalloutVerdict::Deny {
            category: "policy".into()
        }
    );
    for (status, body) in [
        (Some(500), &br#"{"action":"allow"}"#[..]),
        (None, b""),
        (Some(200), b"allow"),
        (Some(200), br#"{"action":"maybe"}"#),
    ] {
        assert_eq!(webhook_verdict(status, body), CalloutVerdict::Failed);
    }
}

#[test]
fn the_report_aggregates_verdicts_and_never_carries_text() {
    let policy = sample();
    let guards = policy.select(who(Some("red"), None)).input.expect("in");
    let mut report = Report::default();
    let text = "budget for ann@example.com and bob@example.com";
    report.findings(Stage::Input, &guards.scan(text).findings);
    report.latency(Stage::Input, 42);
    report.webhook_failed("hook");
    assert_eq!(report.flag_header().as_deref(), Some("watch/money"));
    let log: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(
        log,
        json!({
            "verdicts": [
                {"stage": "input", "guardrail": "pii", "category": "email", "action": "redact", "count": 2},
                {"stage": "input", "guardrail": "watch", "category": "money", "action": "flag", "count": 1}
            ],
            "latency_us": {"input": 42},
            "webhook_failures": ["hook"]
        })
    );
}
