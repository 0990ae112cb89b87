//! Runs for the terminal: `tollgate runs show` as an indented timeline, `tollgate runs
//! list` as a table (pure: text in, text out).

use std::fmt::Write;

use super::list::{Percentiles, RunList};
use super::timeline::{McpCall, Run, Step};

/// Nano-dollars as dollars; `?` marks a cost with an unknown price in it.
fn dollars(nano: u64, known: bool) -> String {
    let mark = if known { "" } else { "?" };
    format!(
        "${}.{:06}{mark}",
        nano / 1_000_000_000,
        nano % 1_000_000_000 / 1000
    )
}

fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// The run's header, then one line per step (children indented under their parent) with
/// its tool calls and results beneath it.
pub fn timeline(run: &Run) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {}  ({} steps, {} attempts, {} ms, {} in / {} out tokens, {}, {} tool links)",
        run.run_id,
        run.steps,
        run.attempts,
        run.duration_ms,
        run.input_tokens,
        run.output_tokens,
        dollars(run.cost_nano_usd, run.cost_known),
        run.tool_links,
    );
    if !run.trace_ids.is_empty() {
        let _ = writeln!(out, "trace {}", run.trace_ids.join(", "));
    }
    for step in &run.roots {
        write_step(&mut out, step, 1);
    }
    out
}

fn write_step(out: &mut String, step: &Step, depth: usize) {
    let indent = "  ".repeat(depth);
    let retries = match step.attempts.len() {
        0 | 1 => String::new(),
        n => format!("  {n} attempts"),
    };
    let error = step
        .error_class
        .as_deref()
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    if let Some(mcp) = &step.mcp {
        write_mcp_step(out, step, mcp, &indent, &error);
        return;
    }
    let _ = writeln!(
        out,
        "{indent}{}  {} → {}  {}{error}  {}/{} tok  {}{retries}",
        step_head(step),
        or_dash(step.alias.as_deref()),
        or_dash(step.upstream_model.as_deref()),
        step.status.map_or("-".to_owned(), |s| s.to_string()),
        step.input_tokens,
        step.output_tokens,
        dollars(step.cost_nano_usd, step.cost_known),
    );
    for result in &step.tool_results {
        let from = or_dash(result.call_step.as_deref());
        let _ = writeln!(
            out,
            "{indent}    ← tool result {} (called by {from})",
            result.tool_call_id
        );
    }
    for call in &step.tool_calls {
        let to = or_dash(call.result_step.as_deref());
        let name = or_dash(call.name.as_deref());
        let mcp = call
            .mcp_step
            .as_deref()
            .map(|s| format!(", ran as MCP step {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{indent}    → tool call {name} {} (result in {to}{mcp})",
            call.id
        );
    }
    for child in &step.children {
        write_step(out, child, depth + 1);
    }
}

/// Offset, duration, step id and agent: how every step's line starts.
fn step_head(step: &Step) -> String {
    format!(
        "+{:>6} ms {:>6} ms  {}  {}",
        step.start_offset_ms,
        step.duration_ms,
        step.step_id,
        or_dash(step.agent_id.as_deref()),
    )
}

/// An MCP tool call: the server and tool instead of model and tokens, and the LLM step
/// whose answer asked for it.
fn write_mcp_step(out: &mut String, step: &Step, mcp: &McpCall, indent: &str, error: &str) {
    let is_error = if mcp.is_error { " isError" } else { "" };
    let _ = writeln!(
        out,
        "{indent}{}  mcp {}/{}  {}{error}{is_error}",
        step_head(step),
        or_dash(mcp.server.as_deref()),
        mcp.tool,
        step.status.map_or("-".to_owned(), |s| s.to_string()),
    );
    if let (Some(caller), Some(call_id)) = (&mcp.called_by_step, &mcp.tool_call_id) {
        let _ = writeln!(
            out,
            "{indent}    ← asked for by {caller} (tool call {call_id})"
        );
    }
    for child in &step.children {
        write_step(out, child, indent.len() / 2 + 1);
    }
}

fn percentiles(p: Option<Percentiles>) -> String {
    p.map_or("-".to_owned(), |p| format!("{}/{}/{}", p.p50, p.p95, p.p99))
}

/// The runs, then per agent: runs, steps, cost and p50/p95/p99 of step and run latency.
pub fn list(list: &RunList) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "RUN  AGENTS  STEPS  DURATION_MS  TOKENS_IN  TOKENS_OUT  COST"
    );
    for run in &list.runs {
        let _ = writeln!(
            out,
            "{}  {}  {}  {}  {}  {}  {}",
            run.run_id,
            if run.agents.is_empty() {
                "-".to_owned()
            } else {
                run.agents.join(",")
            },
            run.steps,
            run.duration_ms,
            run.input_tokens,
            run.output_tokens,
            dollars(run.cost_nano_usd, run.cost_known),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "AGENT  RUNS  STEPS  COST  STEP_MS_P50/P95/P99  RUN_MS_P50/P95/P99"
    );
    for agent in &list.agents {
        let _ = writeln!(
            out,
            "{}  {}  {}  {}  {}  {}",
            or_dash(agent.agent.as_deref()),
            agent.runs,
            agent.steps,
            dollars(agent.cost_nano_usd, true),
            percentiles(agent.step_latency_ms),
            percentiles(agent.run_duration_ms),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mcp_step_shows_its_tool_and_the_step_that_asked_for_it() {
        let records = [
            serde_json::json!({"step_id": "s1", "time_unix_ms": 1_100, "total_ms": 100,
                "tool_calls": [{"id": "c1", "name": "get_weather", "arguments_sha256": "ab"}]}),
            serde_json::json!({"kind": "tool", "step_id": "m1", "time_unix_ms": 1_150,
                "total_ms": 20, "status": 200, "agent_id": "planner",
                "mcp": {"server": "weather", "tool": "get_weather", "arguments_sha256": "ab"}}),
        ];
        let run = super::super::timeline::build("r", &records).unwrap();
        let text = timeline(&run);
        assert!(
            text.contains("→ tool call get_weather c1 (result in -, ran as MCP step m1)"),
            "{text}"
        );
        assert!(
            text.contains("m1  planner  mcp weather/get_weather  200\n"),
            "{text}"
        );
        assert!(text.contains("← asked for by s1 (tool call c1)"), "{text}");
    }

    #[test]
    fn dollars_from_nano_dollars() {
        assert_eq!(dollars(1_234_567_000, true), "$1.234567");
        assert_eq!(dollars(5_000, false), "$0.000005?");
    }
}
