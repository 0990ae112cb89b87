//! Runs in a time range, filtered by agent and key, with cost and latency percentiles per
//! agent (pure).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::timeline::{self, Run};
use crate::usage::report::percentiles;

/// Which runs to list; `None` matches any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub agent: Option<String>,
    pub key: Option<String>,
}

/// One run, without its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub agents: Vec<String>,
    pub keys: Vec<String>,
    pub start_unix_ms: i64,
    pub duration_ms: i64,
    pub steps: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_nano_usd: u64,
    pub cost_known: bool,
}

/// Nearest-rank p50, p95 and p99, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Option<Percentiles> {
        percentiles(&mut values).map(|[p50, p95, p99]| Percentiles { p50, p95, p99 })
    }
}

/// An agent's runs: how many, what they cost, and how long its steps and runs took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSummary {
    /// `None`: steps sent without an agent id.
    pub agent: Option<String>,
    pub runs: usize,
    pub steps: usize,
    pub cost_nano_usd: u64,
    pub step_latency_ms: Option<Percentiles>,
    pub run_duration_ms: Option<Percentiles>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
    pub agents: Vec<AgentSummary>,
}

/// Groups `records` (every record of the range) into runs and lists those matching.
pub fn list(records: &[Value], filter: &RunFilter) -> RunList {
    let mut by_run: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for record in records {
        if let Some(run) = record["run_id"].as_str() {
            by_run.entry(run).or_default().push(record.clone());
        }
    }
    let runs: Vec<(Run, Vec<String>)> = by_run
        .into_iter()
        .filter_map(|(id, records)| {
            let keys = keys_of(&records);
            Some((timeline::build(id, &records)?, keys))
        })
        .filter(|(run, keys)| {
            let agent_ok = filter.agent.as_ref().is_none_or(|a| run.agents.contains(a));
            let key_ok = filter.key.as_ref().is_none_or(|k| keys.contains(k));
            agent_ok && key_ok
        })
        .collect();
    RunList {
        agents: per_agent(&runs),
        runs: summaries(runs),
    }
}

fn keys_of(records: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = records
        .iter()
        .filter_map(|r| r["key_id"].as_str().map(str::to_owned))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn summaries(runs: Vec<(Run, Vec<String>)>) -> Vec<RunSummary> {
    let mut out: Vec<RunSummary> = runs
        .into_iter()
        .map(|(run, keys)| RunSummary {
            run_id: run.run_id,
            agents: run.agents,
            keys,
            start_unix_ms: run.start_unix_ms,
            duration_ms: run.duration_ms,
            steps: run.steps,
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
            cost_nano_usd: run.cost_nano_usd,
            cost_known: run.cost_known,
        })
        .collect();
    out.sort_by(|a, b| (a.start_unix_ms, &a.run_id).cmp(&(b.start_unix_ms, &b.run_id)));
    out
}

/// A run counts for its first step's agent; steps count for their own agent.
fn per_agent(runs: &[(Run, Vec<String>)]) -> Vec<AgentSummary> {
    #[derive(Default)]
    struct Acc {
        runs: usize,
        steps: usize,
        cost: u64,
        step_ms: Vec<f64>,
        run_ms: Vec<f64>,
    }
    let mut agents: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    for (run, _) in runs {
        let first_agent = run.roots.first().and_then(|s| s.agent_id.clone());
        let acc = agents.entry(first_agent).or_default();
        acc.runs += 1;
        acc.run_ms.push(run.duration_ms as f64);
        let mut stack: Vec<&timeline::Step> = run.roots.iter().collect();
        while let Some(step) = stack.pop() {
            let acc = agents.entry(step.agent_id.clone()).or_default();
            acc.steps += 1;
            acc.cost += step.cost_nano_usd;
            acc.step_ms.push(step.duration_ms as f64);
            stack.extend(&step.children);
        }
    }
    agents
        .into_iter()
        .map(|(agent, acc)| AgentSummary {
            agent,
            runs: acc.runs,
            steps: acc.steps,
            cost_nano_usd: acc.cost,
            step_latency_ms: Percentiles::of(acc.step_ms),
            run_duration_ms: Percentiles::of(acc.run_ms),
        })
        .collect()
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
