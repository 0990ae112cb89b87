//! Usage reports: records grouped by one dimension, with token sums, request counts, cost
//! and latency percentiles per group, as JSON or CSV.
//!
//! Grouping reads the whole stored record, so a record without the field (an older one,
//! or one from a build that did not report it) lands in the `null` group rather than
//! failing the report.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::str::FromStr;

use serde_json::{json, Value};

/// The dimension a report groups by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Key,
    Team,
    Agent,
    Run,
    Model,
    Provider,
    Alias,
    /// A key of the request's free-form metadata.
    Metadata(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot group by {0:?}: use key, team, agent, run, model, provider, alias or metadata.<name>"
)]
pub struct GroupByError(pub String);

impl FromStr for GroupBy {
    type Err = GroupByError;

    fn from_str(s: &str) -> Result<Self, GroupByError> {
        Ok(match s {
            "key" => GroupBy::Key,
            "team" => GroupBy::Team,
            "agent" => GroupBy::Agent,
            "run" => GroupBy::Run,
            "model" => GroupBy::Model,
            "provider" => GroupBy::Provider,
            "alias" => GroupBy::Alias,
            _ => match s.strip_prefix("metadata.") {
                Some(name) if !name.is_empty() => GroupBy::Metadata(name.to_string()),
                _ => return Err(GroupByError(s.to_string())),
            },
        })
    }
}

impl GroupBy {
    /// Where the value sits in a usage record.
    fn path(&self) -> Vec<&str> {
        match self {
            GroupBy::Key => vec!["key_id"],
            GroupBy::Team => vec!["team"],
            GroupBy::Model => vec!["upstream_model"],
            GroupBy::Provider => vec!["provider"],
            GroupBy::Alias => vec!["alias"],
            GroupBy::Agent => vec!["agent_id"],
            GroupBy::Run => vec!["run_id"],
            GroupBy::Metadata(name) => vec!["metadata", name.as_str()],
        }
    }

    fn group_of(&self, record: &Value) -> Option<String> {
        let value = lookup(record, &self.path())?;
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: use json or csv")]
pub struct FormatError(pub String);

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, FormatError> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(FormatError(s.to_string())),
        }
    }
}

/// Token kinds, as the record's `usage` object names them.
const TOKENS: [&str; 5] = [
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
];

/// One group's line of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// `None`: records without the grouped field.
    pub group: Option<String>,
    /// Records (upstream attempts that got an answer).
    pub requests: u64,
    /// Sums per kind, in [`TOKENS`] order.
    pub tokens: [u64; 5],
    /// Summed cost in nano-dollars (integers: sums do not drift); `None` when no record
    /// of the group carries a cost.
    pub cost_nano_usd: Option<u64>,
    /// p50, p95, p99 of the duration; `None` when no record carries one.
    pub latency_ms: Option<[f64; 3]>,
}

/// Groups `records`; groups in order, the `null` group last.
pub fn aggregate(records: &[Value], group_by: &GroupBy) -> Vec<GroupRow> {
    struct Acc {
        requests: u64,
        tokens: [u64; 5],
        cost_nano_usd: Option<u64>,
        durations: Vec<f64>,
    }
    let mut groups: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    // MCP tool-call steps (kind `tool`) are run steps, not LLM usage.
    for record in records.iter().filter(|r| r["kind"] != "tool") {
        let acc = groups.entry(group_by.group_of(record)).or_insert(Acc {
            requests: 0,
            tokens: [0; 5],
            cost_nano_usd: None,
            durations: Vec::new(),
        });
        acc.requests += 1;
        for (sum, kind) in acc.tokens.iter_mut().zip(TOKENS) {
            *sum += lookup(record, &["usage", kind])
                .and_then(Value::as_u64)
                .unwrap_or(0);
        }
        if let Some(cost) = lookup(record, &["cost_nano_usd"]).and_then(Value::as_u64) {
            let sum = acc.cost_nano_usd.get_or_insert(0);
            *sum = sum.saturating_add(cost);
        }
        acc.durations
            .extend(lookup(record, &["duration_ms"]).and_then(Value::as_f64));
    }
    let mut rows: Vec<GroupRow> = groups
        .into_iter()
        .map(|(group, mut acc)| GroupRow {
            group,
            requests: acc.requests,
            tokens: acc.tokens,
            cost_nano_usd: acc.cost_nano_usd,
            latency_ms: percentiles(&mut acc.durations),
        })
        .collect();
    // BTreeMap puts `None` first; it reads better last.
    let null_first = rows.first().is_some_and(|r| r.group.is_none());
    rows.rotate_left(usize::from(null_first));
    rows
}

/// Nearest-rank p50, p95 and p99.
pub(crate) fn percentiles(values: &mut [f64]) -> Option<[f64; 3]> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = (p / 100.0 * values.len() as f64).ceil() as usize;
        values[index.clamp(1, values.len()) - 1]
    };
    Some([rank(50.0), rank(95.0), rank(99.0)])
}

fn lookup<'a>(record: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(record, |value, key| value.get(key))
}

/// The report as JSON: `{"group_by": …, "groups": [{…}, …]}`.
pub fn to_json(rows: &[GroupRow], group_by: &str) -> Value {
    let groups: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut group = json!({
                "group": row.group,
                "requests": row.requests,
                "cost_nano_usd": row.cost_nano_usd,
                "latency_ms": row.latency_ms.map(|[p50, p95, p99]| json!({"p50": p50, "p95": p95, "p99": p99})),
            });
            for (kind, sum) in TOKENS.iter().zip(row.tokens) {
                group[*kind] = json!(sum);
            }
            group["total_tokens"] = json!(row.tokens.iter().sum::<u64>());
            group
        })
        .collect();
    json!({"group_by": group_by, "groups": groups})
}

/// The report as CSV with a header line; absent values are empty cells.
pub fn to_csv(rows: &[GroupRow], group_by: &str) -> String {
    let mut out = format!(
        "{},requests,{},total_tokens,cost_nano_usd,latency_p50_ms,latency_p95_ms,latency_p99_ms\n",
        csv_cell(group_by),
        TOKENS.join(",")
    );
    for row in rows {
        let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let latency = row.latency_ms.map_or([None; 3], |l| l.map(Some));
        let tokens: Vec<String> = row.tokens.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            csv_cell(row.group.as_deref().unwrap_or("")),
            row.requests,
            tokens.join(","),
            row.tokens.iter().sum::<u64>(),
            row.cost_nano_usd.map(|c| c.to_string()).unwrap_or_default(),
            optional(latency[0]),
            optional(latency[1]),
            optional(latency[2]),
        );
    }
    out
}

/// RFC 4180 quoting, plus a leading `'` for cells a spreadsheet would run as a formula.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
