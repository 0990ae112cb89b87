//! What the filters need to know about retries and fallbacks, which Envoy's router runs.
//!
//! - Envoy answers some failures itself (a timeout, no reachable provider) with a plain
//!   text body; [`envoy_reply_error`] is the error to send in the client's format instead.
//! - The route says which fallback step each attempt is (`steps` in its metadata, see the
//!   control plane's renderer); [`fallback_step`] reads it.
//! - Envoy's rate-limited back-off reads `retry-after` in seconds only;
//!   [`retry_after_from_millis`] converts the millisecond variants some providers send.

use crate::error::{ErrorKind, GatewayError};

/// Millisecond variants of `retry-after` (OpenAI-compatible servers, Azure).
pub const RETRY_AFTER_MS_HEADERS: [&str; 2] = ["retry-after-ms", "x-ms-retry-after-ms"];

/// Whether a response is one Envoy made up: an error status with a plain text body, and
/// no provider filter ever saw it (that filter always names its provider).
pub fn is_envoy_reply(status: u16, content_type: Option<&str>, has_provider: bool) -> bool {
    status >= 500 && !has_provider && content_type.is_none_or(|t| t.starts_with("text/plain"))
}

/// The error for an answer Envoy made up, by its status.
pub fn envoy_reply_error(status: u16) -> GatewayError {
    match status {
        504 => GatewayError::new(
            ErrorKind::Timeout,
            "upstream_timeout",
            "The provider did not answer in time (every attempt included).",
        ),
        503 => GatewayError::new(
            ErrorKind::Unavailable,
            "upstream_unavailable",
            "No provider could be reached for this model; try again later.",
        ),
        _ => GatewayError::bad_upstream("The provider connection failed."),
    }
}

/// The fallback step of `attempt` (1-based) from a route's `steps` list (`0,0,1`).
pub fn fallback_step(steps: &str, attempt: u64) -> Option<&str> {
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    steps.split(',').nth(index)
}

/// `retry-after` seconds for a millisecond value, rounded up so the wait is not shorter.
pub fn retry_after_from_millis(millis: &str) -> Option<u64> {
    let millis: f64 = millis.trim().parse().ok()?;
    (millis.is_finite() && millis >= 0.0).then(|| (millis / 1000.0).ceil() as u64)
}

/// An integer property as proxy-wasm hands it over: 8 bytes, little-endian.
pub fn le_integer(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_envoy_replies_only() {
        assert!(is_envoy_reply(504, Some("text/plain"), false));
        assert!(is_envoy_reply(503, None, false));
        assert!(!is_envoy_reply(503, Some("text/plain"), true));
        assert!(!is_envoy_reply(503, Some("application/json"), false));
        assert!(!is_envoy_reply(404, Some("text/plain"), false));
    }

    #[test]
    fn timeouts_and_unavailability_keep_their_status() {
        assert_eq!(envoy_reply_error(504).status(), 504);
        assert_eq!(envoy_reply_error(503).status(), 503);
        assert_eq!(envoy_reply_error(500).status(), 502);
    }

    #[test]
    fn reads_the_step_of_an_attempt() {
        assert_eq!(fallback_step("0,0,1", 1), Some("0"));
        assert_eq!(fallback_step("0,0,1", 3), Some("1"));
        assert_eq!(fallback_step("0,0,1", 4), None);
        assert_eq!(fallback_step("0", 0), None);
    }

    #[test]
    fn rounds_milliseconds_up() {
        assert_eq!(retry_after_from_millis("1500"), Some(2));
        assert_eq!(retry_after_from_millis("0"), Some(0));
        assert_eq!(retry_after_from_millis("12.5"), Some(1));
        assert_eq!(retry_after_from_millis("soon"), None);
        assert_eq!(retry_after_from_millis("-3"), None);
    }

    #[test]
    fn decodes_little_endian_integers() {
        assert_eq!(le_integer(&2u64.to_le_bytes()), Some(2));
        assert_eq!(le_integer(b"2"), None);
    }
}
