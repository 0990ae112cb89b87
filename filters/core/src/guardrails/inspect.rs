//! Guarding whole canonical messages: a request before it leaves for the provider, and a
//! non-streamed answer before it goes back to the client.

use std::borrow::Cow;

use crate::guard::{Action, CompiledGuardrails, Denial, Escape, Finding, Masking};
use crate::model::{ContentPart, Request, Response, ToolResultPart};

/// What guarding one message found and did.
#[derive(Debug, Default)]
pub struct Inspection {
    pub findings: Vec<Finding>,
    /// Set when a deny guardrail matched; the message must not be forwarded.
    pub denied: Option<Denial>,
    /// A redaction or unmasking changed some text.
    pub changed: bool,
}

impl Inspection {
    /// Runs the guardrails over one text, replacing it when redacted. Stops at a denial.
    fn text(&mut self, guards: &CompiledGuardrails, masking: &mut Masking, text: &mut String) {
        if self.denied.is_some() {
            return;
        }
        let outcome = guards.apply(text, masking);
        self.findings.extend(outcome.verdict.findings);
        self.denied = outcome.denied;
        if let (None, Cow::Owned(redacted)) = (&self.denied, outcome.text) {
            *text = redacted;
            self.changed = true;
        }
    }

    /// Records a finding of a check that judges a whole text (injection, schema); a deny
    /// finding refuses with `detail`. Returns whether the message is now denied.
    pub(crate) fn record(&mut self, finding: Finding, detail: Option<String>) -> bool {
        if finding.action == Action::Deny && self.denied.is_none() {
            self.denied = Some(Denial {
                guardrail: finding.guardrail.clone(),
                category: finding.category.clone(),
                detail,
            });
        }
        self.findings.push(finding);
        self.denied.is_some()
    }

    fn unmask(&mut self, masking: &Masking, text: &mut String, escape: Escape) {
        if let Cow::Owned(restored) = masking.unmask_with(text, escape) {
            *text = restored;
            self.changed = true;
        }
    }
}

/// Guards every text of a request: system prompt, message text, tool calls in the history
/// (their JSON arguments, as text) and tool results. Thinking is left alone: providers sign
/// it, and changing it would invalidate the conversation.
pub fn guard_request(
    request: &mut Request,
    guards: &CompiledGuardrails,
    masking: &mut Masking,
) -> Inspection {
    let mut inspection = Inspection::default();
    for part in &mut request.system {
        inspection.text(guards, masking, &mut part.text);
    }
    for message in &mut request.messages {
        for part in &mut message.content {
            match part {
                ContentPart::Text { text, .. } => inspection.text(guards, masking, text),
                ContentPart::ToolCall { arguments, .. } => {
                    inspection.text(guards, masking, arguments)
                }
                ContentPart::ToolResult { content, .. } => {
                    for result in content {
                        if let ToolResultPart::Text(text) = result {
                            inspection.text(guards, masking, text);
                        }
                    }
                }
                ContentPart::Image { .. }
                | ContentPart::Thinking { .. }
                | ContentPart::RedactedThinking { .. } => {}
            }
        }
    }
    inspection
}

/// Every text of a request as guarded (for a webhook), in [`guard_request`]'s order.
pub fn request_texts(request: &Request) -> Vec<&str> {
    let mut texts: Vec<&str> = request.system.iter().map(|p| p.text.as_str()).collect();
    for part in request.messages.iter().flat_map(|m| &m.content) {
        match part {
            ContentPart::Text { text, .. } => texts.push(text),
            ContentPart::ToolCall { arguments, .. } => texts.push(arguments),
            ContentPart::ToolResult { content, .. } => {
                texts.extend(content.iter().filter_map(|r| match r {
                    ToolResultPart::Text(text) => Some(text.as_str()),
                    ToolResultPart::Image(_) => None,
                }))
            }
            _ => {}
        }
    }
    texts
}

/// Guards a whole answer (text and tool-call arguments) with the output guardrails, then
/// puts back the values reversible input guardrails masked (`unmask`: the request's
/// masking as it was before the answer). `collect` receives each text as guarded, before
/// unmasking (what output callouts are shown).
pub fn guard_response(
    response: &mut Response,
    guards: Option<&CompiledGuardrails>,
    masking: &mut Masking,
    unmask: &Masking,
    mut collect: Option<&mut Vec<String>>,
) -> Inspection {
    let mut inspection = Inspection::default();
    for part in &mut response.content {
        let (text, escape) = match part {
            ContentPart::Text { text, .. } => (text, Escape::None),
            ContentPart::ToolCall { arguments, .. } => (arguments, Escape::JsonString),
            _ => continue,
        };
        if let Some(guards) = guards {
            inspection.text(guards, masking, text);
        }
        if inspection.denied.is_some() {
            break;
        }
        if let Some(texts) = collect.as_deref_mut() {
            texts.push(text.clone());
        }
        inspection.unmask(unmask, text, escape);
    }
    inspection
}
