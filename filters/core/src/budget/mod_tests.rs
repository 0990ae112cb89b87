use super::*;
use crate::formats::WireFormat;
use crate::model::Usage;

fn budget(id: &str, scope: BudgetScope) -> Budget {
    Budget {
        id: id.into(),
        scope,
        limit_nano_usd: 1_000_000,
        period: Period::Daily,
    }
}

#[test]
fn scopes_select_by_key_team_and_agent() {
    let budgets = [
        budget("k", BudgetScope::Key("k1".into())),
        budget("t", BudgetScope::Team("research".into())),
        budget("a", BudgetScope::Agent("planner".into())),
    ];
    let ids = |key, team, agent| -> Vec<String> {
        applicable(&budgets, key, team, agent)
            .iter()
            .map(|b| b.id.clone())
            .collect()
    };
    assert_eq!(
        ids("k1", Some("research"), Some("planner")),
        ["k", "t", "a"]
    );
    assert_eq!(ids("k2", Some("research"), None), ["t"]);
    assert_eq!(ids("k2", None, Some("planner")), ["a"]);
    assert!(ids("k2", Some("ops"), Some("coder")).is_empty());
}

#[test]
fn estimates_bound_the_cost_of_an_answer_within_max_tokens() {
    let price = Price {
        input: 3_000_000,
        cached_input: Some(300_000),
        cache_write: Some(3_750_000),
        output: 15_000_000,
        reasoning: None,
    };
    // 400 bytes → 100 tokens at $3.75/M (cache write is dearest) + 50 at $15/M.
    assert_eq!(estimate_nano_usd(&price, 400, 50), 375_000 + 750_000);
    // Any answer with at most 100 input and 50 output tokens costs no more.
    let worst = Usage {
        input_tokens: Some(0),
        cache_write_tokens: Some(100),
        output_tokens: Some(50),
        ..Usage::default()
    };
    assert!(price.cost_nano_usd(&worst) <= estimate_nano_usd(&price, 400, 50));
}

#[test]
fn reasoning_dearer_than_output_sets_the_output_side() {
    let price = Price {
        input: 0,
        cached_input: None,
        cache_write: None,
        output: 1_000_000,
        reasoning: Some(4_000_000),
    };
    // $4/M is 4000 nano-dollars a token.
    assert_eq!(estimate_nano_usd(&price, 0, 10), 40_000);
    // Fractions of a nano-dollar round up, never down ($0.0015/M: 1.5 a token).
    let cheap = Price {
        output: 1_500,
        reasoning: None,
        ..price
    };
    assert_eq!(estimate_nano_usd(&cheap, 0, 1), 2);
}

#[test]
fn refusals_are_402_in_the_clients_format() {
    let refusal = Refusal {
        budget_id: "team-research".into(),
        exhausted: Exhausted {
            spent: 990_000_000,
            limit: 1_000_000_000,
            resets_at_ms: Some(10_500),
        },
        estimate: 20_000_000,
    };
    let error = budget_exceeded(&refusal);
    assert_eq!(error.status(), 402);
    let openai = error.to_value(WireFormat::OpenAi);
    assert_eq!(openai["error"]["type"], "insufficient_quota");
    assert_eq!(openai["error"]["code"], "budget_exceeded");
    let message = openai["error"]["message"].as_str().unwrap();
    assert!(message.contains("team-research") && message.contains("$1.000000"));
    let anthropic = error.to_value(WireFormat::Anthropic);
    assert_eq!(anthropic["error"]["type"], "billing_error");
    assert_eq!(refusal.retry_after_secs(10_000), Some(1));
    assert_eq!(refusal.retry_after_secs(1_000), Some(10));
}

#[test]
fn filter_config_spells_scopes_as_one_field() {
    let json = r#"{"id":"b","scope":{"team":"research"},"limitNanoUsd":5,"period":"weekly"}"#;
    let parsed: Budget = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.scope, BudgetScope::Team("research".into()));
    assert_eq!(parsed.period, Period::Weekly);
    assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
}

#[test]
fn the_cost_comes_from_the_usage_record() {
    assert_eq!(
        record_cost(br#"{"id":"r.1","cost_nano_usd":1234}"#),
        Some(1234)
    );
    assert_eq!(record_cost(br#"{"id":"r.1","cost_nano_usd":null}"#), None);
    assert_eq!(record_cost(b"not json"), None);
}
