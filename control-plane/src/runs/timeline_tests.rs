use serde_json::{json, Value};

use super::*;

/// A step record as the filter writes it (the fields the timeline reads).
fn record(step: &str, attempt: u64, end_ms: i64, total_ms: u64) -> Value {
    json!({
        "id": format!("{step}.{attempt}"), "step_id": step, "attempt": attempt,
        "time_unix_ms": end_ms, "total_ms": total_ms, "duration_ms": total_ms,
        "run_id": "run-1", "trace_id": "t1", "agent_id": "planner", "alias": "gpt",
        "provider": "p", "upstream_model": "m", "status": 200,
        "usage": {"input_tokens": 10, "output_tokens": 3},
        "cost_nano_usd": 100, "price_known": true,
        "tool_calls": [], "tool_results": [],
    })
}

fn with(mut record: Value, field: &str, value: Value) -> Value {
    record[field] = value;
    record
}

fn calls(ids: &[&str]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"id": id, "name": "search", "arguments_sha256": "ab"}))
            .collect(),
    )
}

fn results(ids: &[&str]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"tool_call_id": id})).collect())
}

/// The five-step agent loop: LLM asks for a tool, the next LLM call brings its result, …
fn agent_loop() -> Vec<Value> {
    vec![
        with(record("s1", 1, 1_100, 100), "tool_calls", calls(&["c1"])),
        with(
            with(
                record("s2", 1, 1_300, 100),
                "tool_results",
                results(&["c1"]),
            ),
            "tool_calls",
            calls(&["c2"]),
        ),
        with(
            record("s3", 1, 1_500, 100),
            "tool_results",
            results(&["c2"]),
        ),
        record("s4", 1, 1_700, 100),
        record("s5", 1, 1_900, 100),
    ]
}

#[test]
fn totals_sum_every_step() {
    let run = build("run-1", &agent_loop()).unwrap();
    assert_eq!(run.steps, 5);
    assert_eq!(run.input_tokens, 50);
    assert_eq!(run.output_tokens, 15);
    assert_eq!(run.cost_nano_usd, 500);
    assert!(run.cost_known);
    assert_eq!(run.start_unix_ms, 1_000);
    assert_eq!(run.duration_ms, 900);
    assert_eq!(run.trace_ids, ["t1"]);
    assert_eq!(run.agents, ["planner"]);
}

#[test]
fn tool_calls_link_to_the_step_that_brought_the_result() {
    let run = build("run-1", &agent_loop()).unwrap();
    assert_eq!(run.tool_links, 2);
    let steps = &run.roots;
    assert_eq!(steps[0].tool_calls[0].result_step.as_deref(), Some("s2"));
    assert_eq!(steps[1].tool_results[0].call_step.as_deref(), Some("s1"));
    assert_eq!(steps[1].tool_calls[0].result_step.as_deref(), Some("s3"));
    assert_eq!(steps[2].tool_results[0].call_step.as_deref(), Some("s2"));
}

#[test]
fn a_result_before_its_call_is_not_linked() {
    let records = vec![
        with(
            record("s1", 1, 1_100, 100),
            "tool_results",
            results(&["c9"]),
        ),
        with(record("s2", 1, 1_300, 100), "tool_calls", calls(&["c9"])),
    ];
    let run = build("run-1", &records).unwrap();
    assert_eq!(run.tool_links, 0);
    assert_eq!(run.roots[1].tool_calls[0].result_step, None);
}

#[test]
fn steps_nest_under_their_parent_step_in_start_order() {
    let records = vec![
        record("root", 1, 1_000, 500),
        with(
            record("late", 1, 1_400, 100),
            "parent_step_id",
            json!("root"),
        ),
        with(
            record("early", 1, 1_200, 100),
            "parent_step_id",
            json!("root"),
        ),
        with(
            record("grand", 1, 1_350, 50),
            "parent_step_id",
            json!("early"),
        ),
        with(
            record("orphan", 1, 2_000, 10),
            "parent_step_id",
            json!("elsewhere"),
        ),
    ];
    let run = build("run-1", &records).unwrap();
    let roots: Vec<&str> = run.roots.iter().map(|s| s.step_id.as_str()).collect();
    assert_eq!(roots, ["root", "orphan"]);
    let children: Vec<&str> = run.roots[0]
        .children
        .iter()
        .map(|s| s.step_id.as_str())
        .collect();
    assert_eq!(children, ["early", "late"]);
    assert_eq!(run.roots[0].children[0].children[0].step_id, "grand");
    assert_eq!(run.roots[0].children[0].start_offset_ms, 600);
}

#[test]
fn a_parent_cycle_leaves_its_steps_as_roots() {
    let records = vec![
        with(record("a", 1, 1_000, 10), "parent_step_id", json!("b")),
        with(record("b", 1, 1_100, 10), "parent_step_id", json!("a")),
        with(record("c", 1, 1_200, 10), "parent_step_id", json!("c")),
    ];
    let run = build("run-1", &records).unwrap();
    assert_eq!(run.roots.len(), 3);
    assert_eq!(run.steps, 3);
}

