use crate::config::{load, test_support};

const HEAD: &str = "version: 1
providers:
  - {name: p, kind: openai, base_url: http://127.0.0.1:1/v1}
models:
  - {alias: gpt, provider: p, model: m}
keys:
  - {id: k, sha256: a004a9fe4094191b648d212c092977c5f2b22b9fd6129b31226c46e73a317416, models: ['*']}
guardrails:
  checks:
";

/// `(path, line, message)` of every error in the config with these checks.
fn errors(checks: &str) -> Vec<(String, usize, String)> {
    test_support::errors(&format!("{HEAD}{checks}"))
}

#[test]
fn a_valid_section_becomes_the_filters_policy() {
    let text = format!(
        "{HEAD}    - name: pii
      action: redact
      rules: [{{type: pii, entities: [email, credit_card]}}]
    - name: hook
      stages: [input]
      scope: {{keys: [k], models: [gpt]}}
      webhook: {{url: http://127.0.0.1:9/check}}
"
    );
    let config = load(&text, None).expect("valid").config;
    let guardrails = config.guardrails.expect("section");
    let json = serde_json::to_value(&guardrails.policy).expect("serializes");
    assert_eq!(
        json["guardrails"][0]["stages"],
        serde_json::json!(["input", "output"])
    );
    assert_eq!(
        json["guardrails"][1]["check"]["webhook"],
        serde_json::json!({"name": "hook", "cluster": "guardrail.hook", "authority": "127.0.0.1:9",
            "path": "/check", "timeoutMs": 1000, "failure": "closed"})
    );
    assert_eq!(guardrails.callouts.len(), 1);
}

#[test]
fn injection_and_schema_checks_have_defaults() {
    let text = format!(
        "{HEAD}    - name: injection
      action: deny
      injection: {{allowed_hosts: [docs.example.com]}}
    - name: schemas
      action: flag
      schema: {{}}
"
    );
    let config = load(&text, None).expect("valid").config;
    let json = serde_json::to_value(config.guardrails.expect("section").policy).expect("json");
    assert_eq!(
        json["guardrails"],
        serde_json::json!([
            {"stages": ["input"], "check": {"injection": {"name": "injection", "action": "deny",
                "threshold": 50, "sources": ["toolResults"], "allowedHosts": ["docs.example.com"]}}},
            {"stages": ["input", "output"], "check": {"schema": {"name": "schemas",
                "action": "flag", "targets": ["toolArguments", "structuredOutput"]}}}
        ])
    );
}

#[test]
fn problems_are_located_and_name_the_rule() {
    let cases = [
        (
            "    - {name: a, action: block, rules: [{type: length, max_chars: 5}]}\n",
            ("guardrails.checks[0].action", 10, "unknown action \"block\"; expected one of: deny, redact, flag"),
        ),
        (
            "    - name: a\n      action: deny\n      rules: [{type: regex, name: t, pattern: \"T-[0-9]+\"}]\n",
            ("guardrails.checks[0]", 10, "guardrail `a`, rule `t`: the pattern has no maximum match length; bound every repetition (`{1,64}` instead of `+`)"),
        ),
        (
            "    - {name: a, action: flag, rules: [{type: pii, entities: [passport]}]}\n",
            ("guardrails.checks[0].rules[0].entities[0]", 10, "unknown PII entity \"passport\"; expected one of: email, phone, credit_card, us_ssn, iban, ipv4, ipv6, secret"),
        ),
        (
            "    - {name: a, action: flag, scope: {models: [nope]}, rules: [{type: length, max_words: 5}]}\n",
            ("guardrails.checks[0].scope.models[0]", 10, "unknown model alias \"nope\"; expected one of: gpt"),
        ),
        (
            "    - {name: w, webhook: {url: \"ftp://x\"}}\n",
            ("guardrails.checks[0].webhook.url", 10, "invalid base_url \"ftp://x\": expected http:// or https://"),
        ),
        (
            "    - {name: w, action: deny}\n",
            ("guardrails.checks[0]", 10, "needs exactly one of `rules`, `webhook`, `moderation`, `models`, `metadata`, `injection`, `schema`"),
        ),
        (
            "    - {name: w, action: deny, webhook: {url: \"http://x\"}}\n",
            ("guardrails.checks[0].action", 10, "a webhook decides itself: it takes no `action`"),
        ),
        (
            "    - {name: m, stages: [input], models: {deny: [\"o1*\"]}}\n",
            ("guardrails.checks[0].stages", 10, "`models` and `metadata` are checked before routing: they take no `stages`"),
        ),
        (
            "    - {name: m, action: flag, metadata: {required: [project]}}\n",
            ("guardrails.checks[0].action", 10, "`models` and `metadata` refuse the request: `action` can only be `deny`"),
        ),
        (
            "    - {name: m, models: {}}\n",
            ("guardrails.checks[0].models", 10, "`models` needs `allow`, `deny`, `upstream_allow` or `upstream_deny`"),
        ),
        (
            "    - {name: m, metadata: {required: []}}\n",
            ("guardrails.checks[0].metadata.required", 10, "must not be empty"),
        ),
        (
            "    - {name: m, action: redact, moderation: {url: \"http://x\", model: m}}\n",
            ("guardrails.checks[0].action", 10, "unknown action \"redact\"; expected one of: deny, flag"),
        ),
        (
            "    - {name: m, moderation: {url: \"http://x\", model: m, thresholds: {hate: 1.5}}}\n",
            ("guardrails.checks[0].moderation.thresholds", 10, "threshold of `hate` must be between 0 and 1"),
        ),
        (
            "    - {name: i, action: redact, injection: {}}\n",
            ("guardrails.checks[0].action", 10, "unknown action \"redact\"; expected one of: deny, flag"),
        ),
        (
            "    - {name: i, action: deny, stages: [input, output], injection: {}}\n",
            ("guardrails.checks[0].stages", 10, "an injection guardrail guards the input only"),
        ),
        (
            "    - {name: i, action: flag, injection: {sources: [web]}}\n",
            ("guardrails.checks[0].injection.sources[0]", 10, "unknown injection source \"web\"; expected one of: tool_results, user"),
        ),
        (
            "    - {name: s, schema: {targets: [tool_arguments]}}\n",
            ("guardrails.checks[0].action", 10, "needs an `action`: deny or flag"),
        ),
    ];
    for (checks, (path, line, message)) in cases {
        assert_eq!(
            errors(checks),
            [(path.to_owned(), line, message.to_owned())],
            "{checks}"
        );
    }
}

#[test]
fn unknown_fields_are_refused() {
    let text = format!("{HEAD}    - {{name: a, action: deny, rulez: []}}\n");
    let err = load(&text, None).expect_err("rejected");
    assert!(
        err[0].problem.to_string().contains("unknown field `rulez`"),
        "{:?}",
        err[0]
    );
}

#[test]
fn models_metadata_and_moderation_checks() {
    let text = format!(
        "{HEAD}    - name: models
      scope: {{keys: [k]}}
      models: {{allow: [\"gpt*\"], upstream_deny: [\"o1*\"]}}
    - name: attribution
      metadata: {{required: [project]}}
    - name: mod
      action: flag
      stages: [output]
      moderation:
        url: https://api.openai.com/v1/moderations
        credential: {{env: OPENAI_API_KEY}}
        model: omni-moderation-latest
        timeout: 2s
        categories: [hate]
        thresholds: {{violence: 0.5}}
    - name: hook
      webhook: {{url: http://127.0.0.1:9/check}}
"
    );
    let config = load(&text, None).expect("valid").config;
    let guardrails = config.guardrails.expect("section");
    let admission = serde_json::to_value(&guardrails.admission).expect("serializes");
    assert_eq!(
        admission,
        serde_json::json!([
            {"name": "models", "scope": {"keys": ["k"]},
             "rule": {"models": {"aliases": {"allow": ["gpt*"]}, "upstream": {"deny": ["o1*"]}}}},
            {"name": "attribution", "rule": {"metadata": {"required": ["project"]}}}
        ])
    );
    let policy = serde_json::to_value(&guardrails.policy).expect("serializes");
    assert_eq!(
        policy["guardrails"][0],
        serde_json::json!({"stages": ["output"], "check": {"moderation": {
            "endpoint": {"name": "mod", "cluster": "guardrail.mod", "authority": "api.openai.com",
                "path": "/v1/moderations", "timeoutMs": 2000, "failure": "closed"},
            "model": "omni-moderation-latest", "action": "flag",
            "categories": {"hate": null, "violence": 0.5}}}})
    );
    // Webhooks guard both stages by default now.
    assert_eq!(
        policy["guardrails"][1]["stages"],
        serde_json::json!(["input", "output"])
    );
    let credentials: Vec<_> = guardrails
        .callouts
        .iter()
        .map(|w| w.credential.is_some())
        .collect();
    assert_eq!(credentials, [true, false]);
}
