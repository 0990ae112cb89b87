use serde_json::json;

use super::*;
use crate::guard::test_support::{compile, redact_everything, secrets, Rng, BENIGN, PII};
use crate::guard::Category;

/// What a whole stream produced.
struct Streamed {
    pieces: Vec<String>,
    findings: Vec<Finding>,
    denied: Option<Denial>,
}

impl Streamed {
    fn text(&self) -> String {
        self.pieces.concat()
    }
}

fn stream(guards: &CompiledGuardrails, hold_back: HoldBack, chunks: &[&str]) -> Streamed {
    let mut guard = StreamGuard::new(guards, hold_back);
    let mut out = Streamed {
        pieces: Vec::new(),
        findings: Vec::new(),
        denied: None,
    };
    let mut record = |step: StreamStep| {
        out.pieces.push(step.release);
        out.findings.extend(step.findings);
        out.denied = out.denied.take().or(step.denied);
    };
    for chunk in chunks {
        record(guard.push(chunk));
    }
    record(guard.finish());
    out
}

/// Byte offsets of every character boundary, ends included.
fn boundaries(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect()
}

/// Streams `text` split in two at every character boundary and one character at a time,
/// and checks the result against the one-shot `apply`, and that no piece contains a secret.
fn assert_stream_equals_one_shot(guards: &CompiledGuardrails, text: &str, sensitive: &[&str]) {
    let whole = guards.apply(text, &mut Masking::new());
    let check = |streamed: Streamed, how: &str| {
        assert_eq!(streamed.text(), whole.text, "{how}");
        assert_eq!(streamed.findings, whole.verdict.findings, "{how}");
        assert_eq!(streamed.denied, whole.denied, "{how}");
        for piece in &streamed.pieces {
            for value in sensitive {
                assert!(!piece.contains(value), "{how}: released {value:?}");
            }
        }
    };
    for at in boundaries(text) {
        let (a, b) = text.split_at(at);
        check(
            stream(guards, HoldBack::Auto, &[a, b]),
            &format!("split at {at}"),
        );
    }
    let chars: Vec<String> = text.chars().map(String::from).collect();
    let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
    check(stream(guards, HoldBack::Auto, &chars), "char by char");
}

#[test]
fn every_pii_value_split_anywhere_is_redacted_before_release() {
    let guards = redact_everything();
    for (_, value) in PII {
        let text = format!("Hi — {value}, ok?");
        assert_stream_equals_one_shot(&guards, &text, &[value]);
    }
}

#[test]
fn every_secret_split_anywhere_is_redacted_before_release() {
    let guards = redact_everything();
    for secret in secrets() {
        let text = format!("token: {secret} end");
        // No piece may carry even a recognisable chunk of it.
        let probe = &secret[secret.len() / 2..secret.len() / 2 + 8];
        assert_stream_equals_one_shot(&guards, &text, &[&secret, probe]);
    }
}

#[test]
fn mixed_unicode_and_full_width_text_streams_like_one_shot() {
    let guards = compile(json!({ "guardrails": [
        { "name": "pii", "action": "redact", "rules": [
            { "type": "pii", "entities": ["email", "phone", "creditCard", "iban"] },
            { "type": "regex", "name": "ticket", "pattern": "TCK-[0-9]{4}" }
        ]},
        { "name": "words", "action": "flag", "rules": [
            { "type": "keywords", "name": "codename", "words": ["Nightingale", "école"] },
            { "type": "length", "maxWords": 12 }
        ]}
    ]}));
    let text = "😀 Mail ＡＮＮ＠ＥＸＡＭＰＬＥ．ＣＯＭ or 📞 +44 20 7946 0958 re TCK-1234, \
                NIGHTINGALE à l'ÉCOLE; card ４１１１-１１１１-１１１１-１１１１ 🎉 \
                iban DE89 3704 0044 0532 0130 00.";
    assert_stream_equals_one_shot(
        &guards,
        text,
        &[
            "ＡＮＮ＠",
            "7946 0958",
            "TCK-1234",
            "１１１１-１１１１",
            "0532 0130",
        ],
    );
}

