//! The prompt-injection guardrail: the engine's heuristics ([`InjectionRules`]) run over
//! the request parts a check covers (tool results by default, optionally user text), each
//! part scored whole.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::guard::injection::{InjectionRules, DEFAULT_THRESHOLD};
use crate::guard::{Action, Category, Finding};
use crate::model::{ContentPart, Request, Role, ToolResultPart};

use super::inspect::Inspection;

/// A prompt-injection check (input stage only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InjectionCheck {
    pub name: String,
    /// `deny` or `flag`: a heuristic verdict is about a whole text, so there is no span to
    /// redact.
    pub action: Action,
    /// Score at which a text counts as an injection; the rule set's scores are documented
    /// in [`crate::guard::injection`].
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    /// Which texts are scored; at least one.
    pub sources: Vec<InjectionSource>,
    /// Hosts (and their subdomains) images may point to without counting as exfiltration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
}

fn default_threshold() -> u32 {
    DEFAULT_THRESHOLD
}

/// Request texts an injection check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InjectionSource {
    /// Tool results re-entering the conversation: content the model did not write and the
    /// user may never have seen.
    ToolResults,
    /// The text of user messages.
    User,
}

/// The injection checks that apply to one request, with the shared rule set.
#[derive(Debug, Clone)]
pub struct InjectionGuard {
    pub rules: Arc<InjectionRules>,
    pub checks: Vec<InjectionCheck>,
}

impl InjectionGuard {
    /// Scores every covered text (a tool result's text parts read as one); stops at the
    /// first denial.
    pub fn inspect(&self, request: &Request) -> Inspection {
        let mut inspection = Inspection::default();
        for (source, text) in texts(request) {
            let verdict = |hosts: &[String]| {
                let score = self.rules.score(&text, hosts);
                (score.total(), score.top())
            };
            // Scored once for every check without allowed hosts.
            let mut plain = None;
            for check in self.checks.iter().filter(|c| c.sources.contains(&source)) {
                let (total, top) = if check.allowed_hosts.is_empty() {
                    *plain.get_or_insert_with(|| verdict(&[]))
                } else {
                    verdict(&check.allowed_hosts)
                };
                let (Some(top), true) = (top, total >= check.threshold) else {
                    continue;
                };
                let finding = Finding {
                    guardrail: check.name.as_str().into(),
                    category: Category::Rule(top.name().into()),
                    action: check.action,
                    span: 0..text.len(),
                };
                if inspection.record(finding, None) {
                    return inspection;
                }
            }
        }
        inspection
    }
}

/// The texts of a request by source: each tool result's text parts joined by line breaks,
/// and each user text part.
fn texts(request: &Request) -> Vec<(InjectionSource, String)> {
    let mut out = Vec::new();
    for message in &request.messages {
        for part in &message.content {
            match part {
                ContentPart::ToolResult { content, .. } => {
                    let texts: Vec<&str> = content
                        .iter()
                        .filter_map(|r| match r {
                            ToolResultPart::Text(t) => Some(t.as_str()),
                            ToolResultPart::Image(_) => None,
                        })
                        .collect();
                    out.push((InjectionSource::ToolResults, texts.join("\n")));
                }
                ContentPart::Text { text, .. } if message.role == Role::User => {
                    out.push((InjectionSource::User, text.clone()));
                }
                _ => {}
            }
        }
    }
    out
}
