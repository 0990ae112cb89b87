//! Values the filters hand to Envoy's access log.
//!
//! The filters store them as filter-state properties (`set_property`), which Envoy's
//! access log reads back as `%FILTER_STATE(wasm.<name>:PLAIN)%` — also from the upstream
//! (provider) position, whose request headers Envoy shares with the downstream side and
//! which therefore cannot carry them. The control plane renders the access-log format from
//! this list, so the two sides cannot drift apart.

/// A property written by a filter and the access-log field that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogField {
    /// Name passed to `set_property`.
    pub property: &'static str,
    /// Key in the JSON access-log line.
    pub field: &'static str,
}

impl LogField {
    /// The access-log command operator that prints this property.
    pub fn access_log_operator(&self) -> String {
        format!("%FILTER_STATE(wasm.{}:PLAIN)%", self.property)
    }
}

/// The path the client called (the provider filter rewrites `:path` for the upstream).
pub const CLIENT_PATH: LogField = LogField {
    property: "tollgate_client_path",
    field: "path",
};
/// Id of the authenticated virtual key.
pub const KEY_ID: LogField = LogField {
    property: "tollgate_key_id",
    field: "key_id",
};
/// Team of the authenticated virtual key.
pub const TEAM: LogField = LogField {
    property: "tollgate_team",
    field: "team",
};
/// Model alias the client asked for.
pub const ALIAS: LogField = LogField {
    property: "tollgate_alias",
    field: "alias",
};
/// The usage record of the attempt that answered, as a JSON string.
pub const USAGE: LogField = LogField {
    property: "tollgate_usage",
    field: "usage",
};

/// Guardrail verdicts (stage, guardrail, category, action, count) and time spent, as a
/// JSON string; absent when no guardrail applied.
pub const GUARDRAILS: LogField = LogField {
    property: "tollgate_guardrails",
    field: "guardrails",
};
/// The packed route context (`route_context`), kept for retries and fallbacks: the first
/// attempt removes the internal header, and Envoy shares one header map across attempts.
pub const ROUTE_CONTEXT: LogField = LogField {
    property: "tollgate_route_context",
    field: "route_context",
};

/// The request's validated attribution (`attribution::Attribution::encode`), from the
/// gateway filter to the provider filter's usage record; absent when the client sent none.
/// Not an access-log field of its own: the usage record carries it.
pub const ATTRIBUTION: LogField = LogField {
    property: "tollgate_attribution",
    field: "attribution",
};

/// The step's trace context and payload capture mode (`step_context::StepContext`), from
/// the gateway filter to the provider filter. Not an access-log field of its own: the usage
/// record carries it.
pub const STEP_CONTEXT: LogField = LogField {
    property: "tollgate_step_context",
    field: "step_context",
};

/// What the MCP filter decided about an MCP request and changed in its answer
/// (`mcp::McpRecord`), as a JSON string; absent for every other request.
pub const MCP: LogField = LogField {
    property: "tollgate_mcp",
    field: "mcp",
};

/// The draft of a forwarded `tools/call`'s step (`mcp::StepDraft`), from the MCP filter to
/// the gateway filter: emptied once the MCP filter shipped the step; still there at the
/// gateway's `on_log`, the exchange was cut off (Envoy skips the upstream filter's
/// `on_log` when the client or the server breaks the stream). Not an access-log field.
pub const MCP_STEP: LogField = LogField {
    property: "tollgate_mcp_step",
    field: "mcp_step",
};

/// The JSON-RPC id of an MCP POST (JSON text), from the MCP filter to the gateway filter,
/// whose error for an answer Envoy made up then answers that request. Not an access-log
/// field.
pub const MCP_REQUEST_ID: LogField = LogField {
    property: "tollgate_mcp_request_id",
    field: "mcp_request_id",
};

/// Every field, in access-log order.
pub const ALL: [LogField; 7] = [CLIENT_PATH, KEY_ID, TEAM, ALIAS, USAGE, GUARDRAILS, MCP];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_the_wasm_filter_state() {
        assert_eq!(
            USAGE.access_log_operator(),
            "%FILTER_STATE(wasm.tollgate_usage:PLAIN)%"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ALL.iter().flat_map(|f| [f.property, f.field]).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len() * 2);
    }
}
