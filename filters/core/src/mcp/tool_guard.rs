//! Guardrails on tool I/O: the input rules over every string of a `tools/call`'s
//! arguments, the output rules and the prompt-injection checks over its result.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::guard::{CompiledGuardrails, Denial, Masking};
use crate::guardrails::{denied_error, Report, Selection, Stage};
use crate::model::{ContentPart, Message, Request, Role, ToolResultPart};

/// Runs `guards` over every string in `value`, redacting in place; stops at a denial.
/// Returns whether anything was redacted.
fn guard_strings(
    guards: &CompiledGuardrails,
    stage: Stage,
    value: &mut Value,
    masking: &mut Masking,
    report: &mut Report,
) -> Result<bool, Denial> {
    match value {
        Value::String(text) => {
            let outcome = guards.apply(text, masking);
            report.findings(stage, &outcome.verdict.findings);
            if let Some(denial) = outcome.denied {
                return Err(denial);
            }
            match outcome.text {
                Cow::Owned(redacted) => {
                    *text = redacted;
                    Ok(true)
                }
                Cow::Borrowed(_) => Ok(false),
            }
        }
        Value::Array(items) => items.iter_mut().try_fold(false, |changed, item| {
            Ok(guard_strings(guards, stage, item, masking, report)? || changed)
        }),
        Value::Object(map) => map.values_mut().try_fold(false, |changed, item| {
            Ok(guard_strings(guards, stage, item, masking, report)? || changed)
        }),
        _ => Ok(false),
    }
}

/// The input stage on a call's `arguments`. `Err` carries the client's error message.
pub fn guard_arguments(
    selection: &Selection,
    arguments: &mut Value,
    report: &mut Report,
) -> Result<bool, String> {
    let Some(guards) = &selection.input else {
        return Ok(false);
    };
    guard_strings(guards, Stage::Input, arguments, &mut Masking::new(), report)
        .map_err(|denial| denied_error(Stage::Input, &denial).message)
}

/// The text parts of a call result's `content`.
fn result_texts(result: &Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(content)) = result.get("content") else {
        return Vec::new();
    };
    content
        .iter()
        .filter(|part| part.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|part| part.get("text")?.as_str().map(str::to_owned))
        .collect()
}

/// What the callouts (webhooks, moderation) are shown of a call's arguments: their compact
/// JSON, as the LLM path shows a tool call's arguments.
pub fn argument_texts(arguments: Option<&Value>) -> Vec<String> {
    vec![arguments.map_or_else(|| "{}".to_owned(), Value::to_string)]
}

/// What the callouts are shown of a call's result: its text parts, then its structured
/// content as compact JSON. `None` unless `result` is a call result (it has `content`).
pub fn result_callout_texts(result: &Map<String, Value>) -> Option<Vec<String>> {
    if !result.contains_key("content") {
        return None;
    }
    let mut texts = result_texts(result);
    texts.extend(result.get("structuredContent").map(Value::to_string));
    Some(texts)
}

/// The output stage on a call's result: injection checks (which read the result as the
/// tool result it becomes in the agent's conversation), then the output rules over its
/// text and structured content. `Err` carries the client's error message.
pub fn guard_result(
    selection: &Selection,
    result: &mut Map<String, Value>,
    report: &mut Report,
) -> Result<bool, String> {
    if let Some(injection) = &selection.injection {
        let texts = result_texts(result);
        if !texts.is_empty() {
            let request = Request {
                messages: vec![Message {
                    role: Role::User,
                    content: vec![ContentPart::ToolResult {
                        call_id: String::new(),
                        content: texts.into_iter().map(ToolResultPart::Text).collect(),
                        is_error: false,
                        cache_control: None,
                    }],
                }],
                ..Request::default()
            };
            let inspection = injection.inspect(&request);
            report.findings(Stage::Output, &inspection.findings);
            if let Some(denial) = &inspection.denied {
                return Err(denied_error(Stage::Output, denial).message);
            }
        }
    }
    let Some(guards) = &selection.output else {
        return Ok(false);
    };
    let mut masking = Masking::new();
    let mut changed = false;
    let mut guard = |value: &mut Value| {
        guard_strings(guards, Stage::Output, value, &mut masking, report)
            .map_err(|denial| denied_error(Stage::Output, &denial).message)
    };
    // Only text: an image's base64 or a part's `type` is not something rules read.
    if let Some(Value::Array(content)) = result.get_mut("content") {
        for part in content.iter_mut() {
            let text = match part.get("type").and_then(Value::as_str) {
                Some("text") => part.get_mut("text"),
                Some("resource") => part.get_mut("resource").and_then(|r| r.get_mut("text")),
                _ => None,
            };
            if let Some(text) = text {
                changed |= guard(text)?;
            }
        }
    }
    if let Some(structured) = result.get_mut("structuredContent") {
        changed |= guard(structured)?;
    }
    Ok(changed)
}
