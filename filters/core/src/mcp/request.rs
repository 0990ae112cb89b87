//! A client's POST, checked before it reaches the server: the stateless revision's
//! headers against the body, the key's access to the tool, prompt or resource, the tool's
//! pin, and the guardrails on a call's arguments.

use base64::Engine;
use serde_json::Value;

use crate::guardrails::{Report, Selection};

use crate::ratelimit::{self, admit_all, RateLimits, Scope, ScopeKind};

use super::config::{McpAccess, ToolCallLimit, ToolChangePolicy};
use super::jsonrpc::{self, Message};
use super::pins::PinBook;
use super::schemas::ToolSchemas;
use super::tool_guard::{argument_texts, guard_arguments};

/// The 2026-07-28 routing headers, as sent (absent for the sessionful revisions).
#[derive(Debug, Clone, Copy, Default)]
pub struct StatelessHeaders<'a> {
    pub method: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Everything a request is checked against.
pub struct ClientRequest<'a> {
    pub headers: StatelessHeaders<'a>,
    pub key_id: &'a str,
    pub call_limits: &'a [ToolCallLimit],
    /// Now, for the call limits' buckets.
    pub now_ms: u64,
    pub access: &'a McpAccess,
    pub pins: &'a PinBook<'a>,
    pub on_tool_change: ToolChangePolicy,
    /// The guardrails for this key, when any apply.
    pub guardrails: Option<&'a Selection>,
    /// The server's tool schemas, when its guardrails include schema checks.
    pub schemas: Option<&'a ToolSchemas<'a>>,
}

/// A request that may go on.
#[derive(Debug, Default, PartialEq)]
pub struct Forward {
    /// The request's id (`None` for a notification), for an answer made up in the
    /// server's place.
    pub id: Option<Value>,
    /// The body to send instead of the client's (a guardrail redacted an argument).
    pub body: Option<Vec<u8>>,
    pub method: Option<String>,
    /// The tool, prompt or resource the request targets.
    pub target: Option<String>,
    /// A call's arguments as the input callouts (webhooks, moderation) must read them
    /// before it goes on; `None` when none apply.
    pub callout_texts: Option<Vec<String>>,
}

/// A request answered by the gateway itself.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    /// The refused request's id (`None` for a notification or an unreadable message).
    pub id: Option<Value>,
    pub status: u16,
    /// A JSON-RPC error response.
    pub body: Vec<u8>,
    pub method: Option<String>,
    pub target: Option<String>,
    /// Short reason for the request log (`access_denied`, `header_mismatch`, …).
    pub reason: &'static str,
}

impl Refusal {
    /// A `tools/call` (`body`, as it would have been forwarded) that an input callout
    /// refused; `message` is the client's error message.
    pub fn guardrail_denied(body: &[u8], message: &str) -> Refusal {
        let parsed = serde_json::from_slice::<Value>(body).ok();
        let call = parsed.and_then(Message::from_value);
        let id = call.as_ref().and_then(|c| c.id().cloned());
        let error = jsonrpc::error(id.as_ref(), jsonrpc::GUARDRAIL_DENIED, message);
        Refusal {
            body: error.to_string().into_bytes(),
            id,
            status: 200,
            method: call.as_ref().and_then(|c| c.method().map(str::to_owned)),
            target: call
                .as_ref()
                .and_then(|c| c.param_str("name").map(str::to_owned)),
            reason: "guardrail_denied",
        }
    }
}

/// Decodes an `Mcp-Name` value: plain visible ASCII, or `=?base64?…?=` for anything else.
fn decode_name_header(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.to_owned()),
    }
}

