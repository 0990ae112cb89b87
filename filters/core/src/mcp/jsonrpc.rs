//! The JSON-RPC 2.0 envelope as the gateway reads it, and the errors it answers with.
//!
//! Only the fields the gateway decides on are read; everything else of a message stays as
//! the peer wrote it (a message the gateway does not change is forwarded byte for byte).

use serde_json::{json, Map, Value};

use crate::error::{ErrorKind, GatewayError};

/// The message is not a valid JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// A required parameter is missing or has the wrong type.
pub const INVALID_PARAMS: i64 = -32602;
/// 2026-07-28: an `Mcp-Method` / `Mcp-Name` header disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// Gateway-defined (JSON-RPC's server-error range): the key may not use this tool, prompt
/// or resource.
pub const ACCESS_DENIED: i64 = -32003;
/// Gateway-defined: a guardrail refused the arguments or withheld the result.
pub const GUARDRAIL_DENIED: i64 = -32004;
/// Gateway-defined: the tool's definition changed and awaits an operator's approval.
pub const TOOL_CHANGED: i64 = -32005;
/// Gateway-defined: the key's calls-per-minute limit for this tool is reached.
pub const RATE_LIMITED: i64 = -32006;
/// Gateway-defined: a budget of the key, team or agent cannot hold the call's price.
pub const BUDGET_EXCEEDED: i64 = -32007;
/// JSON-RPC's own: the gateway failed (Envoy's or Tollgate's fault, not the client's).
pub const INTERNAL_ERROR: i64 = -32603;
/// Gateway-defined: the MCP server could not be reached, or its connection failed before
/// it answered (Envoy's own 502 and 503).
pub const UPSTREAM_UNAVAILABLE: i64 = -32010;
/// Gateway-defined: the MCP server did not answer in time (Envoy's own 504).
pub const UPSTREAM_TIMEOUT: i64 = -32011;
/// Gateway-defined: a server's SSE event was too large to check, and was withheld.
pub const ANSWER_TOO_LARGE: i64 = -32012;

/// A JSON-RPC message parsed as an object, with typed access to its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Message(pub Map<String, Value>);

impl Message {
    /// `None` unless `value` is a JSON object.
    pub fn from_value(value: Value) -> Option<Message> {
        match value {
            Value::Object(map) => Some(Message(map)),
            _ => None,
        }
    }

    /// The request id; absent for notifications.
    pub fn id(&self) -> Option<&Value> {
        self.0.get("id")
    }

    /// The method, for requests and notifications; `None` for responses.
    pub fn method(&self) -> Option<&str> {
        self.0.get("method")?.as_str()
    }

    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.0.get("params")?.as_object()
    }

    pub fn params_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.0.get_mut("params")?.as_object_mut()
    }

    /// A string parameter (`name`, `uri`).
    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params()?.get(name)?.as_str()
    }

    pub fn result_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.0.get_mut("result")?.as_object_mut()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

/// An error response to the request `id` (`null` when the id could not be read).
pub fn error(id: Option<&Value>, code: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    })
}

/// The JSON-RPC code an MCP client gets for a gateway error.
pub fn code_of(kind: ErrorKind) -> i64 {
    match kind {
        ErrorKind::Authentication | ErrorKind::PermissionDenied => ACCESS_DENIED,
        ErrorKind::RateLimited => RATE_LIMITED,
        ErrorKind::BudgetExceeded => BUDGET_EXCEEDED,
        ErrorKind::InvalidRequest
        | ErrorKind::NotFound
        | ErrorKind::MethodNotAllowed
        | ErrorKind::TooLarge => INVALID_REQUEST,
        ErrorKind::BadUpstream | ErrorKind::Unavailable => UPSTREAM_UNAVAILABLE,
        ErrorKind::Timeout => UPSTREAM_TIMEOUT,
        ErrorKind::Internal => INTERNAL_ERROR,
    }
}

