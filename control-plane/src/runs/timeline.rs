//! One agent run as a tree of steps, from its stored step records (pure).
//!
//! A step is one client request (`step_id`); its records are its upstream attempts
//! (retries, fallbacks). Steps nest under the step their `parent_step_id` names when that
//! step is in the run; every other step is a root. Tool calls are linked to the later step
//! that brought their result back, so the tree reads LLM → tool → LLM. An MCP tool call
//! through the gateway is a step of its own (kind `tool`), linked to the earlier LLM step
//! whose answer asked for that tool with the same arguments hash.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

/// One upstream attempt of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub id: String,
    pub attempt: Option<u64>,
    pub fallback_step: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub status: Option<u64>,
    pub error_class: Option<String>,
    pub span_id: Option<String>,
    pub duration_ms: Option<u64>,
}

/// A tool call the step's answer asked for, and the step that brought its result back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallLink {
    pub id: String,
    pub name: Option<String>,
    pub arguments_sha256: Option<String>,
    pub result_step: Option<String>,
    /// The MCP step that ran this call through the gateway (absent: none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_step: Option<String>,
}

/// What an MCP tool-call step ran, and the LLM step (and its tool call) that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpCall {
    pub server: Option<String>,
    pub tool: String,
    pub arguments_sha256: Option<String>,
    pub is_error: bool,
    pub called_by_step: Option<String>,
    pub tool_call_id: Option<String>,
}

/// A tool result the step's request carried, and the step whose answer asked for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResultLink {
    pub tool_call_id: String,
    pub call_step: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub step_id: String,
    /// `llm`, or `tool` for an MCP tool call.
    pub kind: &'static str,
    /// Set for `tool` steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpCall>,
    pub trace_id: Option<String>,
    pub agent_id: Option<String>,
    pub parent_step_id: Option<String>,
    pub key_id: Option<String>,
    pub alias: Option<String>,
    /// Of the attempt that answered (the last).
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub status: Option<u64>,
    pub error_class: Option<String>,
    /// Offset from the run's start, and length, in milliseconds.
    pub start_offset_ms: i64,
    pub duration_ms: i64,
    pub time_to_first_token_ms: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_nano_usd: u64,
    /// Every attempt had a known price.
    pub cost_known: bool,
    pub attempts: Vec<Attempt>,
    pub tool_calls: Vec<ToolCallLink>,
    pub tool_results: Vec<ToolResultLink>,
    pub children: Vec<Step>,
    #[serde(skip)]
    start_ms: i64,
}

/// A run: totals and its steps as a tree, each level ordered by start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub run_id: String,
    pub trace_ids: Vec<String>,
    pub agents: Vec<String>,
    pub start_unix_ms: i64,
    pub duration_ms: i64,
    pub steps: usize,
    pub attempts: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_nano_usd: u64,
    pub cost_known: bool,
    pub tool_links: usize,
    pub roots: Vec<Step>,
}

