use serde_json::Value;

use super::routes;
use crate::config::load;

/// The rendered routes of a config with providers `a` and `b` and the given models.
fn rendered(models: &str) -> Vec<Value> {
    let text = format!(
        "version: 1
providers:
  - {{name: a, kind: openai, base_url: http://127.0.0.1:1/v1}}
  - {{name: b, kind: anthropic, base_url: http://127.0.0.1:1/v1}}
keys: [{{id: k, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, models: ['*']}}]
models:
{models}"
    );
    routes(&load(&text, None).unwrap().config)
}

fn retry_policy(models: &str) -> Value {
    rendered(models)[0]["route"]["retry_policy"].clone()
}

const CHAIN: &str = "route: {fallback: [{provider: a, model: m}, {provider: b, model: n}]}";

#[test]
fn each_trigger_maps_to_its_own_envoy_condition() {
    let on = |triggers: &str| {
        retry_policy(&format!(
            "  - {{alias: x, {CHAIN}, retry: {{on: [{triggers}]}}}}\n"
        ))["retry_on"]
            .clone()
    };
    assert_eq!(on("503"), "retriable-status-codes");
    assert_eq!(
        on("503, connect-failure"),
        "retriable-status-codes,connect-failure"
    );
    assert_eq!(
        on("timeout, reset, connect-failure"),
        "connect-failure,reset"
    );
}

#[test]
fn the_attempt_timeout_bounds_the_start_and_idle_the_pauses() {
    let policy =
        |timeout: &str| retry_policy(&format!("  - {{alias: x, {CHAIN}, timeout: {timeout}}}\n"));
    let both = policy("{attempt: 2s, total: 1m}");
    assert_eq!(both["per_try_timeout"], "2s");
    assert_eq!(
        both["per_try_idle_timeout"], "2s",
        "idle defaults to attempt"
    );
    let idle = policy("{attempt: 2s, idle: 500ms}");
    assert_eq!(idle["per_try_idle_timeout"], "0.500s");
    let only_idle = retry_policy("  - {alias: x, provider: a, model: m, timeout: {idle: 3s}}\n");
    assert_eq!(only_idle["per_try_idle_timeout"], "3s");
    assert_eq!(only_idle.get("per_try_timeout"), None);
}

#[test]
fn rule_branches_come_before_the_default_and_match_the_branch_header() {
    let routes = rendered(
        "  - alias: x
    route:
      conditional:
        rules: [{when: {team: ml}, route: {provider: b, model: n}}]
        default: {provider: a, model: m}
",
    );
    let names: Vec<&str> = routes.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["model.x.rule0", "model.x.default", "not_found"]);
    let headers = &routes[0]["match"]["headers"];
    assert_eq!(headers[1]["name"], "x-tollgate-branch");
    assert_eq!(headers[1]["string_match"]["exact"], "0");
    assert_eq!(routes[1]["match"]["headers"].as_array().unwrap().len(), 1);
    assert_eq!(routes[0]["route"]["cluster"], "provider.b");
}
