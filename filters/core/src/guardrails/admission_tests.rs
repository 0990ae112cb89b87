use std::collections::BTreeMap;

use serde_json::json;

use super::*;

/// A request without metadata.
struct NoMetadata;

impl MetadataKeys for NoMetadata {
    fn has_key(&self, _: &str) -> bool {
        false
    }
}

#[test]
fn globs_match_whole_names() {
    for (pattern, name, expected) in [
        ("gpt-4o", "gpt-4o", true),
        ("gpt-4o", "gpt-4o-mini", false),
        ("gpt-*", "gpt-4o-mini", true),
        ("gpt-*", "gpt-", true),
        ("gpt-*", "chatgpt-4o", false),
        ("*-preview", "o1-preview", true),
        ("*-preview", "o1-preview-2", false),
        ("*mini*", "gpt-4o-mini-tts", true),
        ("a*b*a", "aba", true),
        ("a*a", "a", false),
        ("*", "", true),
        ("**", "anything", true),
    ] {
        assert_eq!(glob_matches(pattern, name), expected, "{pattern} vs {name}");
    }
}

fn checks() -> Vec<AdmissionCheck> {
    serde_json::from_value(json!([
        { "name": "models", "scope": { "teams": ["interns"] }, "rule": { "models": {
            "aliases": { "allow": ["gpt-*", "claude-*"], "deny": ["*-preview"] },
            "upstream": { "deny": ["o1*"] } } } },
        { "name": "attribution", "scope": { "keys": ["billing"] }, "rule": { "metadata": {
            "required": ["project", "cost_center"] } } }
    ]))
    .expect("parses")
}

fn candidate<'a>(
    team: Option<&'a str>,
    key: &'a str,
    alias: &'a str,
    upstream: &'a [String],
    metadata: &'a dyn MetadataKeys,
) -> Candidate<'a> {
    Candidate {
        who: RequestScope {
            key_id: Some(key),
            team,
            alias: Some(alias),
        },
        alias,
        upstream_models: upstream,
        metadata,
    }
}

#[test]
fn models_are_allowed_and_denied_by_alias_and_every_upstream_model() {
    let checks = checks();
    let plain = vec!["gpt-4o".to_owned()];
    let with_o1_fallback = vec!["gpt-4o".to_owned(), "o1-mini".to_owned()];
    let interns = |alias, upstream| {
        check_admission(
            &checks,
            &candidate(Some("interns"), "k", alias, upstream, &NoMetadata),
        )
        .map_err(|refusal| refusal.error)
    };
    assert_eq!(interns("gpt-fast", &plain), Ok(()));
    let outside = interns("mistral", &plain).expect_err("not on the allow-list");
    assert_eq!((outside.status(), outside.code), (403, "guardrail_denied"));
    assert_eq!(
        outside.message,
        "The request was refused by guardrail `models` (category: model): model `mistral` is not allowed."
    );
    assert!(
        interns("gpt-preview", &plain).is_err(),
        "denied beats allowed"
    );
    let upstream = interns("gpt-fast", &with_o1_fallback).expect_err("a fallback is denied");
    assert!(upstream.message.contains("(category: upstream_model)"));
    assert!(
        !upstream.message.contains("o1"),
        "upstream names stay private"
    );
    // Out of scope: another team may use anything.
    let other = candidate(
        Some("staff"),
        "k",
        "mistral",
        &with_o1_fallback,
        &NoMetadata,
    );
    assert_eq!(check_admission(&checks, &other), Ok(()));
}

#[test]
fn required_metadata_keys_are_named_when_missing() {
    let checks = checks();
    let upstream = vec!["gpt-4o".to_owned()];
    let mut metadata = BTreeMap::new();
    metadata.insert("project".to_owned(), "apollo".to_owned());
    let partial = check_admission(
        &checks,
        &candidate(None, "billing", "gpt", &upstream, &metadata),
    )
    .expect_err("cost_center is missing");
    assert_eq!(
        (partial.guardrail.as_str(), partial.category),
        ("attribution", "metadata")
    );
    let partial = partial.error;
    assert_eq!(partial.status(), 400);
    assert_eq!(
        partial.message,
        "The request was refused by guardrail `attribution` (category: metadata): the `x-tollgate-metadata` header lacks `cost_center`."
    );
    assert!(
        !partial.message.contains("apollo"),
        "values are never echoed"
    );
    let none = check_admission(
        &checks,
        &candidate(None, "billing", "gpt", &upstream, &NoMetadata),
    )
    .expect_err("nothing sent")
    .error;
    assert!(none.message.ends_with("lacks `project`, `cost_center`."));
    metadata.insert("cost_center".to_owned(), "42".to_owned());
    assert_eq!(
        check_admission(
            &checks,
            &candidate(None, "billing", "gpt", &upstream, &metadata)
        ),
        Ok(())
    );
    assert_eq!(
        check_admission(
            &checks,
            &candidate(None, "other", "gpt", &upstream, &NoMetadata)
        ),
        Ok(()),
        "keys out of scope need no metadata"
    );
}