/// A gateway error as the JSON-RPC error response an MCP client reads (instead of the
/// OpenAI error object LLM clients get); the gateway's error code goes in `data.type`.
pub fn gateway_error(id: Option<&Value>, gateway: &GatewayError) -> Value {
    let mut response = error(id, code_of(gateway.kind), &gateway.message);
    response["error"]["data"] = json!({"type": gateway.code});
    response
}

/// The JSON-RPC error for an answer Envoy made up on an MCP route (the server unreachable
/// or too slow; `error` from `attempts::envoy_reply_error`), to the request `id` when the
/// MCP filter read it. MCP clients read a JSON-RPC error at any HTTP status.
pub fn upstream_failure(error: &GatewayError, id: Option<&Value>) -> Value {
    let (code, message) = match error.kind {
        ErrorKind::Timeout => (UPSTREAM_TIMEOUT, "The MCP server did not answer in time."),
        _ => (
            UPSTREAM_UNAVAILABLE,
            "The MCP server could not be reached; try again later.",
        ),
    };
    let mut answer = self::error(id, code, message);
    answer["error"]["data"] = json!({"reason": error.code});
    answer
}

/// The name of the request's target a `Mcp-Name` header carries: the tool or prompt name,
/// or the resource URI; `None` for methods without one.
pub fn target_param(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_envelope() {
        let m = Message::from_value(json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
            "params":{"name":"echo","arguments":{}}}))
        .unwrap();
        assert_eq!(m.id(), Some(&json!(7)));
        assert_eq!(m.method(), Some("tools/call"));
        assert_eq!(m.param_str("name"), Some("echo"));
        assert!(Message::from_value(json!([1])).is_none());
    }

    #[test]
    fn envoys_own_failures_become_json_rpc_errors_to_the_request() {
        use crate::attempts::envoy_reply_error;
        let unreachable = upstream_failure(&envoy_reply_error(503), Some(&json!("r-7")));
        assert_eq!(unreachable["id"], "r-7");
        assert_eq!(unreachable["error"]["code"], UPSTREAM_UNAVAILABLE);
        assert_eq!(
            unreachable["error"]["data"]["reason"],
            "upstream_unavailable"
        );
        assert!(unreachable["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCP server"));
        let slow = upstream_failure(&envoy_reply_error(504), None);
        assert_eq!(slow["id"], Value::Null);
        assert_eq!(slow["error"]["code"], UPSTREAM_TIMEOUT);
        assert_eq!(
            upstream_failure(&envoy_reply_error(500), None)["error"]["code"],
            UPSTREAM_UNAVAILABLE
        );
    }

    #[test]
    fn errors_keep_the_id() {
        let e = error(Some(&json!("a")), ACCESS_DENIED, "no");
        assert_eq!(e["id"], "a");
        assert_eq!(e["error"]["code"], ACCESS_DENIED);
        assert_eq!(error(None, INVALID_REQUEST, "x")["id"], Value::Null);
    }

    #[test]
    fn gateway_errors_keep_their_message_and_type() {
        let limited = GatewayError::new(ErrorKind::RateLimited, "rate_limit_exceeded", "slow");
        let e = gateway_error(None, &limited);
        assert_eq!(e["id"], Value::Null);
        assert_eq!(e["error"]["code"], RATE_LIMITED);
        assert_eq!(e["error"]["message"], "slow");
        assert_eq!(e["error"]["data"]["type"], "rate_limit_exceeded");
        let spent = GatewayError::new(ErrorKind::BudgetExceeded, "budget_exceeded", "no");
        assert_eq!(
            gateway_error(Some(&json!(4)), &spent)["error"]["code"],
            BUDGET_EXCEEDED
        );
        assert_eq!(code_of(ErrorKind::Authentication), ACCESS_DENIED);
        assert_eq!(code_of(ErrorKind::Timeout), UPSTREAM_TIMEOUT);
        assert_eq!(code_of(ErrorKind::Internal), INTERNAL_ERROR);
    }
}
