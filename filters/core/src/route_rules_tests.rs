use super::*;

fn test(subject: Subject, operator: Operator) -> Condition {
    Condition::Test(Test { subject, operator })
}

fn equals(subject: Subject, value: &str) -> Condition {
    test(subject, Operator::Equals(value.into()))
}

fn header(name: &str) -> Subject {
    Subject::Header(name.into())
}

/// Facts of a request by key `agent-1` of team `research` for `gpt`, with `x-tier: gold`
/// and metadata `{"project": "alpha-7"}`.
fn matches(condition: &Condition) -> bool {
    let metadata = BTreeMap::from([("project".to_string(), "alpha-7".to_string())]);
    let headers = |name: &str| (name == "x-tier").then(|| "gold".to_string());
    let facts = RequestFacts {
        key_id: "agent-1",
        team: Some("research"),
        model: "gpt",
        header: &headers,
        metadata: &metadata,
    };
    condition.compile().unwrap().matches(&facts)
}

#[test]
fn each_subject_is_compared() {
    assert!(matches(&equals(Subject::Key, "agent-1")));
    assert!(!matches(&equals(Subject::Key, "agent-2")));
    assert!(matches(&equals(Subject::Team, "research")));
    assert!(matches(&equals(Subject::Model, "gpt")));
    assert!(matches(&equals(header("x-tier"), "gold")));
    assert!(matches(&equals(
        Subject::Metadata("project".into()),
        "alpha-7"
    )));
}

#[test]
fn operators() {
    let team_in = |values: &[&str]| {
        test(
            Subject::Team,
            Operator::In(values.iter().map(|v| v.to_string()).collect()),
        )
    };
    assert!(matches(&team_in(&["ml", "research"])));
    assert!(!matches(&team_in(&["ml"])));
    let project = |pattern: &str| {
        test(
            Subject::Metadata("project".into()),
            Operator::Matches(pattern.into()),
        )
    };
    assert!(matches(&project("^alpha-[0-9]+$")));
    assert!(matches(&project("pha")), "searched, not anchored");
    assert!(!matches(&project("^beta")));
}

#[test]
fn absent_values_match_no_test_and_their_negation_matches() {
    for absent in [header("x-other"), Subject::Metadata("owner".into())] {
        let any_value = test(absent, Operator::Matches("".into()));
        assert!(!matches(&any_value));
        assert!(matches(&Condition::Not(Box::new(any_value))));
    }
}

#[test]
fn combinators() {
    let yes = equals(Subject::Key, "agent-1");
    let no = equals(Subject::Key, "other");
    assert!(matches(&Condition::All(vec![yes.clone(), yes.clone()])));
    assert!(!matches(&Condition::All(vec![yes.clone(), no.clone()])));
    assert!(matches(&Condition::Any(vec![no.clone(), yes.clone()])));
    assert!(!matches(&Condition::Any(vec![no.clone()])));
    assert!(matches(&Condition::Not(Box::new(no))));
    assert!(matches(&Condition::All(vec![])));
    assert!(!matches(&Condition::Any(vec![])));
}

#[test]
fn first_matching_rule_wins_and_none_is_the_default() {
    let rules: Vec<CompiledCondition> = [
        equals(Subject::Team, "ml"),
        equals(header("x-tier"), "gold"),
        equals(Subject::Model, "gpt"),
    ]
    .iter()
    .map(|c| c.compile().unwrap())
    .collect();
    let no_headers = |_: &str| None;
    let no_metadata = BTreeMap::new();
    let facts = |model| RequestFacts {
        key_id: "k",
        team: None,
        model,
        header: &no_headers,
        metadata: &no_metadata,
    };
    assert_eq!(select(&rules, &facts("gpt")), Some(2));
    assert_eq!(select(&rules, &facts("claude")), None);
    let gold = |name: &str| (name == "x-tier").then(|| "gold".to_string());
    let gold_facts = RequestFacts {
        header: &gold,
        ..facts("gpt")
    };
    assert_eq!(select(&rules, &gold_facts), Some(1));
}

#[test]
fn compile_errors_name_the_problem() {
    let regex = test(Subject::Key, Operator::Matches("(".into()));
    assert!(matches!(regex.compile(), Err(RuleError::Regex { .. })));
    let empty = test(Subject::Key, Operator::In(vec![]));
    assert_eq!(empty.compile().unwrap_err(), RuleError::EmptyIn);
    for name in [
        "X-Tier",
        ":authority",
        "x tier",
        "",
        "authorization",
        "x-tollgate-alias",
        "x-tollgate-metadata",
    ] {
        let condition = Condition::Not(Box::new(equals(header(name), "v")));
        assert!(
            matches!(condition.compile(), Err(RuleError::Header(..))),
            "{name:?}"
        );
    }
}

#[test]
fn the_contract_shape_is_stable() {
    let condition = Condition::All(vec![
        equals(header("x-tier"), "gold"),
        Condition::Not(Box::new(test(
            Subject::Team,
            Operator::In(vec!["ml".into()]),
        ))),
    ]);
    let json = serde_json::to_value(&condition).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"all": [
            {"test": {"subject": {"header": "x-tier"}, "operator": {"equals": "gold"}}},
            {"not": {"test": {"subject": "team", "operator": {"in": ["ml"]}}}},
        ]})
    );
    assert_eq!(
        serde_json::from_value::<Condition>(json).unwrap(),
        condition
    );
}

#[test]
fn select_for_reads_the_key_and_the_parsed_metadata() {
    let key = VirtualKeyConfig {
        id: "k".into(),
        sha256: String::new(),
        models: vec![],
        team: Some("ml".into()),
        owner: None,
        metadata: BTreeMap::new(),
        rate_limits: None,
        expires_unix_ms: None,
        previous_secrets: vec![],
        payload_capture: None,
    };
    let no_header = |_: &str| None;
    let none = BTreeMap::new();
    let team = [equals(Subject::Team, "ml").compile().unwrap()];
    assert_eq!(select_for(&team, &key, "m", &no_header, &none), Some(0));
    let meta = [equals(Subject::Metadata("p".into()), "x")
        .compile()
        .unwrap()];
    assert_eq!(select_for(&meta, &key, "m", &no_header, &none), None);
    let sent = BTreeMap::from([("p".to_string(), "x".to_string())]);
    assert_eq!(select_for(&meta, &key, "m", &no_header, &sent), Some(0));
    assert_eq!(select_for(&[], &key, "m", &no_header, &sent), None);
}

#[test]
fn rules_are_labelled_by_index_or_default() {
    assert_eq!(rule_label(Some(2)), "2");
    assert_eq!(rule_label(None), "default");
}
