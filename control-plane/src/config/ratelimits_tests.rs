use tollgate_core::ratelimit::{KeyRateLimits, RateLimits};

use crate::config::{load, test_support};

const HASH_A: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const HASH_B: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";

fn config(defaults: &str, a: &str, b: &str) -> String {
    format!(
        "version: 1
providers: [{{name: p, kind: openai, base_url: 'http://127.0.0.1:1/v1'}}]
models: [{{alias: m, provider: p, model: m}}]
{defaults}
keys:
  - {{id: a, sha256: {HASH_A}, models: ['*']{a}}}
  - {{id: b, sha256: {HASH_B}, models: ['*']{b}}}
"
    )
}

fn limits_of(text: &str) -> Vec<Option<KeyRateLimits>> {
    let loaded = load(text, None).unwrap();
    loaded.config.keys.iter().map(|k| k.rate_limits).collect()
}

#[test]
fn keys_without_limits_are_unlimited() {
    assert_eq!(limits_of(&config("", "", "")), [None, None]);
}

#[test]
fn a_keys_limits_reach_the_filter_contract() {
    let a = ", rate_limits: {requests_per_minute: 60, per_agent: {tokens_per_minute: 1000}}";
    let limits = limits_of(&config("", a, ""));
    assert_eq!(
        limits[0],
        Some(KeyRateLimits {
            requests_per_minute: Some(60),
            tokens_per_minute: None,
            per_agent: Some(RateLimits {
                requests_per_minute: None,
                tokens_per_minute: Some(1000),
            }),
        })
    );
    assert_eq!(limits[1], None);
}

#[test]
fn defaults_fill_what_a_key_leaves_out() {
    let defaults = "rate_limits: {tokens_per_minute: 5000, per_agent: {requests_per_minute: 10}}";
    let a = ", rate_limits: {requests_per_minute: 60, per_agent: {requests_per_minute: 2}}";
    let limits = limits_of(&config(defaults, a, ""));
    let a = limits[0].unwrap();
    assert_eq!(a.requests_per_minute, Some(60));
    assert_eq!(a.tokens_per_minute, Some(5000));
    assert_eq!(a.per_agent.unwrap().requests_per_minute, Some(2));
    let b = limits[1].unwrap();
    assert_eq!(b.requests_per_minute, None);
    assert_eq!(b.tokens_per_minute, Some(5000));
    assert_eq!(b.per_agent.unwrap().requests_per_minute, Some(10));
}

#[test]
fn zero_and_huge_limits_are_located_errors() {
    let defaults = "rate_limits: {per_agent: {tokens_per_minute: 0}}";
    let b = ", rate_limits: {requests_per_minute: 1000000000001}";
    let errors = test_support::errors(&config(defaults, "", b));
    assert_eq!(
        errors,
        [
            (
                "rate_limits.per_agent.tokens_per_minute".to_string(),
                4,
                "must be at least 1".to_string()
            ),
            (
                "keys[1].rate_limits.requests_per_minute".to_string(),
                7,
                "must be at most 1000000000000".to_string()
            ),
        ]
    );
}

#[test]
fn unknown_fields_are_refused() {
    let a = ", rate_limits: {rpm: 5}";
    let errors = test_support::errors(&config("", a, ""));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].2.contains("unknown field `rpm`"), "{errors:?}");
}