/// Checks one client message; `report` collects guardrail verdicts.
pub fn check_request(
    request: &ClientRequest,
    body: &[u8],
    report: &mut Report,
) -> Result<Forward, Box<Refusal>> {
    let refuse = |status, id: Option<&Value>, code, reason, message: &str| {
        let body = jsonrpc::error(id, code, message).to_string().into_bytes();
        Box::new(Refusal {
            id: id.cloned(),
            status,
            body,
            method: None,
            target: None,
            reason,
        })
    };
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let Some(mut message) = parsed.and_then(Message::from_value) else {
        let message =
            "The body must be one JSON-RPC message (a JSON object); batches are not supported.";
        return Err(refuse(
            400,
            None,
            jsonrpc::INVALID_REQUEST,
            "invalid_message",
            message,
        ));
    };
    let id = message.id().cloned();
    let method = message.method().map(str::to_owned);
    let target_param = method.as_deref().and_then(jsonrpc::target_param);
    let target = target_param.and_then(|p| message.param_str(p).map(str::to_owned));
    let with_names = |mut refusal: Box<Refusal>| {
        refusal.method = method.clone();
        refusal.target = target.clone();
        refusal
    };
    check_headers(
        request.headers,
        method.as_deref(),
        target_param,
        target.as_deref(),
    )
    .map_err(|msg| {
        with_names(refuse(
            400,
            id.as_ref(),
            jsonrpc::HEADER_MISMATCH,
            "header_mismatch",
            &msg,
        ))
    })?;
    let (Some(method_name), Some(param)) = (method.as_deref(), target_param) else {
        // Notifications, responses to the server's requests, and methods without a target.
        return Ok(Forward {
            id,
            body: None,
            method,
            target,
            callout_texts: None,
        });
    };
    let Some(name) = target.as_deref() else {
        let msg = format!("'{method_name}' needs a string 'params.{param}'.");
        return Err(with_names(refuse(
            200,
            id.as_ref(),
            jsonrpc::INVALID_PARAMS,
            "invalid_params",
            &msg,
        )));
    };
    if !request.access.allows(name) {
        let what = if param == "uri" {
            "resource"
        } else {
            "tool or prompt"
        };
        let msg = format!("This key may not use the {what} '{name}' on this server.");
        return Err(with_names(refuse(
            200,
            id.as_ref(),
            jsonrpc::ACCESS_DENIED,
            "access_denied",
            &msg,
        )));
    }
    let mut forward = Forward {
        id: id.clone(),
        body: None,
        method: method.clone(),
        target: target.clone(),
        callout_texts: None,
    };
    if method_name != "tools/call" {
        return Ok(forward);
    }
    if request.on_tool_change == ToolChangePolicy::Hide && request.pins.is_held(name) {
        let msg =
            format!("The tool '{name}' changed its definition and awaits an operator's approval.");
        return Err(with_names(refuse(
            200,
            id.as_ref(),
            jsonrpc::TOOL_CHANGED,
            "tool_changed",
            &msg,
        )));
    }
    if let Err(denial) = admit_call(request, name) {
        let msg = ratelimit::rate_limited(&denial).message;
        return Err(with_names(refuse(
            200,
            id.as_ref(),
            jsonrpc::RATE_LIMITED,
            "rate_limited",
            &msg,
        )));
    }
    let Some(selection) = request.guardrails else {
        return Ok(forward);
    };
    let guardrail_refusal = |msg: String| {
        with_names(refuse(
            200,
            id.as_ref(),
            jsonrpc::GUARDRAIL_DENIED,
            "guardrail_denied",
            &msg,
        ))
    };
    // Checked as the client sent them, before a redaction changes them.
    if let Some(schemas) = request.schemas {
        let arguments = message.params().and_then(|p| p.get("arguments"));
        schemas
            .check_arguments(selection, name, arguments, report)
            .map_err(guardrail_refusal)?;
    }
    if let Some(arguments) = message.params_mut().and_then(|p| p.get_mut("arguments")) {
        if guard_arguments(selection, arguments, report).map_err(guardrail_refusal)? {
            forward.body = Some(message.to_bytes());
        }
    }
    if !selection.input_callouts.is_empty() {
        let arguments = message.params().and_then(|p| p.get("arguments"));
        forward.callout_texts = Some(argument_texts(arguments));
    }
    Ok(forward)
}

/// Counts a call of `tool` against the key's limit for it, in the store the pins share.
fn admit_call(request: &ClientRequest, tool: &str) -> Result<(), ratelimit::Denial> {
    let Some(limit) = request.call_limits.iter().find(|l| l.tool.matches(tool)) else {
        return Ok(());
    };
    let scope = Scope {
        kind: ScopeKind::Tool,
        bucket: format!(
            "tollgate.rl.mcp.{}.{}.{tool}",
            request.pins.server, request.key_id
        ),
        limits: RateLimits {
            requests_per_minute: Some(limit.calls_per_minute),
            tokens_per_minute: None,
        },
    };
    admit_all(request.pins.store, &[scope], request.now_ms)
}

/// The stateless revision's rule: `Mcp-Method` equals the body's method, and for methods
/// with a target `Mcp-Name` is present and equals it.
fn check_headers(
    headers: StatelessHeaders,
    method: Option<&str>,
    target_param: Option<&str>,
    target: Option<&str>,
) -> Result<(), String> {
    let Some(header_method) = headers.method else {
        return match headers.name {
            Some(_) => Err("Mcp-Name was sent without Mcp-Method.".into()),
            None => Ok(()),
        };
    };
    if Some(header_method) != method {
        return Err(format!(
            "Mcp-Method '{header_method}' does not match the body's method '{}'.",
            method.unwrap_or("")
        ));
    }
    match (target_param, headers.name) {
        (Some(_), None) => Err(format!("'{header_method}' requires an Mcp-Name header.")),
        (Some(param), Some(raw)) => {
            let name = decode_name_header(raw);
            if name.as_deref() == target && target.is_some() {
                Ok(())
            } else {
                Err(format!(
                    "Mcp-Name does not match the body's 'params.{param}'."
                ))
            }
        }
        (None, _) => Ok(()),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
