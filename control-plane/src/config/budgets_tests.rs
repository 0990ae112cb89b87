use tollgate_core::budget::{BudgetScope, Period};

use crate::config::load;
use crate::config::test_support::errors;

const BASE: &str = "version: 1
providers: [{name: p, kind: openai, base_url: 'http://127.0.0.1:9/v1'}]
models: [{alias: a, provider: p, model: gpt-4o-mini}]
keys: [{id: k1, sha256: 0000000000000000000000000000000000000000000000000000000000000000, models: [a], team: research}]
control_plane: {}
";

#[test]
fn budgets_per_key_team_and_agent_with_their_periods() {
    let text = format!(
        "{BASE}budgets:
  alert_webhook: http://127.0.0.1:8080/alerts
  limits:
    - {{id: k1-daily, key: k1, limit_usd: 2.5, period: daily, alert_at_percent: [80, 50]}}
    - {{id: research, team: research, limit_usd: 100, period: monthly}}
    - {{id: planner, agent: planner, limit_usd: 0.000000001}}
"
    );
    let budgets = load(&text, None).unwrap().config.budgets.unwrap();
    assert_eq!(budgets.default_max_output_tokens, 4096);
    assert_eq!(budgets.poll_interval.as_millis(), 1000);
    assert_eq!(budgets.alert_webhook.unwrap().authority(), "127.0.0.1:8080");
    let [key, team, agent] = &budgets.limits[..] else {
        panic!("three budgets");
    };
    assert_eq!(key.budget.scope, BudgetScope::Key("k1".into()));
    assert_eq!(key.budget.limit_nano_usd, 2_500_000_000);
    assert_eq!(key.budget.period, Period::Daily);
    assert_eq!(key.alert_at_percent, [50, 80], "thresholds ascending");
    assert_eq!(team.budget.period, Period::Monthly);
    assert_eq!(agent.budget.period, Period::None);
    assert_eq!(agent.budget.limit_nano_usd, 1);
}

#[test]
fn mistakes_are_located() {
    let text = format!(
        "{BASE}budgets:
  poll_interval: 0s
  alert_webhook: https://hooks.example/x
  limits:
    - {{id: b, key: k1, team: research, limit_usd: 1}}
    - {{id: b, team: research, limit_usd: 0}}
    - {{id: c, agent: x, limit_usd: 1, alert_at_percent: [0, 50, 50, 101]}}
"
    );
    let found: Vec<_> = errors(&text).into_iter().map(|(p, _, m)| (p, m)).collect();
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "budgets.poll_interval",
            "budgets.alert_webhook",
            "budgets.limits[0]",
            "budgets.limits[1].id",
            "budgets.limits[1].limit_usd",
            "budgets.limits[2].alert_at_percent[0]",
            "budgets.limits[2].alert_at_percent[3]",
        ],
        "{found:?}"
    );
    assert!(found[2].1.contains("exactly one of"), "{found:?}");
}

#[test]
fn budgets_need_the_service() {
    let text = BASE.replace("control_plane: {}\n", "")
        + "budgets: {limits: [{id: b, team: research, limit_usd: 1}]}\n";
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "budgets");
}
