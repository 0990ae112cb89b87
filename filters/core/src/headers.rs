//! Header names Tollgate uses between its own filters and towards clients.
//!
//! The `x-tollgate-*` request headers are internal: the gateway filter sets them after
//! authentication (overwriting anything a client sent) and the provider filter removes
//! them before the request leaves Envoy.

/// Model alias chosen by the client; Envoy routes on it to the provider's cluster.
pub const ALIAS: &str = "x-tollgate-alias";
/// Client format, operation, key id and team, packed (see `route_context`).
pub const CONTEXT: &str = "x-tollgate-context";

/// Response header: provider that served the request.
pub const PROVIDER: &str = "x-tollgate-provider";
/// Response header: model name the provider was asked for.
pub const UPSTREAM_MODEL: &str = "x-tollgate-upstream-model";

/// Response header: `guardrail/category` of every verdict a `flag` guardrail reached before
/// the headers left (input; whole answers' output). Stream output flags are in the log only.
pub const GUARDRAIL_FLAGS: &str = "x-tollgate-guardrail-flags";
/// Response header: which attempt served (1 = the first), counting retries and fallbacks.
pub const ATTEMPT: &str = "x-tollgate-attempt";
/// Response header: the fallback step that served (0 = the primary target).
pub const FALLBACK_STEP: &str = "x-tollgate-fallback-step";

/// Client request header: the agent that sent the request (see `attribution`).
pub const AGENT_ID: &str = "x-tollgate-agent-id";
/// Client request header: the agent run the request belongs to.
pub const RUN_ID: &str = "x-tollgate-run-id";
/// Client request header: the step of the run that made this call.
pub const PARENT_STEP_ID: &str = "x-tollgate-parent-step-id";
/// Client request header: a JSON object of string values that reports can group by.
pub const METADATA: &str = "x-tollgate-metadata";
/// Every attribution header. The gateway reads them; no provider sees them.
pub const ATTRIBUTION: [&str; 4] = [AGENT_ID, RUN_ID, PARENT_STEP_ID, METADATA];

/// Every internal request header, for stripping.
pub const INTERNAL_REQUEST: [&str; 2] = [ALIAS, CONTEXT];

/// Headers an earlier attempt may have added for its provider: credentials (injected by
/// Envoy) and SigV4 signatures. Envoy hands every attempt the same request header map, so
/// each attempt removes them before its own are added, or a fallback would carry one
/// provider's key to another.
pub fn is_attempt_credential(name: &str) -> bool {
    ["authorization", "x-api-key", "api-key", "x-goog-api-key"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        || name.to_ascii_lowercase().starts_with("x-amz-")
}

/// Whether a client header must be removed before the request goes on: the virtual key and
/// anything claiming to come from the gateway itself.
pub fn is_client_credential_or_internal(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("x-api-key")
        || INTERNAL_REQUEST
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_keys_and_spoofed_internal_headers_only() {
        for name in [
            "authorization",
            "X-Api-Key",
            "x-tollgate-alias",
            "X-Tollgate-Context",
        ] {
            assert!(is_client_credential_or_internal(name), "{name}");
        }
        for name in ["content-type", "x-tollgate", "anthropic-version", "é"] {
            assert!(!is_client_credential_or_internal(name), "{name}");
        }
    }

    #[test]
    fn attempt_credentials_cover_every_provider_kind() {
        for name in [
            "Authorization",
            "x-api-key",
            "api-key",
            "x-goog-api-key",
            "X-Amz-Date",
        ] {
            assert!(is_attempt_credential(name), "{name}");
        }
        for name in ["content-type", "anthropic-version", "x-tollgate-alias"] {
            assert!(!is_attempt_credential(name), "{name}");
        }
    }
}
