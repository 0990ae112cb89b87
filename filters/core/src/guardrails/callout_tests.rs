use serde_json::json;

use super::*;
use crate::guard::{HoldBack, Masking};
use crate::guardrails::{CompiledPolicy, OutputGuard};
use crate::model::{BlockDelta, BlockStart, ContentPart, Response, StreamEvent};

fn moderation(action: &str, categories: serde_json::Value) -> Callout {
    Callout::Moderation(
        serde_json::from_value(json!({
            "endpoint": { "name": "mod", "cluster": "guardrail.mod", "authority": "m",
                "path": "/v1/moderations", "timeoutMs": 500, "failure": "closed" },
            "model": "omni-moderation-latest",
            "action": action,
            "categories": categories,
        }))
        .expect("parses"),
    )
}

/// One input's result: the categories the endpoint flags, and scores set apart from the
/// baseline.
type ModerationResult<'a> = (&'a [&'a str], &'a [(&'a str, f64)]);

/// An OpenAI moderation answer with one result per input.
fn answer(results: &[ModerationResult]) -> Vec<u8> {
    let results: Vec<_> = results
        .iter()
        .map(|(flagged, scores)| {
            let mut categories =
                json!({"hate": false, "violence": false, "self-harm/intent": false});
            let mut category_scores =
                json!({"hate": 0.001, "violence": 0.001, "self-harm/intent": 0.001});
            for name in *flagged {
                categories[*name] = json!(true);
            }
            for (name, score) in *scores {
                category_scores[*name] = json!(score);
            }
            json!({"flagged": !flagged.is_empty(), "categories": categories,
                   "category_scores": category_scores, "category_applied_input_types": {}})
        })
        .collect();
    json!({"id": "modr-1", "model": "omni-moderation-latest", "results": results})
        .to_string()
        .into_bytes()
}

#[test]
fn the_moderation_request_is_openais_shape() {
    let body =
        moderation("deny", json!({})).body(Stage::Input, RequestScope::default(), &["a", "b"]);
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        body,
        json!({"model": "omni-moderation-latest", "input": ["a", "b"]})
    );
}

#[test]
fn moderation_counts_flagged_categories_or_scores_over_thresholds() {
    let any = moderation("deny", json!({}));
    assert_eq!(
        any.verdict(Some(200), &answer(&[(&[], &[])])),
        CalloutVerdict::Allow
    );
    assert_eq!(
        any.verdict(Some(200), &answer(&[(&[], &[]), (&["violence"], &[])])),
        CalloutVerdict::Deny {
            category: "violence".into()
        },
        "any result of the inputs counts"
    );
    // Listed categories only; a threshold counts the score, not the endpoint's flag.
    let some = moderation("flag", json!({"self-harm/intent": null, "hate": 0.3}));
    assert_eq!(
        some.verdict(Some(200), &answer(&[(&["violence"], &[])])),
        CalloutVerdict::Allow
    );
    assert_eq!(
        some.verdict(
            Some(200),
            &answer(&[(&["self-harm/intent"], &[("hate", 0.35)])])
        ),
        CalloutVerdict::Flag {
            categories: vec!["hate".into(), "self-harm/intent".into()]
        }
    );
    assert_eq!(
        some.verdict(Some(200), &answer(&[(&["hate"], &[("hate", 0.2)])])),
        CalloutVerdict::Allow
    );
}

#[test]
fn moderation_failures_and_odd_category_names() {
    let any = moderation("deny", json!({}));
    for (status, body) in [
        (Some(500), answer(&[(&["hate"], &[])])),
        (Some(200), b"{}".to_vec()),
        (None, vec![]),
    ] {
        assert_eq!(any.verdict(status, &body), CalloutVerdict::Failed);
    }
    let odd = json!({"results": [{"flagged": true, "categories": {"you said: secret": true}}]});
    assert_eq!(
        any.verdict(Some(200), odd.to_string().as_bytes()),
        CalloutVerdict::Allow
    );
}

#[test]
fn webhooks_may_flag() {
    assert_eq!(
        webhook_verdict(Some(200), br#"{"action":"flag","category":"tone"}"#),
        CalloutVerdict::Flag {
            categories: vec!["tone".into()]
        }
    );
}

#[test]
fn webhook_bodies_name_their_stage() {
    let hook = WebhookCheck {
        name: "hook".into(),
        cluster: "guardrail.hook".into(),
        authority: "h".into(),
        path: "/".into(),
        timeout_ms: 1,
        failure: WebhookFailure::Open,
    };
    let body = Callout::Webhook(hook).body(Stage::Output, RequestScope::default(), &["answer"]);
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        (body["stage"].as_str(), &body["texts"]),
        (Some("output"), &json!(["answer"]))
    );
}

#[test]
fn callouts_are_selected_per_stage() {
    let policy: super::super::GuardrailPolicy = serde_json::from_value(json!({ "guardrails": [
        { "stages": ["input", "output"], "check": { "webhook": {
            "name": "hook", "cluster": "c", "authority": "a", "path": "/", "timeoutMs": 1,
            "failure": "closed" } } },
        { "stages": ["output"], "scope": { "models": ["gpt"] }, "check": { "moderation": {
            "endpoint": { "name": "mod", "cluster": "c", "authority": "a", "path": "/",
                "timeoutMs": 1, "failure": "open" },
            "model": "m", "action": "flag" } } }
    ]}))
    .expect("parses");
    let policy = CompiledPolicy::new(policy).expect("compiles");
    let names = |callouts: &[Callout]| {
        callouts
            .iter()
            .map(|c| c.name().to_owned())
            .collect::<Vec<_>>()
    };
    let gpt = policy.select(RequestScope {
        alias: Some("gpt"),
        ..RequestScope::default()
    });
    assert_eq!(names(&gpt.input_callouts), ["hook"]);
    assert_eq!(names(&gpt.output_callouts), ["hook", "mod"]);
    let other = policy.select(RequestScope::default());
    assert_eq!(names(&other.output_callouts), ["hook"]);
}

#[test]
fn the_output_guard_collects_guarded_texts_before_unmasking() {
    let mut masking = Masking::new();
    let rules: crate::guard::GuardrailsConfig = serde_json::from_value(json!({"guardrails": [
        {"name": "pii", "action": "redact", "reversible": true,
         "rules": [{"type": "pii", "entities": ["email"]}]}]}))
    .expect("parses");
    let guards =
        std::sync::Arc::new(crate::guard::CompiledGuardrails::try_from(&rules).expect("compiles"));
    guards.apply("ann@example.com", &mut masking);
    // Streamed: one text per block, as the rules left it (the masked value stays masked).
    let mut guard =
        OutputGuard::new(Some(guards.clone()), HoldBack::Auto, masking.clone()).collecting();
    let mut events = vec![StreamEvent::BlockStart {
        index: 0,
        block: BlockStart::Text,
    }];
    for piece in ["to [EMAIL", "_1] and bo", "b@example.org"] {
        events.push(StreamEvent::BlockDelta {
            index: 0,
            delta: BlockDelta::Text(piece.into()),
        });
    }
    events.push(StreamEvent::BlockStop { index: 0 });
    for event in events {
        guard.process(vec![event]);
    }
    assert_eq!(guard.take_texts(), ["to [EMAIL_1] and [EMAIL_2]"]);
    // Whole: the same.
    let mut guard = OutputGuard::new(Some(guards), HoldBack::Auto, masking).collecting();
    let mut response = Response {
        content: vec![ContentPart::text("to [EMAIL_1]")],
        ..Response::default()
    };
    guard.whole(&mut response);
    assert_eq!(guard.take_texts(), ["to [EMAIL_1]"]);
    assert_eq!(response.content[0], ContentPart::text("to ann@example.com"));
}