#[test]
fn attempts_of_one_step_are_one_step() {
    let failed = with(
        with(record("s1", 1, 1_100, 100), "status", json!(429)),
        "error_class",
        json!("rate_limited"),
    );
    let failed = with(failed, "usage", Value::Null);
    let records = vec![record("s1", 2, 1_400, 400), failed];
    let run = build("run-1", &records).unwrap();
    assert_eq!(run.steps, 1);
    assert_eq!(run.attempts, 2);
    let step = &run.roots[0];
    assert_eq!(step.attempts[0].status, Some(429));
    assert_eq!(
        step.attempts[0].error_class.as_deref(),
        Some("rate_limited")
    );
    assert_eq!(step.status, Some(200));
    assert_eq!(step.error_class, None);
    assert_eq!(step.input_tokens, 10);
    assert_eq!(step.duration_ms, 400);
}

#[test]
fn an_unknown_price_makes_the_cost_unknown() {
    let records = vec![with(
        record("s1", 1, 1_000, 10),
        "price_known",
        json!(false),
    )];
    assert!(!build("run-1", &records).unwrap().cost_known);
    assert_eq!(build("run-1", &[]), None);
}

/// An MCP tool-call step record as the MCP filter writes it.
fn mcp_record(step: &str, end_ms: i64, tool: &str, hash: Option<&str>) -> Value {
    json!({
        "kind": "tool", "id": format!("{step}.1"), "step_id": step,
        "time_unix_ms": end_ms, "total_ms": 20, "duration_ms": 20,
        "run_id": "run-1", "trace_id": "t1", "agent_id": "planner", "status": 200,
        "mcp": {"server": "weather", "tool": tool, "arguments_sha256": hash, "is_error": true},
    })
}

#[test]
fn an_mcp_call_links_to_the_llm_step_that_asked_for_it() {
    let mut records = agent_loop();
    // Between s1 (asked for c1: `search`, hash `ab`) and s2, which brings its result.
    records.push(mcp_record("m1", 1_150, "search", Some("ab")));
    let run = build("run-1", &records).unwrap();
    assert_eq!(run.steps, 6);
    assert_eq!(run.tool_links, 3);
    assert!(run.cost_known, "a tool step has no unknown price");
    let order: Vec<&str> = run.roots.iter().map(|s| s.step_id.as_str()).collect();
    assert_eq!(order, ["s1", "m1", "s2", "s3", "s4", "s5"]);
    let mcp_step = &run.roots[1];
    assert_eq!(mcp_step.kind, "tool");
    let mcp = mcp_step.mcp.as_ref().unwrap();
    assert_eq!(mcp.server.as_deref(), Some("weather"));
    assert!(mcp.is_error);
    assert_eq!(mcp.called_by_step.as_deref(), Some("s1"));
    assert_eq!(mcp.tool_call_id.as_deref(), Some("c1"));
    assert_eq!(run.roots[0].kind, "llm");
    assert_eq!(run.roots[0].tool_calls[0].mcp_step.as_deref(), Some("m1"));
    // s2's own call (c2) came later than m1: not the one m1 ran.
    assert_eq!(run.roots[2].tool_calls[0].mcp_step, None);
}

#[test]
fn a_priced_tool_calls_cost_counts_in_its_step_and_the_run() {
    let without = build("run-1", &agent_loop()).unwrap().cost_nano_usd;
    let mut records = agent_loop();
    let priced = with(
        mcp_record("m1", 1_150, "search", Some("ab")),
        "cost_nano_usd",
        json!(7_000),
    );
    records.push(priced);
    let run = build("run-1", &records).unwrap();
    assert_eq!(run.roots[1].cost_nano_usd, 7_000);
    assert_eq!(run.cost_nano_usd, without + 7_000);
    assert!(run.cost_known);
}

#[test]
fn an_mcp_call_needs_the_same_tool_and_arguments_hash() {
    for (tool, hash) in [
        ("search", Some("cd")),
        ("fetch", Some("ab")),
        ("search", None),
    ] {
        let mut records = agent_loop();
        records.push(mcp_record("m1", 1_150, tool, hash));
        let run = build("run-1", &records).unwrap();
        assert_eq!(run.tool_links, 2, "{tool} {hash:?}");
        assert_eq!(run.roots[1].mcp.as_ref().unwrap().called_by_step, None);
    }
}

#[test]
fn each_asked_call_links_to_one_mcp_step_the_latest_asker_first() {
    let records = vec![
        with(record("s1", 1, 1_100, 100), "tool_calls", calls(&["c1"])),
        with(record("s2", 1, 1_300, 100), "tool_calls", calls(&["c2"])),
        mcp_record("m1", 1_400, "search", Some("ab")),
        mcp_record("m2", 1_500, "search", Some("ab")),
        mcp_record("m3", 1_600, "search", Some("ab")),
    ];
    let run = build("run-1", &records).unwrap();
    let called_by: Vec<Option<&str>> = run.roots[2..]
        .iter()
        .map(|s| s.mcp.as_ref().unwrap().called_by_step.as_deref())
        .collect();
    assert_eq!(called_by, [Some("s2"), Some("s1"), None]);
}
