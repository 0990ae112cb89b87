use serde_json::{json, Value};

use super::*;

fn step(run: &str, step: &str, agent: &str, key: &str, end_ms: i64, took: u64) -> Value {
    json!({
        "id": format!("{step}.1"), "step_id": step, "run_id": run, "agent_id": agent,
        "key_id": key, "time_unix_ms": end_ms, "total_ms": took, "status": 200,
        "usage": {"input_tokens": 1, "output_tokens": 1}, "cost_nano_usd": 10,
        "price_known": true,
    })
}

fn records() -> Vec<Value> {
    let mut records = Vec::new();
    // Ten planner runs of one step each, 10..100 ms; one coder run of two steps.
    for i in 1..=10 {
        let run = format!("p{i:02}");
        records.push(step(
            &run,
            &format!("{run}-s"),
            "planner",
            "k1",
            1_000 * i,
            10 * i as u64,
        ));
    }
    records.push(step("c1", "c1-a", "coder", "k2", 50_000, 100));
    records.push(step("c1", "c1-b", "coder", "k2", 50_400, 300));
    records
}

#[test]
fn lists_runs_in_start_order_with_totals() {
    let listed = list(&records(), &RunFilter::default());
    assert_eq!(listed.runs.len(), 11);
    assert_eq!(listed.runs[0].run_id, "p01");
    let coder = listed.runs.iter().find(|r| r.run_id == "c1").unwrap();
    assert_eq!(coder.steps, 2);
    assert_eq!(coder.cost_nano_usd, 20);
    assert_eq!(coder.duration_ms, 500);
    assert_eq!(coder.keys, ["k2"]);
}

#[test]
fn percentiles_per_agent() {
    let listed = list(&records(), &RunFilter::default());
    let planner = listed
        .agents
        .iter()
        .find(|a| a.agent.as_deref() == Some("planner"))
        .unwrap();
    assert_eq!(planner.runs, 10);
    assert_eq!(planner.cost_nano_usd, 100);
    let p = planner.step_latency_ms.unwrap();
    assert_eq!((p.p50, p.p95, p.p99), (50.0, 100.0, 100.0));
    let coder = listed
        .agents
        .iter()
        .find(|a| a.agent.as_deref() == Some("coder"))
        .unwrap();
    assert_eq!(coder.steps, 2);
    assert_eq!(coder.run_duration_ms.unwrap().p50, 500.0);
}

#[test]
fn filters_by_agent_and_key() {
    let by_agent = RunFilter {
        agent: Some("coder".into()),
        key: None,
    };
    let listed = list(&records(), &by_agent);
    assert_eq!(listed.runs.len(), 1);
    assert_eq!(listed.agents.len(), 1);
    let by_key = RunFilter {
        agent: None,
        key: Some("k1".into()),
    };
    assert_eq!(list(&records(), &by_key).runs.len(), 10);
    let neither = RunFilter {
        agent: Some("coder".into()),
        key: Some("k1".into()),
    };
    assert!(list(&records(), &neither).runs.is_empty());
}
