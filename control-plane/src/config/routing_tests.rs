use std::time::Duration;

use tollgate_core::route_rules::{Condition, Operator, Subject, Test};

use crate::config::{load, Arm, Model, Rule, Step, Target, Trigger};

const HEAD: &str = "version: 1
providers:
  - {name: a, kind: openai, base_url: http://127.0.0.1:1/v1}
  - {name: b, kind: anthropic, base_url: http://127.0.0.1:1/v1}
  - {name: c, kind: openai, base_url: http://127.0.0.1:1/v1}
keys: [{id: k, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, models: ['*']}]
models:
";

fn models(models: &str) -> Vec<Model> {
    load(&format!("{HEAD}{models}"), None)
        .unwrap()
        .config
        .models
}

fn errors(models: &str) -> Vec<(String, usize, String)> {
    crate::config::test_support::errors(&format!("{HEAD}{models}"))
}

/// `errors(…)` in a shape that compares with literals.
fn borrowed(found: &[(String, usize, String)]) -> Vec<(&str, usize, &str)> {
    found
        .iter()
        .map(|(p, l, m)| (p.as_str(), *l, m.as_str()))
        .collect()
}

fn target(provider: &str, model: &str, weight: u32) -> Target {
    Target {
        provider: provider.into(),
        model: model.into(),
        weight,
    }
}

fn step(targets: Vec<Target>) -> Step {
    Step { targets }
}

#[test]
fn a_fallback_onto_a_pool_is_one_chain() {
    let m = &models(
        "  - alias: x
    route:
      fallback:
        - {provider: a, model: m1}
        - weighted: [{provider: b, model: m2, weight: 3}, {provider: c, model: m3}]
    retry: {attempts: 2, on: [429, timeout, reset, connect-failure], backoff: {base: 5ms, max: 1s}, retry_after_max: 0s}
    timeout: {attempt: 3s, total: 9s}
",
    )[0];
    let steps = vec![
        step(vec![target("a", "m1", 1)]),
        step(vec![target("b", "m2", 3), target("c", "m3", 1)]),
    ];
    assert_eq!(m.arms, [Arm { weight: 1, steps }]);
    assert_eq!(m.retry.attempts, 2);
    assert_eq!(
        m.retry.on,
        [
            Trigger::Status(429),
            Trigger::Timeout,
            Trigger::ConnectFailure,
            Trigger::Reset
        ]
    );
    assert_eq!(m.retry.backoff_base, Duration::from_millis(5));
    assert_eq!(m.retry.retry_after_max, None);
    assert_eq!(m.timeouts.attempt, Some(Duration::from_secs(3)));
    assert_eq!(
        m.timeouts.idle, m.timeouts.attempt,
        "idle defaults to attempt"
    );
    assert_eq!(m.timeouts.total, Duration::from_secs(9));
}

#[test]
fn a_canary_of_chains_is_two_arms_in_basis_points() {
    let m = &models(
        "  - {alias: chain, route: {fallback: [{provider: a, model: m1}, {provider: b, model: m2}]}}
  - alias: x
    route: {canary: {percent: 2.5, stable: {alias: chain}, candidate: {provider: c, model: m3}}}
",
    )[1];
    let weights: Vec<u32> = m.arms.iter().map(|a| a.weight).collect();
    assert_eq!(weights, [9750, 250]);
    assert_eq!(m.arms[0].steps.len(), 2);
    assert_eq!(m.arms[1].steps, [step(vec![target("c", "m3", 1)])]);
}

#[test]
fn a_pool_of_single_targets_stays_one_step() {
    let m = &models("  - {alias: x, route: {canary: {percent: 10, stable: {provider: a, model: m}, candidate: {provider: b, model: n}}}}\n")[0];
    assert_eq!(
        m.arms,
        [Arm {
            weight: 1,
            steps: vec![step(vec![target("a", "m", 9000), target("b", "n", 1000)])]
        }]
    );
}

#[test]
fn the_short_form_keeps_the_default_policy() {
    let m = &models("  - {alias: x, provider: a, model: m}\n")[0];
    assert_eq!(
        m.arms,
        [Arm {
            weight: 1,
            steps: vec![step(vec![target("a", "m", 1)])]
        }]
    );
    assert_eq!(m.retry.attempts, 1);
    assert!(m.retry.on.contains(&Trigger::Status(429)));
    assert!(m.retry.on.contains(&Trigger::ConnectFailure));
    assert_eq!(m.timeouts.total, Duration::from_secs(600));
}

#[test]
fn impossible_routes_are_located() {
    let found = errors(
        "  - {alias: loop1, route: {alias: loop2}}
  - {alias: loop2, route: {fallback: [{provider: a, model: m}, {alias: loop1}]}}
  - {alias: zero, route: {weighted: [{provider: a, model: m, weight: 0}, {provider: b, model: m, weight: 0}]}}
  - {alias: ghost, route: {fallback: [{provider: nope, model: m}, {alias: missing}]}}
  - {alias: shape, route: {provider: a}}
  - {alias: both, provider: a, model: m, route: {provider: b, model: m}}
  - {alias: twice, route: {fallback: [{provider: a, model: m1}, {provider: a, model: m2}]}}
  - {alias: pct, route: {canary: {percent: 100, stable: {provider: a, model: m}, candidate: {provider: b, model: m}}}}
  - {alias: nested, route: {fallback: [{weighted: [{alias: twostep}, {provider: c, model: m}]}]}}
  - {alias: twostep, route: {fallback: [{provider: a, model: m}, {provider: b, model: m}]}}
  - {alias: w, route: {provider: a, model: m, weight: 2}}
  - {alias: retry, provider: a, model: m, retry: {attempts: 6, on: [200, sometimes], backoff: {base: 2s, max: 1s}}}
",
    );
    assert_eq!(
        borrowed(&found),
        [
            ("models[0].route", 8, "alias references form a cycle: loop1 → loop2 → loop1"),
            ("models[1].route", 9, "alias references form a cycle: loop2 → loop1 → loop2"),
            ("models[2].route.weighted", 10, "the weights of this pool sum to zero, so no request could be routed"),
            ("models[3].route.fallback[0].provider", 11, "unknown provider \"nope\"; defined providers: a, b, c"),
            ("models[3].route.fallback[1].alias", 11, "unknown model alias \"missing\" in a route; defined aliases: both, ghost, loop1, loop2, nested, pct, retry, shape, twice, twostep, w, zero"),
            ("models[4].route", 12, "a route node needs exactly one of: `provider` with `model`, `alias`, `fallback`, `weighted`, `canary`, `conditional`"),
            ("models[5]", 13, "a model needs either `provider` and `model`, or `route`"),
            ("models[6].route", 14, "provider \"a\" serves two models (m1, m2) in one alias; declare a second provider entry for the second model"),
            ("models[7].route.canary.percent", 15, "canary percent must be above 0 and below 100, found 100"),
            ("models[8].route", 16, "Envoy cannot route this: a fallback step cannot split traffic between chains; put the split at the top of the route"),
            ("models[10].route.weight", 18, "`weight` only applies to a member of a `weighted` pool"),
            ("models[11].retry.attempts", 19, "attempts must be between 1 and 5, found 6"),
            ("models[11].retry.on[0]", 19, "\"200\" is not a retry trigger: use a status code 400-599, timeout, connect-failure or reset"),
            ("models[11].retry.on[1]", 19, "\"sometimes\" is not a retry trigger: use a status code 400-599, timeout, connect-failure or reset"),
            ("models[11].retry.backoff", 19, "the back-off base must not exceed its max"),
        ]
    );
}

fn single(provider: &str, model: &str) -> Vec<Arm> {
    vec![Arm {
        weight: 1,
        steps: vec![step(vec![target(provider, model, 1)])],
    }]
}

fn test(subject: Subject, operator: Operator) -> Condition {
    Condition::Test(Test { subject, operator })
}

#[test]
fn a_conditional_route_lowers_each_branch_and_its_conditions() {
    let all = models(
        r#"  - alias: x
    route:
      conditional:
        rules:
          - when: {header.x-tier: gold}
            route: {fallback: [{provider: a, model: m}, {provider: b, model: n}]}
          - when: {any: [{team: {in: [ml, ops]}}, {not: {metadata.env: {matches: "^prod"}}}]}
            route: {alias: plain}
        default: {provider: c, model: o}
  - {alias: plain, provider: b, model: n}
  - {alias: shared, route: {alias: x}}
"#,
    );
    let x = &all[0];
    assert_eq!(x.arms, single("c", "o"));
    let gold = test(
        Subject::Header("x-tier".into()),
        Operator::Equals("gold".into()),
    );
    let teams = test(Subject::Team, Operator::In(vec!["ml".into(), "ops".into()]));
    let prod = test(
        Subject::Metadata("env".into()),
        Operator::Matches("^prod".into()),
    );
    let chain = vec![
        step(vec![target("a", "m", 1)]),
        step(vec![target("b", "n", 1)]),
    ];
    assert_eq!(
        x.rules,
        [
            Rule {
                when: gold,
                arms: vec![Arm {
                    weight: 1,
                    steps: chain
                }],
            },
            Rule {
                when: Condition::Any(vec![teams, Condition::Not(Box::new(prod))]),
                arms: single("b", "n"),
            },
        ]
    );
    assert_eq!(
        x.primary().unwrap().provider,
        "c",
        "the default serves /v1/models"
    );
    // An alias naming a conditional route at its top shares it.
    assert_eq!((&all[2].rules, &all[2].arms), (&x.rules, &x.arms));
}

#[test]
fn conditional_mistakes_are_located() {
    let found = errors(
        r#"  - alias: nodefault
    route: {conditional: {rules: [{when: {team: ml}, route: {provider: a, model: m}}]}}
  - alias: bad
    route:
      conditional:
        rules:
          - when: {tem: ml}
            route: {provider: a, model: m}
          - when: {all: [{header.X-Tier: gold}, {key: {matches: "("}}]}
            route: {provider: b, model: m}
          - when: {header.authorization: x}
            route: {provider: nope, model: m}
          - when: {model: {in: []}}
            route: {provider: a, model: m}
          - when: {key: {equals: a, matches: b}}
            route: {provider: a, model: m}
        default: {provider: c, model: m}
  - {alias: inner, route: {fallback: [{provider: a, model: m}, {conditional: {rules: [], default: {provider: b, model: m}}}]}}
  - {alias: ref, route: {canary: {percent: 5, stable: {alias: bad}, candidate: {provider: b, model: m}}}}
"#,
    );
    assert_eq!(
        borrowed(&found),
        [
            ("models[0].route.conditional", 9, "a conditional route needs a `default` route for the requests no rule matches"),
            ("models[1].route.conditional.rules[0].when.tem", 14, "unknown condition subject \"tem\"; expected one of: key, team, model, header.NAME, metadata.NAME, all, any, not"),
            ("models[1].route.conditional.rules[1].when.all[0].header.X-Tier", 16, "\"X-Tier\" is not a header name a rule can use: write it in lower case, as HTTP/2 and Envoy do"),
            ("models[1].route.conditional.rules[1].when.all[1].key", 16, "invalid regex \"(\": regex parse error:\n    (\n    ^\nerror: unclosed group"),
            ("models[1].route.conditional.rules[2].when.header.authorization", 18, "\"authorization\" is not a header name a rule can use: the gateway removes it before routing (a credential or internal header)"),
            ("models[1].route.conditional.rules[2].route.provider", 19, "unknown provider \"nope\"; defined providers: a, b, c"),
            ("models[1].route.conditional.rules[3].when.model", 20, "`in` needs at least one value"),
            ("models[1].route.conditional.rules[4].when.key", 22, "a test needs exactly one of: equals, in, matches (or a plain value for equals)"),
            ("models[2].route.fallback[1].conditional", 25, "a conditional route must be the whole route of an alias, since the gateway picks its branch before Envoy routes; nest fallbacks, pools and canaries inside its branches instead"),
            ("models[3].route", 26, "alias \"bad\" has a conditional route, which only the top of another route can name (`route: {alias: bad}`)"),
        ]
    );
}

#[test]
fn unknown_operators_and_extra_entries_are_syntax_errors() {
    let syntax = |when: &str| {
        let text = format!(
            "{HEAD}  - alias: x\n    route:\n      conditional:\n        rules: [{{when: {when}, route: {{provider: a, model: m}}}}]\n        default: {{provider: a, model: m}}\n"
        );
        let found = load(&text, None).unwrap_err();
        (found[0].path.clone(), found[0].problem.to_string())
    };
    let (path, message) = syntax("{team: {eq: ml}}");
    assert_eq!(path, "models[0].route.conditional.rules[0].when.team.eq");
    assert!(
        message.contains("unknown field `eq`, expected one of `equals`, `in`, `matches`"),
        "{message}"
    );
    let (_, message) = syntax("{team: ml, key: k}");
    assert!(
        message.contains("a condition is one `subject: test` entry"),
        "{message}"
    );
}

#[test]
fn triggers_envoy_cannot_separate_are_refused() {
    let on = |triggers: &str| {
        format!("  - {{alias: x, provider: a, model: m, retry: {{on: [{triggers}]}}}}\n")
    };
    for ok in [
        "503",
        "503, connect-failure",
        "timeout, reset, connect-failure",
    ] {
        models(&on(ok));
    }
    let message = |triggers: &str| errors(&on(triggers))[0].2.clone();
    for alone in ["503, timeout, connect-failure", "reset"] {
        assert!(
            message(alone).contains("list both timeout and reset, or neither"),
            "{alone}"
        );
    }
    assert!(message("timeout, reset").contains("add connect-failure"));
    assert_eq!(errors(&on("reset"))[0].0, "models[0].retry.on");
}

#[test]
fn declared_features_must_be_served_by_every_target() {
    let found = errors(
        "  - alias: x
    route: {fallback: [{provider: a, model: m}, {provider: b, model: m}]}
    serves: [tools, embeddings, vision]
",
    );
    let messages: Vec<(&str, &str)> = found
        .iter()
        .map(|(p, _, m)| (p.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            ("models[0].serves", "provider \"b\" (kind anthropic) cannot accept embeddings, which this alias serves; remove it from the route or from `serves`"),
            ("models[0].serves[2]", "unknown feature \"vision\"; expected one of: tools, images, image-urls, json-schema, json-object, embeddings"),
        ]
    );
    models("  - {alias: x, route: {fallback: [{provider: a, model: m}, {provider: b, model: m}]}, serves: [tools, images, json-schema]}\n");
}

#[test]
fn without_a_declaration_a_target_lacking_what_the_primary_accepts_is_a_warning() {
    let loaded = load(
        &format!("{HEAD}  - {{alias: x, route: {{fallback: [{{provider: a, model: m}}, {{provider: b, model: m}}]}}}}\n"),
        None,
    )
    .unwrap();
    let warning = loaded
        .warnings
        .iter()
        .find(|w| w.path == "models[0].route")
        .expect("a warning on the route");
    assert!(
        warning.problem.to_string().starts_with(
            "provider \"b\" (kind anthropic) cannot accept json-object, embeddings, which the primary \"a\" accepts"
        ),
        "{}",
        warning.problem
    );
}