fn text(record: &Value, field: &str) -> Option<String> {
    record.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn number(record: &Value, path: &[&str]) -> Option<u64> {
    path.iter()
        .try_fold(record, |v, key| v.get(key))
        .and_then(Value::as_u64)
}

/// When an attempt's request reached the gateway: its end less its total latency (less its
/// own duration for records without one).
fn started_ms(record: &Value) -> i64 {
    let end = record["time_unix_ms"].as_i64().unwrap_or(0);
    let took = number(record, &["total_ms"]).or(number(record, &["duration_ms"]));
    end - took.map_or(0, |ms| i64::try_from(ms).unwrap_or(0))
}

/// Builds the run from its records (any order); `None` when there are none.
pub fn build(run_id: &str, records: &[Value]) -> Option<Run> {
    let mut by_step: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for record in records {
        let step = text(record, "step_id")
            .filter(|s| !s.is_empty())
            .or_else(|| text(record, "id"))
            .unwrap_or_default();
        by_step.entry(step).or_default().push(record);
    }
    let mut steps: Vec<Step> = by_step
        .into_iter()
        .map(|(id, attempts)| step(id, attempts))
        .collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(|a, b| (a.start_ms, &a.step_id).cmp(&(b.start_ms, &b.step_id)));
    let start = steps.iter().map(|s| s.start_ms).min().unwrap_or(0);
    let end = steps
        .iter()
        .map(|s| s.start_ms + s.duration_ms)
        .max()
        .unwrap_or(start);
    let tool_links = link_tools(&mut steps) + link_mcp_calls(&mut steps);
    for step in &mut steps {
        step.start_offset_ms = step.start_ms - start;
    }
    let mut run = Run {
        run_id: run_id.to_owned(),
        trace_ids: sorted_unique(steps.iter().filter_map(|s| s.trace_id.clone())),
        agents: sorted_unique(steps.iter().filter_map(|s| s.agent_id.clone())),
        start_unix_ms: start,
        duration_ms: end - start,
        steps: steps.len(),
        attempts: steps.iter().map(|s| s.attempts.len()).sum(),
        input_tokens: steps.iter().map(|s| s.input_tokens).sum(),
        output_tokens: steps.iter().map(|s| s.output_tokens).sum(),
        cost_nano_usd: steps.iter().map(|s| s.cost_nano_usd).sum(),
        cost_known: steps.iter().all(|s| s.cost_known),
        tool_links,
        roots: Vec::new(),
    };
    run.roots = nest(steps);
    Some(run)
}

fn sorted_unique(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut values: Vec<String> = values.collect();
    values.sort();
    values.dedup();
    values
}

fn step(step_id: String, mut records: Vec<&Value>) -> Step {
    records.sort_by_key(|r| (number(r, &["attempt"]), r["time_unix_ms"].as_i64()));
    let last = records.last().copied().unwrap_or(&Value::Null);
    let start_ms = records.iter().map(|r| started_ms(r)).min().unwrap_or(0);
    let end_ms = records
        .iter()
        .filter_map(|r| r["time_unix_ms"].as_i64())
        .max()
        .unwrap_or(start_ms);
    let sum = |kind: &str| {
        records
            .iter()
            .filter_map(|r| number(r, &["usage", kind]))
            .sum()
    };
    let tool_calls = last["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|call| {
            Some(ToolCallLink {
                id: text(call, "id")?,
                name: text(call, "name"),
                arguments_sha256: text(call, "arguments_sha256"),
                result_step: None,
                mcp_step: None,
            })
        })
        .collect();
    let tool_results = last["tool_results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|result| {
            Some(ToolResultLink {
                tool_call_id: text(result, "tool_call_id")?,
                call_step: None,
            })
        })
        .collect();
    let mcp = (last["kind"] == "tool")
        .then(|| {
            let call = &last["mcp"];
            Some(McpCall {
                server: text(call, "server"),
                tool: text(call, "tool")?,
                arguments_sha256: text(call, "arguments_sha256"),
                is_error: call["is_error"] == Value::Bool(true),
                called_by_step: None,
                tool_call_id: None,
            })
        })
        .flatten();
    Step {
        kind: if mcp.is_some() { "tool" } else { "llm" },
        mcp,
        trace_id: text(last, "trace_id"),
        agent_id: text(last, "agent_id"),
        parent_step_id: text(last, "parent_step_id"),
        key_id: text(last, "key_id"),
        alias: text(last, "alias"),
        provider: text(last, "provider"),
        upstream_model: text(last, "upstream_model"),
        status: number(last, &["status"]),
        error_class: text(last, "error_class"),
        start_offset_ms: 0,
        duration_ms: end_ms - start_ms,
        time_to_first_token_ms: number(last, &["time_to_first_token_ms"]),
        input_tokens: sum("input_tokens"),
        output_tokens: sum("output_tokens"),
        cost_nano_usd: records
            .iter()
            .filter_map(|r| number(r, &["cost_nano_usd"]))
            .sum(),
        // A tool call has no price to be unknown.
        cost_known: records
            .iter()
            .all(|r| r["price_known"] == Value::Bool(true) || r["kind"] == "tool"),
        attempts: records.iter().map(|r| attempt(r)).collect(),
        tool_calls,
        tool_results,
        children: Vec::new(),
        start_ms,
        step_id,
    }
}

fn attempt(record: &Value) -> Attempt {
    Attempt {
        id: text(record, "id").unwrap_or_default(),
        attempt: number(record, &["attempt"]),
        fallback_step: text(record, "fallback_step"),
        provider: text(record, "provider"),
        upstream_model: text(record, "upstream_model"),
        status: number(record, &["status"]),
        error_class: text(record, "error_class"),
        span_id: text(record, "span_id"),
        duration_ms: number(record, &["duration_ms"]),
    }
}

