//! Header names Tollgate uses between its own filters and towards clients.
//!
//! The `x-tollgate-*` request headers are internal: the gateway filter sets them after
//! authentication (overwriting anything a client sent) and the provider filter removes
//! them before the request leaves Envoy.

/// Model alias chosen by the client; Envoy routes on it to the provider's cluster.
pub const ALIAS: &str = "x-tollgate-alias";
/// Client format, operation, key id and team, packed (see `route_context`).
pub const CONTEXT: &str = "x-tollgate-context";
/// The conditional-route rule the request matched (`0`, `1`, …); absent for the default
/// branch. Envoy routes on it with the alias (see `route_rules`).
pub const BRANCH: &str = "x-tollgate-branch";

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
/// Response header of a conditional alias: the rule that chose the route (`0`, `1`, …), or
/// `default`.
pub const RULE: &str = "x-tollgate-rule";

/// Response header: the trace the request belongs to (32 hex digits): the client's
/// `traceparent` trace when it sent a valid one, else a new one. The response also carries
/// a `traceparent` naming the attempt that answered.
pub const TRACE_ID: &str = "x-tollgate-trace-id";
/// Response header: the step (one client request; Envoy's `x-request-id`), for the next
/// request's `x-tollgate-parent-step-id`.
pub const STEP_ID: &str = "x-tollgate-step-id";

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
pub const INTERNAL_REQUEST: [&str; 3] = [ALIAS, CONTEXT, BRANCH];

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

/// Whether a request header is Envoy's own (`x-envoy-attempt-count`, …) or Tollgate's: the
/// provider filter removes these before the request leaves Envoy, after reading them.
pub fn is_internal_upstream(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("x-envoy-") || INTERNAL_REQUEST.contains(&name.as_str())
}

/// Whether a client header must be removed before the request goes on: the virtual key,
/// anything claiming to come from the gateway itself, and the attribution headers (read by
/// the gateway; they are Tollgate's business, not the provider's).
pub fn is_client_credential_or_internal(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("x-api-key")
        || INTERNAL_REQUEST
            .iter()
            .chain(&ATTRIBUTION)
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
            "x-tollgate-agent-id",
            "X-Tollgate-Run-Id",
            "x-tollgate-parent-step-id",
            "x-tollgate-metadata",
            "x-tollgate-branch",
        ] {
            assert!(is_client_credential_or_internal(name), "{name}");
        }
        for name in ["content-type", "x-tollgate", "anthropic-version", "é"] {
            assert!(!is_client_credential_or_internal(name), "{name}");
        }
    }

    #[test]
    fn envoy_and_tollgate_headers_stay_inside() {
        for name in [
            "x-envoy-attempt-count",
            "X-Envoy-Expected-Rq-Timeout-Ms",
            "x-tollgate-branch",
        ] {
            assert!(is_internal_upstream(name), "{name}");
        }
        for name in [
            "x-request-id",
            "x-envoy",
            "x-tollgate-metadata",
            "authorization",
        ] {
            assert!(!is_internal_upstream(name), "{name}");
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
