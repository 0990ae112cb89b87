use super::*;
use crate::formats::WireFormat;

fn key(limits: Option<KeyRateLimits>) -> VirtualKeyConfig {
    VirtualKeyConfig {
        id: "team-a".into(),
        sha256: String::new(),
        models: vec![],
        team: None,
        owner: None,
        metadata: Default::default(),
        rate_limits: limits,
        expires_unix_ms: None,
        previous_secrets: vec![],
        payload_capture: None,
    }
}

#[test]
fn an_unlimited_key_has_no_scopes() {
    assert!(scopes(&key(None), Some("planner")).is_empty());
    assert!(scopes(&key(Some(KeyRateLimits::default())), Some("planner")).is_empty());
}

#[test]
fn scopes_are_narrowest_first_and_agent_buckets_are_per_key() {
    let limits = KeyRateLimits {
        requests_per_minute: Some(10),
        tokens_per_minute: None,
        per_agent: Some(RateLimits {
            requests_per_minute: None,
            tokens_per_minute: Some(500),
        }),
    };
    let s = scopes(&key(Some(limits)), Some("planner.v2"));
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].kind, ScopeKind::Agent);
    assert_eq!(s[0].bucket, "tollgate.rl.agent.team-a.planner.v2");
    assert_eq!(s[0].limits.tokens_per_minute, Some(500));
    assert_eq!(s[1].bucket, "tollgate.rl.key.team-a");
    assert_eq!(s[1].limits.requests_per_minute, Some(10));
    // Without an agent id only the key counts.
    assert_eq!(scopes(&key(Some(limits)), None).len(), 1);
}

#[test]
fn an_agent_limit_alone_leaves_the_key_unlimited() {
    let limits = KeyRateLimits {
        per_agent: Some(RateLimits {
            requests_per_minute: Some(1),
            tokens_per_minute: None,
        }),
        ..KeyRateLimits::default()
    };
    let s = scopes(&key(Some(limits)), Some("a"));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].kind, ScopeKind::Agent);
}

#[test]
fn the_contract_is_camel_case_and_strict() {
    let json = r#"{"requestsPerMinute":5,"perAgent":{"tokensPerMinute":9}}"#;
    let limits: KeyRateLimits = serde_json::from_str(json).unwrap();
    assert_eq!(limits.requests_per_minute, Some(5));
    assert_eq!(limits.per_agent.unwrap().tokens_per_minute, Some(9));
    assert_eq!(serde_json::to_string(&limits).unwrap(), json);
    assert!(serde_json::from_str::<KeyRateLimits>(r#"{"rpm":5}"#).is_err());
}

#[test]
fn the_refusal_is_a_429_in_each_clients_format() {
    let denial = Denial {
        scope: ScopeKind::Agent,
        reason: Reason::Tokens,
        limit: 600,
        retry_after_secs: 3,
    };
    let e = rate_limited(&denial);
    assert_eq!(e.status(), 429);
    let openai = e.to_value(WireFormat::OpenAi);
    assert_eq!(openai["error"]["type"], "rate_limit_error");
    assert_eq!(openai["error"]["code"], "rate_limit_exceeded");
    let message = openai["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("600 tokens per minute for this agent"),
        "{message}"
    );
    let anthropic = e.to_value(WireFormat::Anthropic);
    assert_eq!(anthropic["type"], "error");
    assert_eq!(anthropic["error"]["type"], "rate_limit_error");
}

#[test]
fn billed_tokens_are_all_input_and_output_of_the_record() {
    let mut record = crate::usage_record::UsageRecord::new("p");
    assert_eq!(billed_tokens(record.to_json().as_bytes()), None);
    record.usage = Some(Usage {
        input_tokens: Some(10),
        cache_read_tokens: Some(100),
        cache_write_tokens: Some(5),
        output_tokens: Some(7),
        reasoning_tokens: Some(3),
    });
    assert_eq!(billed_tokens(record.to_json().as_bytes()), Some(122));
    assert_eq!(billed_tokens(b"-"), None);
}