/// Links each tool call to the first later step carrying its result, and each result to
/// the step that asked for it; returns how many links were made. `steps` is in start order.
fn link_tools(steps: &mut [Step]) -> usize {
    let callers: HashMap<String, usize> = steps
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.tool_calls.iter().map(move |c| (c.id.clone(), i)))
        .collect();
    let mut links = Vec::new();
    for (i, step) in steps.iter_mut().enumerate() {
        for result in &mut step.tool_results {
            let Some(&caller) = callers.get(&result.tool_call_id).filter(|&&c| c < i) else {
                continue;
            };
            links.push((caller, result.tool_call_id.clone(), i));
        }
    }
    let mut made = 0;
    for (caller, call_id, answerer) in links {
        let answerer_id = steps[answerer].step_id.clone();
        let caller_id = steps[caller].step_id.clone();
        let call = steps[caller]
            .tool_calls
            .iter_mut()
            .find(|c| c.id == call_id);
        if let Some(call) = call.filter(|c| c.result_step.is_none()) {
            call.result_step = Some(answerer_id);
            made += 1;
        }
        for result in &mut steps[answerer].tool_results {
            if result.tool_call_id == call_id {
                result.call_step = Some(caller_id.clone());
            }
        }
    }
    made
}

/// Links each MCP tool-call step to the latest earlier step whose answer asked for the same
/// tool with the same arguments hash, one call per MCP step; returns how many links were
/// made. Without a hash (capture `none`) nothing is linked: a name alone is no evidence.
fn link_mcp_calls(steps: &mut [Step]) -> usize {
    let mut made = 0;
    for i in 0..steps.len() {
        let Some(mcp) = &steps[i].mcp else {
            continue;
        };
        let Some(hash) = mcp.arguments_sha256.clone() else {
            continue;
        };
        let tool = mcp.tool.clone();
        let mcp_step_id = steps[i].step_id.clone();
        let caller = steps[..i].iter_mut().rev().find_map(|step| {
            let call = step.tool_calls.iter_mut().find(|c| {
                c.mcp_step.is_none()
                    && c.name.as_deref() == Some(tool.as_str())
                    && c.arguments_sha256.as_deref() == Some(hash.as_str())
            })?;
            call.mcp_step = Some(mcp_step_id.clone());
            Some((step.step_id.clone(), call.id.clone()))
        });
        if let (Some((step_id, call_id)), Some(mcp)) = (caller, steps[i].mcp.as_mut()) {
            mcp.called_by_step = Some(step_id);
            mcp.tool_call_id = Some(call_id);
            made += 1;
        }
    }
    made
}

/// Hangs each step under its parent step when the parent is in the run; the rest (and any
/// step caught in a parent cycle) are roots. `steps` is in start order, and stays so.
fn nest(steps: Vec<Step>) -> Vec<Step> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.step_id.as_str(), i))
        .collect();
    let parent: Vec<Option<usize>> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = *index.get(s.parent_step_id.as_deref()?)?;
            (p != i).then_some(p)
        })
        .collect();
    // A step whose parent chain loops back to itself is treated as a root.
    let in_cycle = |start: usize| {
        let mut at = start;
        for _ in 0..steps.len() {
            match parent[at] {
                Some(p) if p == start => return true,
                Some(p) => at = p,
                None => return false,
            }
        }
        true
    };
    let parent: Vec<Option<usize>> = (0..steps.len())
        .map(|i| parent[i].filter(|_| !in_cycle(i)))
        .collect();
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    // Children are attached before their parents move (deepest first), each parent's
    // latest first so inserting at the front keeps start order.
    let depth = |i: usize| {
        let (mut d, mut at) = (0, i);
        while let Some(p) = parent[at] {
            d += 1;
            at = p;
        }
        d
    };
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((depth(i), i)));
    for i in order {
        if let Some(p) = parent[i] {
            if let Some(child) = slots[i].take() {
                if let Some(parent) = slots[p].as_mut() {
                    parent.children.insert(0, child);
                }
            }
        }
    }
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
