//! What guardrails decided, for the request log and the client: verdicts per stage with
//! their latency, the flag header, and the error a denial becomes.
//!
//! Nothing here carries matched text: verdicts name guardrail, category and action only.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{ErrorKind, GatewayError};
use crate::guard::{Action, Denial, Finding};

use super::policy::Stage;

/// Verdicts of one request, in the order they were reached.
#[derive(Debug, Default)]
pub struct Report {
    /// (stage, guardrail, category, action) → matches.
    verdicts: BTreeMap<(Stage, String, String, Action), u32>,
    /// Time spent per stage, in microseconds (webhook calls included).
    latency_us: BTreeMap<Stage, u64>,
    /// Webhook failures that were let through (fail-open).
    failures: Vec<String>,
}

impl Report {
    pub fn findings(&mut self, stage: Stage, findings: &[Finding]) {
        for f in findings {
            self.verdict(stage, &f.guardrail, f.category.name(), f.action);
        }
    }

    pub fn verdict(&mut self, stage: Stage, guardrail: &str, category: &str, action: Action) {
        let key = (stage, guardrail.to_owned(), category.to_owned(), action);
        *self.verdicts.entry(key).or_insert(0) += 1;
    }

    pub fn webhook_failed(&mut self, guardrail: &str) {
        self.failures.push(guardrail.to_owned());
    }

    pub fn latency(&mut self, stage: Stage, micros: u64) {
        *self.latency_us.entry(stage).or_insert(0) += micros;
    }

    /// (stage, guardrail, action, matches) of every verdict, categories added up.
    pub fn verdict_counts(&self) -> impl Iterator<Item = (Stage, &str, Action, u32)> {
        let mut counts: BTreeMap<(Stage, &str, Action), u32> = BTreeMap::new();
        for ((stage, guardrail, _, action), count) in &self.verdicts {
            *counts.entry((*stage, guardrail, *action)).or_insert(0) += count;
        }
        counts
            .into_iter()
            .map(|((stage, guardrail, action), count)| (stage, guardrail, action, count))
    }

    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty() && self.latency_us.is_empty() && self.failures.is_empty()
    }

    /// `guardrail/category` of every flagged verdict, for the response header; `None` when
    /// nothing was flagged.
    pub fn flag_header(&self) -> Option<String> {
        let flagged: std::collections::BTreeSet<String> = self
            .verdicts
            .keys()
            .filter(|(_, _, _, action)| *action == Action::Flag)
            .map(|(_, guardrail, category, _)| format!("{guardrail}/{category}"))
            .collect();
        (!flagged.is_empty()).then(|| Vec::from_iter(flagged).join(", "))
    }

    /// The access-log value: `{"verdicts": [...], "latency_us": {...}, "webhook_failures": [...]}`.
    pub fn to_json(&self) -> String {
        let verdicts: Vec<Value> = self
            .verdicts
            .iter()
            .map(|((stage, guardrail, category, action), count)| {
                json!({
                    "stage": stage_name(*stage),
                    "guardrail": guardrail,
                    "category": category,
                    "action": action_name(*action),
                    "count": count,
                })
            })
            .collect();
        let latency: serde_json::Map<String, Value> = self
            .latency_us
            .iter()
            .map(|(stage, us)| (stage_name(*stage).to_owned(), json!(us)))
            .collect();
        let mut out = json!({ "verdicts": verdicts, "latency_us": latency });
        if !self.failures.is_empty() {
            out["webhook_failures"] = json!(self.failures);
        }
        out.to_string()
    }
}

pub(crate) fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Input => "input",
        Stage::Output => "output",
    }
}

pub(crate) fn action_name(action: Action) -> &'static str {
    match action {
        Action::Deny => "deny",
        Action::Redact => "redact",
        Action::Flag => "flag",
    }
}

/// `error.code` of every guardrail refusal.
pub const GUARDRAIL_DENIED: &str = "guardrail_denied";

/// The client error for a denial: 400 `guardrail_denied`, naming guardrail and category.
pub fn denied_error(stage: Stage, denial: &Denial) -> GatewayError {
    let what = match stage {
        Stage::Input => "The request was refused",
        Stage::Output => "The answer was withheld",
    };
    let detail = denial
        .detail
        .as_deref()
        .map_or(String::new(), |d| format!(": {d}"));
    GatewayError::new(
        ErrorKind::InvalidRequest,
        GUARDRAIL_DENIED,
        format!(
            "{what} by guardrail `{}` (category: {}){detail}.",
            denial.guardrail, denial.category
        ),
    )
}
