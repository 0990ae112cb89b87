//! Trace and span ids of a usage record.
//!
//! Records from a filter that propagates W3C trace context carry `trace_id`, `span_id` and
//! `parent_span_id`; those are used as they are. Older records, or records whose ids are
//! malformed, get ids derived deterministically, so re-exporting a record always yields
//! the same span:
//! - trace id: the first 16 bytes of SHA-256(`tollgate.trace:` + run id), or, without a
//!   run id, of the record id's request part (`<request id>` of `<request id>.<attempt>`),
//!   so the attempts of one request share a trace;
//! - span id: the first 8 bytes of SHA-256(`tollgate.span:` + step id, else record id);
//! - parent span id: the one derived the same way from `parent_step_id`, when given
//!   and the record has no `parent_span_id` field at all.

use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanIds {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
}

/// The ids of `record`, whose `id` is `id`.
pub fn span_ids(record: &Value, id: &str) -> SpanIds {
    let text = |field: &str| record.get(field).and_then(Value::as_str);
    let trace_id = text("trace_id").and_then(decode_hex).unwrap_or_else(|| {
        let run = text("run_id").unwrap_or_else(|| request_part(id));
        derive("tollgate.trace:", run)
    });
    let span_id = text("span_id")
        .and_then(decode_hex)
        .unwrap_or_else(|| derive("tollgate.span:", text("step_id").unwrap_or(id)));
    // A record that carries the field (null for a root) knows its parent; only older
    // records fall back on the parent step.
    let parent_span_id = match record.get("parent_span_id") {
        Some(parent) => parent.as_str().and_then(decode_hex),
        None => text("parent_step_id").map(|step| derive("tollgate.span:", step)),
    };
    SpanIds {
        trace_id,
        span_id,
        parent_span_id,
    }
}

/// `<request id>` of a record id `<request id>.<attempt>`.
fn request_part(id: &str) -> &str {
    id.rsplit_once('.').map_or(id, |(request, _)| request)
}

fn derive<const N: usize>(domain: &str, text: &str) -> [u8; N] {
    let digest = Sha256::new()
        .chain_update(domain)
        .chain_update(text)
        .finalize();
    let mut out = [0u8; N];
    out.copy_from_slice(&digest[..N]);
    out
}

/// Lower-case hex of exactly `N` bytes, not all zero (W3C: an all-zero id is invalid).
fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    out.iter().any(|b| *b != 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn uses_the_records_own_ids() {
        let record = json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "parent_span_id": "b7ad6b7169203331",
        });
        let ids = span_ids(&record, "r.1");
        assert_eq!(ids.trace_id[..2], [0x4b, 0xf9]);
        assert_eq!(
            ids.span_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert_eq!(ids.parent_span_id.unwrap()[0], 0xb7);
    }

    #[test]
    fn a_null_parent_is_a_root() {
        let record =
            json!({"span_id": "00f067aa0ba902b7", "parent_span_id": null, "parent_step_id": "s0"});
        assert_eq!(span_ids(&record, "r.1").parent_span_id, None);
    }

    #[test]
    fn derives_stable_ids_that_link_steps_of_a_run() {
        let first = json!({"run_id": "run-1", "step_id": "s1"});
        let second = json!({"run_id": "run-1", "step_id": "s2", "parent_step_id": "s1"});
        let a = span_ids(&first, "req-a.1");
        let b = span_ids(&second, "req-b.1");
        assert_eq!(a.trace_id, b.trace_id, "one run, one trace");
        assert_eq!(b.parent_span_id, Some(a.span_id));
        assert_eq!(a.parent_span_id, None);
        assert_eq!(span_ids(&first, "req-a.1"), a, "deterministic");
    }

    #[test]
    fn without_a_run_the_attempts_of_a_request_share_a_trace() {
        let record = json!({});
        let first = span_ids(&record, "8d3f.1");
        let retry = span_ids(&record, "8d3f.2");
        assert_eq!(first.trace_id, retry.trace_id);
        assert_ne!(first.span_id, retry.span_id);
        assert_ne!(span_ids(&record, "other.1").trace_id, first.trace_id);
    }

    #[test]
    fn malformed_or_zero_ids_are_replaced() {
        for bad in [
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "abc",
            "00000000000000000000000000000000",
        ] {
            let ids = span_ids(&json!({"trace_id": bad, "run_id": "r"}), "x.1");
            assert_eq!(
                ids.trace_id,
                span_ids(&json!({"run_id": "r"}), "x.1").trace_id
            );
        }
    }
}
