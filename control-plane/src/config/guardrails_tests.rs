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
    assert_eq!(guardrails.webhooks.len(), 1);
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
            "    - {name: w, webhook: {url: \"http://x\"}}\n",
            ("guardrails.checks[0].stages", 10, "a webhook guardrail guards the input only"),
        ),
        (
            "    - {name: w, action: deny}\n",
            ("guardrails.checks[0]", 10, "needs exactly one of `rules`, `webhook`, `injection` or `schema`"),
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
