//! W3C Trace Context (`traceparent`, `tracestate`): parsing what a client sent, starting a
//! trace when it sent nothing usable, and the child `traceparent` of each upstream attempt.
//!
//! Parsing is strict (version `00`, lower-case hex, no all-zero ids, exact length; a
//! future version is read by its first four fields, as the spec asks). A header that fails
//! is not an error for the client: the gateway starts a new trace, as the spec
//! recommends, and the request goes on. Ids are random bytes the caller supplies, so this
//! module stays free of any host.

use serde::{Deserialize, Serialize};

use crate::keys::to_hex as hex;

/// Request and response header of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// Vendor trace state, passed upstream unchanged with a valid `traceparent`.
pub const TRACESTATE: &str = "tracestate";

/// Longest `tracestate` passed on (the spec allows 32 members of up to 256 bytes; anything
/// larger is dropped, not truncated, since a cut member would be corrupt).
pub const MAX_TRACESTATE_BYTES: usize = 8192;

/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;

/// A request's place in a distributed trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// 32 lower-case hex digits, not all zero.
    pub trace_id: String,
    /// The client's span (16 lower-case hex digits) that this request is a child of; `None`
    /// when the gateway started the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Trace flags as sent (sampled by default for a trace the gateway starts).
    pub flags: u8,
    /// The client's `tracestate`, kept only with a valid `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The client's context when its `traceparent` is valid, else a new trace with
    /// `random_trace_id` (its `tracestate` then belongs to no trace and is dropped).
    pub fn from_headers(
        traceparent: Option<&str>,
        tracestate: Option<&str>,
        random_trace_id: [u8; 16],
    ) -> TraceContext {
        match traceparent.and_then(parse_traceparent) {
            Some(parent) => TraceContext {
                trace_id: parent.trace_id,
                parent_span_id: Some(parent.span_id),
                flags: parent.flags,
                tracestate: tracestate
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && s.len() <= MAX_TRACESTATE_BYTES)
                    .map(str::to_owned),
            },
            None => TraceContext::start(random_trace_id),
        }
    }

    /// A new, sampled trace.
    pub fn start(random_trace_id: [u8; 16]) -> TraceContext {
        TraceContext {
            trace_id: hex(&non_zero(random_trace_id)),
            parent_span_id: None,
            flags: SAMPLED,
            tracestate: None,
        }
    }

    /// The `traceparent` naming `span_id` as the current span of this trace.
    pub fn traceparent(&self, span_id: &str) -> String {
        format!("00-{}-{span_id}-{:02x}", self.trace_id, self.flags)
    }
}

/// Id bytes derived from `seed` (Envoy's random request id plus what the id is for), for
/// a host whose random source failed: unique as long as the request ids are.
pub fn derived_bytes<const N: usize>(seed: &str) -> [u8; N] {
    let digest = crate::keys::digest(seed);
    let mut out = [0u8; N];
    let n = N.min(digest.len());
    out[..n].copy_from_slice(&digest[..n]);
    out
}

/// A span id (16 lower-case hex digits, never all zero) from 8 random bytes.
pub fn span_id(random: [u8; 8]) -> String {
    hex(&non_zero(random))
}

/// The fields of a valid `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: String,
    pub span_id: String,
    pub flags: u8,
}

/// Parses a `traceparent` header; `None` when it is not valid.
pub fn parse_traceparent(value: &str) -> Option<TraceParent> {
    let value = value.trim_matches([' ', '\t']);
    let mut fields = value.split('-');
    let version = fields.next()?;
    let trace_id = fields.next()?;
    let span_id = fields.next()?;
    let flags = fields.next()?;
    let version = parse_hex_byte(version)?;
    // Version ff is forbidden; version 00 has exactly four fields, while a later version
    // may append more (read as far as this version goes).
    let rest_ok = match version {
        0xff => false,
        0x00 => fields.next().is_none(),
        _ => true,
    };
    let valid = rest_ok
        && is_lower_hex(trace_id, 32)
        && is_lower_hex(span_id, 16)
        && !is_all_zero(trace_id)
        && !is_all_zero(span_id);
    if !valid {
        return None;
    }
    Some(TraceParent {
        trace_id: trace_id.to_owned(),
        span_id: span_id.to_owned(),
        flags: parse_hex_byte(flags)?,
    })
}

fn parse_hex_byte(field: &str) -> Option<u8> {
    if !is_lower_hex(field, 2) {
        return None;
    }
    u8::from_str_radix(field, 16).ok()
}

fn is_lower_hex(field: &str, len: usize) -> bool {
    field.len() == len
        && field
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_all_zero(field: &str) -> bool {
    field.bytes().all(|b| b == b'0')
}

/// All-zero ids are invalid; the (astronomically unlikely) all-zero draw becomes 1.
fn non_zero<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    if bytes.iter().all(|&b| b == 0) {
        bytes[N - 1] = 1;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_spec_example() {
        let parent = parse_traceparent(VALID).unwrap();
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.span_id, "00f067aa0ba902b7");
        assert_eq!(parent.flags, 1);
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_future_version_is_read_by_its_known_fields() {
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever";
        assert!(parse_traceparent(future).is_some());
    }

    #[test]
    fn keeps_the_clients_trace_and_state() {
        let context = TraceContext::from_headers(Some(VALID), Some("vendor=abc"), [7; 16]);
        assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(context.tracestate.as_deref(), Some("vendor=abc"));
        assert_eq!(
            context.traceparent("b7ad6b7169203331"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
        );
    }

    #[test]
    fn an_invalid_parent_starts_a_new_trace_and_drops_its_state() {
        let context = TraceContext::from_headers(Some("garbage"), Some("vendor=abc"), [0xab; 16]);
        assert_eq!(context.trace_id, "ab".repeat(16));
        assert_eq!(context.parent_span_id, None);
        assert_eq!(context.tracestate, None);
        assert_eq!(context.flags, SAMPLED);
    }

    #[test]
    fn unsampled_flags_are_kept() {
        let unsampled = VALID.replace("-01", "-00");
        let context = TraceContext::from_headers(Some(&unsampled), None, [1; 16]);
        assert!(context.traceparent("b7ad6b7169203331").ends_with("-00"));
    }

    #[test]
    fn oversized_state_is_dropped() {
        let huge = "a=".to_owned() + &"b".repeat(MAX_TRACESTATE_BYTES);
        let context = TraceContext::from_headers(Some(VALID), Some(&huge), [1; 16]);
        assert_eq!(context.tracestate, None);
    }

    #[test]
    fn derived_ids_differ_by_seed() {
        let a: [u8; 16] = derived_bytes("req-1/trace");
        let b: [u8; 16] = derived_bytes("req-2/trace");
        assert_ne!(a, b);
        assert_eq!(a, derived_bytes("req-1/trace"));
    }

    #[test]
    fn generated_ids_are_valid_and_never_zero() {
        assert_eq!(span_id([0; 8]), "0000000000000001");
        assert_eq!(
            TraceContext::start([0; 16]).trace_id,
            format!("{}1", "0".repeat(31))
        );
        let context = TraceContext::start([0x5a; 16]);
        let header = context.traceparent(&span_id([0xc3; 8]));
        let parsed = parse_traceparent(&header).unwrap();
        assert_eq!(parsed.trace_id, context.trace_id);
        assert_eq!(parsed.span_id, "c3".repeat(8));
    }
}