#[test]
fn random_chunking_of_a_long_text_matches_one_shot() {
    let guards = redact_everything();
    let mut text = String::new();
    for (i, line) in BENIGN.iter().enumerate() {
        text.push_str(line);
        text.push_str(PII[i % PII.len()].1);
        text.push_str(" 🙂 ");
    }
    let whole = guards.apply(&text, &mut Masking::new());
    let mut rng = Rng(7);
    for _ in 0..20 {
        let mut chunks = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut at = (1 + rng.below(40)).min(rest.len());
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            let (chunk, tail) = rest.split_at(at);
            chunks.push(chunk);
            rest = tail;
        }
        let streamed = stream(&guards, HoldBack::Auto, &chunks);
        assert_eq!(streamed.text(), whole.text);
        assert_eq!(streamed.findings, whole.verdict.findings);
    }
}

#[test]
fn deny_stops_the_stream_before_the_match_is_released() {
    let guards = compile(json!({ "guardrails": [
        { "name": "topics", "action": "deny", "rules": [
            { "type": "keywords", "name": "weapons", "words": ["nerve agent"] }
        ]}
    ]}));
    let text = format!(
        "{}Step one: obtain a nerve agent, then{}",
        "intro ".repeat(20),
        " more".repeat(20)
    );
    for at in boundaries(&text) {
        let (a, b) = text.split_at(at);
        let streamed = stream(&guards, HoldBack::Auto, &[a, b, " and after"]);
        let denial = streamed.denied.clone().expect("denied");
        assert_eq!(&*denial.guardrail, "topics");
        assert_eq!(denial.category, Category::Rule("weapons".into()));
        let released = streamed.text();
        assert!(text.starts_with(&released), "split at {at}");
        assert!(!released.contains("nerve"), "split at {at}: {released:?}");
    }
    // Denial is sticky: later pushes release nothing.
    let mut guard = StreamGuard::new(&guards, HoldBack::Auto);
    guard.push(&text);
    let later = guard.push(&"safe text ".repeat(50));
    assert!(later.release.is_empty() && later.denied.is_some());
    assert!(guard.finish().denied.is_some());
}

#[test]
fn a_length_limit_denies_on_the_push_that_exceeds_it() {
    let guards = compile(json!({ "guardrails": [
        { "name": "size", "action": "deny", "rules": [{ "type": "length", "maxTokens": 5 }] }
    ]}));
    assert_eq!(guards.hold_back(), 0);
    let mut guard = StreamGuard::new(&guards, HoldBack::Auto);
    assert_eq!(guard.push("twelve chars").release, "twelve chars");
    let step = guard.push("12345678 and more");
    assert_eq!(step.release, "");
    assert_eq!(step.findings[0].span, 20..21);
    assert_eq!(
        step.findings[0].category,
        Category::Length(crate::guard::LengthMetric::Tokens)
    );
    assert!(step.denied.is_some());
}

#[test]
fn benign_text_is_held_back_by_at_most_the_window() {
    let guards = redact_everything();
    let hold_back = guards.hold_back();
    let text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit; ".repeat(20);
    let mut guard = StreamGuard::new(&guards, HoldBack::Auto);
    let (mut pushed, mut released) = (0, 0);
    for c in text.chars() {
        pushed += 1;
        released += guard.push(&c.to_string()).release.chars().count();
        assert!(
            pushed - released <= hold_back,
            "{pushed} pushed, {released} released"
        );
    }
    assert_eq!(released + guard.finish().release.chars().count(), pushed);
}

#[test]
fn a_recognised_value_holds_the_stream_only_until_it_settles() {
    let guards = redact_everything();
    let mut guard = StreamGuard::new(&guards, HoldBack::Auto);
    let mut released = guard.push("write to ann@example.com").release;
    released += &guard.push(&" and so on".repeat(10)).release;
    // The address settled as soon as a space followed it: released, redacted, no finish.
    assert!(
        released.starts_with("write to [EMAIL_1] and so on"),
        "{released}"
    );
}

#[test]
fn a_configured_hold_back_can_only_widen_the_window() {
    let guards = redact_everything();
    assert_eq!(
        StreamGuard::new(&guards, HoldBack::Chars(5)).hold_back(),
        guards.hold_back()
    );
    assert_eq!(
        StreamGuard::new(&guards, HoldBack::Chars(500)).hold_back(),
        500
    );
}

