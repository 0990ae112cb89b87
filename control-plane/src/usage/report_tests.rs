use serde_json::json;

use super::*;

fn records() -> Vec<Value> {
    vec![
        json!({"id": "1", "key_id": "k1", "team": "a", "provider": "openai",
               "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 2}}),
        json!({"id": "2", "key_id": "k1", "team": "a", "provider": "anthropic",
               "usage": {"input_tokens": 20, "output_tokens": 1, "reasoning_tokens": 4}}),
        json!({"id": "3", "key_id": "k2", "team": null, "provider": "openai", "usage": null}),
    ]
}

#[test]
fn sums_tokens_and_counts_requests_per_group() {
    let rows = aggregate(&records(), &GroupBy::Key);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].group.as_deref(), Some("k1"));
    assert_eq!(rows[0].requests, 2);
    assert_eq!(rows[0].tokens, [30, 2, 0, 6, 4]);
    assert_eq!(rows[1].group.as_deref(), Some("k2"));
    assert_eq!(
        rows[1].tokens, [0; 5],
        "a record without usage still counts as a request"
    );
    assert_eq!(rows[1].requests, 1);
}

#[test]
fn a_missing_field_is_the_null_group_listed_last() {
    let rows = aggregate(&records(), &GroupBy::Team);
    let groups: Vec<_> = rows.iter().map(|r| (r.group.clone(), r.requests)).collect();
    assert_eq!(groups, [(Some("a".into()), 2), (None, 1)]);
    let by_agent = aggregate(&records(), &GroupBy::Agent);
    assert_eq!(by_agent.len(), 1);
    assert_eq!((by_agent[0].group.clone(), by_agent[0].requests), (None, 3));
    assert_eq!(by_agent[0].cost_nano_usd, None, "no record carries a cost");
    assert_eq!(by_agent[0].latency_ms, None, "no record carries a duration");
}

#[test]
fn attribution_metadata_cost_and_duration_are_read_from_the_record() {
    let records = vec![
        json!({"agent_id": "planner", "metadata": {"env": "prod"}, "cost_nano_usd": 250, "duration_ms": 100}),
        json!({"agent_id": "planner", "metadata": {"env": "prod"}, "cost_nano_usd": null, "duration_ms": 300}),
        json!({"agent_id": "coder", "metadata": {"env": 3}, "cost_nano_usd": 1_000_000_000_u64}),
    ];
    let by_agent = aggregate(&records, &GroupBy::Agent);
    assert_eq!(by_agent[0].group.as_deref(), Some("coder"));
    assert_eq!(by_agent[0].cost_nano_usd, Some(1_000_000_000));
    assert_eq!(by_agent[0].latency_ms, None);
    assert_eq!(by_agent[1].group.as_deref(), Some("planner"));
    assert_eq!(
        by_agent[1].cost_nano_usd,
        Some(250),
        "an unknown cost adds nothing"
    );
    assert_eq!(by_agent[1].latency_ms, Some([100.0, 300.0, 300.0]));
    let by_env = aggregate(&records, &"metadata.env".parse().unwrap());
    let groups: Vec<_> = by_env.iter().map(|r| r.group.clone().unwrap()).collect();
    assert_eq!(groups, ["3", "prod"]);
}

#[test]
fn percentiles_are_nearest_rank() {
    let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
    assert_eq!(percentiles(&mut values), Some([50.0, 95.0, 99.0]));
    assert_eq!(percentiles(&mut [7.0]), Some([7.0, 7.0, 7.0]));
    assert_eq!(percentiles(&mut []), None);
}

#[test]
fn parses_group_by_and_format() {
    assert_eq!("model".parse(), Ok(GroupBy::Model));
    assert_eq!("metadata.env".parse(), Ok(GroupBy::Metadata("env".into())));
    assert!("metadata.".parse::<GroupBy>().is_err());
    assert!("colour".parse::<GroupBy>().is_err());
    assert_eq!("csv".parse(), Ok(Format::Csv));
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn json_report_names_every_token_kind() {
    let rows = aggregate(&records(), &GroupBy::Key);
    let report = to_json(&rows, "key");
    assert_eq!(report["group_by"], "key");
    let first = &report["groups"][0];
    assert_eq!(first["group"], "k1");
    assert_eq!(first["input_tokens"], 30);
    assert_eq!(first["total_tokens"], 42);
    assert_eq!(first["cost_nano_usd"], Value::Null);
    assert_eq!(first["latency_ms"], Value::Null);
}

#[test]
fn csv_report_quotes_and_defuses_cells() {
    let records = vec![
        json!({"team": "a,b", "usage": {"input_tokens": 1}, "cost_nano_usd": 500, "duration_ms": 10}),
        json!({"team": "=cmd()"}),
        json!({}),
    ];
    let csv = to_csv(&aggregate(&records, &GroupBy::Team), "team");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "team,requests,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,reasoning_tokens,total_tokens,cost_nano_usd,latency_p50_ms,latency_p95_ms,latency_p99_ms"
    );
    assert_eq!(lines[1], "'=cmd(),1,0,0,0,0,0,0,,,,");
    assert_eq!(lines[2], "\"a,b\",1,1,0,0,0,0,1,500,10,10,10");
    assert_eq!(lines[3], ",1,0,0,0,0,0,0,,,,");
}

#[test]
fn mcp_tool_steps_are_not_llm_usage() {
    let records = vec![
        json!({"agent_id": "planner", "cost_nano_usd": 250, "duration_ms": 100}),
        json!({"kind": "tool", "agent_id": "planner", "duration_ms": 900}),
    ];
    let rows = aggregate(&records, &GroupBy::Agent);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].requests, 1);
    assert_eq!(rows[0].latency_ms, Some([100.0, 100.0, 100.0]));
}
