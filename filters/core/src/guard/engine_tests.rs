use std::borrow::Cow;

use serde_json::json;

use super::*;
use crate::guard::test_support::{compile, redact_everything, secrets, BENIGN, LOOK_ALIKES, PII};
use crate::guard::{Denial, GuardrailsConfig};

/// `(category, matched text)` per finding; tests may look at the text, the engine never does.
fn found<'t>(guards: &CompiledGuardrails, text: &'t str) -> Vec<(Category, &'t str)> {
    guards
        .scan(text)
        .findings
        .into_iter()
        .map(|f| (f.category, &text[f.span]))
        .collect()
}

fn compile_error(config: serde_json::Value) -> String {
    let config: GuardrailsConfig = serde_json::from_value(config).expect("parses");
    match CompiledGuardrails::try_from(&config) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

// === configuration ===

#[test]
fn config_is_camel_case_and_strict() {
    let config: GuardrailsConfig = serde_json::from_value(json!({ "guardrails": [{
        "name": "g", "action": "flag",
        "rules": [
            { "type": "keywords", "name": "words", "words": ["x"], "wholeWord": false },
            { "type": "length", "maxTokens": 10 },
            { "type": "pii", "entities": ["creditCard", "usSsn"] }
        ]
    }]}))
    .expect("parses");
    assert_eq!(
        config.guardrails[0].rules[0],
        RuleConfig::Keywords {
            name: "words".into(),
            words: vec!["x".into()],
            whole_word: false
        }
    );
    for bad in [
        json!({ "guardrails": [], "extra": 1 }),
        json!({ "guardrails": [{ "name": "g", "action": "flag", "rules": [], "mode": "x" }] }),
        json!({ "guardrails": [{ "name": "g", "action": "flag",
            "rules": [{ "type": "length", "maxChars": 1, "max_words": 2 }] }] }),
        json!({ "guardrails": [{ "name": "g", "action": "block", "rules": [] }] }),
        json!({ "guardrails": [{ "name": "g", "action": "flag",
            "rules": [{ "type": "pii", "entities": ["passport"] }] }] }),
    ] {
        assert!(
            serde_json::from_value::<GuardrailsConfig>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn compile_errors_name_the_guardrail_and_rule() {
    let one = |action: &str, rule: serde_json::Value| {
        compile_error(
            json!({ "guardrails": [{ "name": "custom", "action": action, "rules": [rule] }] }),
        )
    };
    assert_eq!(
        one(
            "deny",
            json!({ "type": "regex", "name": "ticket", "pattern": "T-[0-9]+" })
        ),
        "guardrail `custom`, rule `ticket`: the pattern has no maximum match length; bound every \
         repetition (`{1,64}` instead of `+`)"
    );
    assert!(one(
        "deny",
        json!({ "type": "regex", "name": "t", "pattern": "x|" })
    )
    .ends_with("can match empty text"));
    assert!(one(
        "deny",
        json!({ "type": "regex", "name": "t", "pattern": "(" })
    )
    .contains("invalid pattern"));
    assert!(one(
        "deny",
        json!({ "type": "regex", "name": "9t", "pattern": "x" })
    )
    .contains("rule `9t`: the name"));
    assert!(one("redact", json!({ "type": "length", "maxChars": 5 }))
        .starts_with("guardrail `custom`, rule rules[0] (length): a length limit cannot redact"));
    assert!(one("flag", json!({ "type": "length" })).ends_with("rules[0] (length): sets no limit"));
    assert!(one("flag", json!({ "type": "pii", "entities": [] }))
        .ends_with("rules[0] (pii): lists no entities"));
    assert!(one(
        "flag",
        json!({ "type": "keywords", "name": "k", "words": ["a", " "] })
    )
    .ends_with("word #1 is blank"));
    let secret_words = compile_error(
        json!({ "guardrails": [{ "name": "g", "action": "deny", "rules": [
            { "type": "keywords", "name": "k", "words": ["project-nightingale"] },
            { "type": "keywords", "name": "k", "words": ["project-nightingale"] }
        ]}]}),
    );
    assert_eq!(
        secret_words,
        "guardrail `g`, rule `k`: another rule of this guardrail has the same name"
    );
    let twice =
        json!({ "name": "g", "action": "flag", "rules": [{ "type": "length", "maxChars": 1 }] });
    assert_eq!(
        compile_error(json!({ "guardrails": [twice, twice] })),
        "guardrail `g` is defined twice"
    );
    assert_eq!(
        compile_error(
            json!({ "guardrails": [{ "name": "g", "action": "flag", "reversible": true,
            "rules": [{ "type": "length", "maxChars": 1 }] }] })
        ),
        "guardrail `g`: `reversible` only applies to the redact action"
    );
    assert_eq!(
        compile_error(json!({ "guardrails": [{ "name": " ", "action": "flag", "rules": [] }] })),
        "guardrails[0] has an empty name"
    );
}

#[test]
fn hold_back_is_the_longest_lead_plus_look_ahead() {
    assert_eq!(redact_everything().hold_back(), 68);
    let custom = compile(
        json!({ "guardrails": [{ "name": "g", "action": "flag", "rules": [
            { "type": "regex", "name": "emp", "pattern": "EMP-[0-9]{6}" },
            { "type": "keywords", "name": "k", "words": ["a much longer keyword phrase"] },
            { "type": "length", "maxChars": 5 }
        ]}]}),
    );
    assert_eq!(custom.hold_back(), 28 + 2);
    let lengths_only = compile(json!({ "guardrails": [{ "name": "g", "action": "deny",
        "rules": [{ "type": "length", "maxChars": 5 }] }] }));
    assert_eq!(lengths_only.hold_back(), 0);
}

// === detection ===

#[test]
fn finds_each_pii_value_exactly_amid_text() {
    let guards = redact_everything();
    for (category, value) in PII {
        let text = format!("Contact: {value}, thanks.");
        assert_eq!(
            found(&guards, &text),
            [(category.clone(), *value)],
            "{text}"
        );
    }
}

#[test]
fn finds_each_secret_exactly_amid_text() {
    let guards = redact_everything();
    for secret in secrets() {
        for text in [format!("key={secret}\nnext"), format!("Use \"{secret}\".")] {
            assert_eq!(
                found(&guards, &text),
                [(Category::Secret, secret.as_str())],
                "{text}"
            );
        }
        let glued = format!("x{secret}");
        assert!(
            found(&guards, &glued)
                .iter()
                .all(|(_, m)| *m != glued && *m != secret.as_str())
                || secret.starts_with("-----"),
            "{glued}"
        );
    }
}

#[test]
fn leaves_look_alikes_and_ordinary_numbers_alone() {
    let guards = redact_everything();
    for text in LOOK_ALIKES.iter().chain(BENIGN) {
        assert_eq!(found(&guards, text), [], "{text}");
    }
}

#[test]
fn full_width_digits_match_and_the_original_span_is_redacted() {
    let guards = redact_everything();
    let text = "カード ４１１１ １１１１ １１１１ １１１１ と ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ";
    assert_eq!(
        found(&guards, text),
        [
            (Category::CreditCard, "４１１１ １１１１ １１１１ １１１１"),
            (Category::Email, "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ")
        ]
    );
    let out = guards.apply(text, &mut Masking::new());
    assert_eq!(out.text, "カード [CREDIT_CARD_1] と [EMAIL_1]");
}

#[test]
fn emoji_and_multibyte_neighbours_do_not_hide_or_split_values() {
    let guards = redact_everything();
    let text = "📧ann@example.com📞+1 415 555 0132👍 ÉCOLE 4111-1111-1111-1111€";
    let out = guards.apply(text, &mut Masking::new());
    assert_eq!(out.text, "📧[EMAIL_1]📞[PHONE_1]👍 ÉCOLE [CREDIT_CARD_1]€");
}

#[test]
fn keywords_match_case_insensitively_as_whole_words() {
    let guards = compile(
        json!({ "guardrails": [{ "name": "topics", "action": "deny", "rules": [
            { "type": "keywords", "name": "weapons", "words": ["Nerve Agent", "bioweapon"] }
        ]}]}),
    );
    assert_eq!(
        found(&guards, "how to make a NERVE AGENT"),
        [(Category::Rule("weapons".into()), "NERVE AGENT")]
    );
    assert_eq!(
        found(&guards, "ｂｉｏｗｅａｐｏｎ"),
        [(Category::Rule("weapons".into()), "ｂｉｏｗｅａｐｏｎ")]
    );
    assert_eq!(found(&guards, "bioweapons nerve agents"), []);
    let out = guards.apply("a Bioweapon?", &mut Masking::new());
    assert_eq!(
        out.denied,
        Some(Denial {
            guardrail: "topics".into(),
            category: Category::Rule("weapons".into()),
            detail: None,
        })
    );
}

// === actions ===

#[test]
fn redaction_numbers_per_type_and_reuses_placeholders_within_a_request() {
    let guards = redact_everything();
    let mut masking = Masking::new();
    let first = guards.apply(
        "ann@x.io, bob@x.io, 4111 1111 1111 1111, ANN@X.IO",
        &mut masking,
    );
    assert_eq!(
        first.text,
        "[EMAIL_1], [EMAIL_2], [CREDIT_CARD_1], [EMAIL_1]"
    );
    let second = guards.apply("again 4111-1111-1111-1111 and cy@x.io", &mut masking);
    assert_eq!(second.text, "again [CREDIT_CARD_1] and [EMAIL_3]");
    assert_eq!(second.denied, None);
}

#[test]
fn custom_entities_get_their_own_placeholder_type() {
    let guards = compile(
        json!({ "guardrails": [{ "name": "hr", "action": "redact", "rules": [
            { "type": "regex", "name": "employeeId", "pattern": "(?i)\\bEMP-[0-9]{6}\\b" }
        ]}]}),
    );
    let out = guards.apply(
        "emp-123456 and EMP-654321 and XEMP-111111",
        &mut Masking::new(),
    );
    assert_eq!(
        out.text,
        "[EMPLOYEE_ID_1] and [EMPLOYEE_ID_2] and XEMP-111111"
    );
}

#[test]
fn overlaps_are_all_reported_and_the_earliest_longest_is_redacted() {
    let guards = compile(json!({ "guardrails": [
        { "name": "audit", "action": "flag", "rules": [
            { "type": "regex", "name": "domain", "pattern": "example\\.com" }
        ]},
        { "name": "pii", "action": "redact", "rules": [
            { "type": "regex", "name": "quad", "pattern": "[0-9]{4} [0-9]{4}" },
            { "type": "pii", "entities": ["creditCard", "email"] }
        ]}
    ]}));
    let text = "card 4111 1111 1111 1111 mail ann@example.com";
    let categories: Vec<(Category, &str)> = found(&guards, text);
    assert_eq!(
        categories,
        [
            (Category::CreditCard, "4111 1111 1111 1111"),
            (Category::Rule("quad".into()), "4111 1111"),
            (Category::Rule("quad".into()), "1111 1111"),
            (Category::Email, "ann@example.com"),
            (Category::Rule("domain".into()), "example.com"),
        ]
    );
    assert_eq!(
        guards.apply(text, &mut Masking::new()).text,
        "card [CREDIT_CARD_1] mail [EMAIL_1]"
    );
}

#[test]
fn flag_leaves_the_text_untouched_and_findings_carry_no_text() {
    let guards = compile(
        json!({ "guardrails": [{ "name": "watch", "action": "flag", "rules": [
            { "type": "pii", "entities": ["email"] }, { "type": "length", "maxWords": 3 }
        ]}]}),
    );
    let text = "write to ann@example.com soon please";
    let out = guards.apply(text, &mut Masking::new());
    assert!(matches!(out.text, Cow::Borrowed(_)));
    assert_eq!(out.denied, None);
    let categories: Vec<Category> = out
        .verdict
        .findings
        .iter()
        .map(|f| f.category.clone())
        .collect();
    assert_eq!(
        categories,
        [Category::Email, Category::Length(LengthMetric::Words)]
    );
    let debug = format!("{:?}", out.verdict);
    assert!(
        !debug.contains("ann") && !debug.contains("example"),
        "{debug}"
    );
}

#[test]
fn reversible_redaction_unmasks_the_answer() {
    let guards = compile(json!({ "guardrails": [
        { "name": "people", "action": "redact", "reversible": true, "rules": [{ "type": "pii", "entities": ["email"] }] },
        { "name": "keys", "action": "redact", "rules": [{ "type": "pii", "entities": ["secret"] }] }
    ]}));
    let key = &secrets()[0];
    let mut masking = Masking::new();
    let text = format!("mail ann@example.com with {key}");
    let prompt = guards.apply(&text, &mut masking);
    assert_eq!(prompt.text, "mail [EMAIL_1] with [SECRET_1]");
    assert_eq!(
        masking.unmask("Sent to [EMAIL_1] using [SECRET_1]."),
        "Sent to ann@example.com using [SECRET_1]."
    );
}

// === scale ===

#[test]
fn a_mebibyte_is_scanned_whole() {
    let guards = redact_everything();
    let mut text = String::new();
    let mut values = 0;
    while text.len() < 1 << 20 {
        for line in BENIGN {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("Reach ann@example.com or 4111 1111 1111 1111, ✓ ２００ 😀\n");
        values += 2;
    }
    let out = guards.apply(&text, &mut Masking::new());
    assert_eq!(out.verdict.findings.len(), values);
    assert!(!out.text.contains("ann@") && !out.text.contains("4111 1111"));
}