#[test]
fn streams_share_placeholder_numbering_with_the_request() {
    let guards = redact_everything();
    let mut masking = Masking::new();
    guards.apply("from ann@example.com", &mut masking);
    let mut guard = StreamGuard::with_masking(&guards, HoldBack::Auto, masking);
    let mut out = guard.push("cc ann@example.com and bob@example.com").release;
    out += &guard.finish().release;
    assert_eq!(out, "cc [EMAIL_1] and [EMAIL_2]");
}

#[test]
fn a_mebibyte_streams_like_one_shot() {
    let guards = redact_everything();
    let mut text = String::new();
    while text.len() < 1 << 20 {
        text.push_str(
            "Reach ann@example.com or +1 415 555 0132 — ２００ 😀 and more prose here.\n",
        );
    }
    let mut chunks = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let mut at = 64.min(rest.len());
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (chunk, tail) = rest.split_at(at);
        chunks.push(chunk);
        rest = tail;
    }
    let streamed = stream(&guards, HoldBack::Auto, &chunks);
    assert_eq!(
        streamed.text(),
        guards.apply(&text, &mut Masking::new()).text
    );
    assert!(!streamed
        .pieces
        .iter()
        .any(|p| p.contains("ann@") || p.contains("555 0132")));
}

#[test]
fn random_adversarial_text_streams_like_one_shot() {
    let guards = compile(json!({ "guardrails": [
        { "name": "pii", "action": "redact", "rules": [
            { "type": "pii", "entities":
                ["email", "phone", "creditCard", "usSsn", "iban", "ipv4", "ipv6", "secret"] },
            { "type": "regex", "name": "ticket", "pattern": "(?i)\\bTCK-[0-9]{2,4}\\b" }
        ]},
        { "name": "words", "action": "flag", "rules": [
            { "type": "keywords", "name": "codename", "words": ["ann", "4111 1111", "x x"] }
        ]}
    ]}));
    let pieces = [
        "4111",
        " ",
        "-",
        "1111",
        "@",
        "ann",
        ".",
        "com",
        "x",
        "+1",
        "(415)",
        "555",
        "0132",
        ":",
        "::",
        "fe80",
        "eyJ",
        "abc123XYZ",
        "_",
        "sk-",
        "AKIA",
        "DE89",
        "3704",
        "０",
        "１",
        "＠",
        "😀",
        "é",
        "\n",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "MIIB",
        "192.168.",
        "1",
        "0",
        "[",
        "tck-",
        "12",
        "Ｘ",
    ];
    let mut rng = Rng(0xad5e);
    for round in 0..300 {
        let text: String = (0..rng.below(80))
            .map(|_| pieces[rng.below(pieces.len())])
            .collect();
        let whole = guards.apply(&text, &mut Masking::new());
        let mut chunks = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut at = rng.below(12).min(rest.len());
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            let (chunk, tail) = rest.split_at(at);
            chunks.push(chunk);
            rest = tail;
        }
        let streamed = stream(&guards, HoldBack::Auto, &chunks);
        assert_eq!(
            streamed.text(),
            whole.text,
            "round {round}: {text:?} as {chunks:?}"
        );
        assert_eq!(
            streamed.findings, whole.verdict.findings,
            "round {round}: {text:?}"
        );
    }
}

#[test]
fn overlapping_look_alikes_of_different_detectors_never_stall_the_stream() {
    // Card and phone candidates (all rejected) overlap one another all along this text;
    // holding every overlapping chain back would buffer it whole.
    let guards = redact_everything();
    let text = "1234 5678 9012 3456 7890 ".repeat(400);
    assert_eq!(guards.apply(&text, &mut Masking::new()).text, text);
    let bound = guards.hold_back() + 2 * 64 + 16;
    let mut guard = StreamGuard::new(&guards, HoldBack::Auto);
    let (mut pushed, mut released) = (0, String::new());
    for chunk in text.as_bytes().chunks(16) {
        let chunk = std::str::from_utf8(chunk).expect("ASCII");
        pushed += chunk.len();
        released += &guard.push(chunk).release;
        assert!(
            pushed - released.len() <= bound,
            "{} held after {pushed}",
            pushed - released.len()
        );
    }
    released += &guard.finish().release;
    assert_eq!(released, text);
}
