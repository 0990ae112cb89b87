//! Tool-call ids and the `thoughtSignature` they carry.
//!
//! Gemini usually gives a `functionCall` no id, so the decoders make one up,
//! deterministically: `call_<responseId>_<n>` for the `n`th call of a response (the response
//! id keeps ids of different turns apart within one conversation).
//!
//! Thinking models attach a `thoughtSignature` to the first `functionCall` of a turn and
//! refuse the next request (400) when it does not come back on that call. OpenAI-shaped
//! clients keep exactly one thing of a tool call when they build the next request: its id.
//! So the signature travels inside the id, after [`SIGNATURE_SEPARATOR`] (agentgateway's
//! convention): `call_abc_0__thought__<signature>`. The request encoder unpacks it onto the
//! `functionCall` part again. The signature is written in the URL-safe base64 alphabet
//! without padding, so the whole id stays within `[A-Za-z0-9_-]` and survives Anthropic
//! clients (whose ids are sanitised to that alphabet) unchanged. `thoughtSignature` is a
//! protobuf `bytes` field, whose JSON form Google parses in either base64 alphabet, padded or
//! not; the encoder still restores the standard alphabet and padding, so a signature comes
//! back byte for byte as Gemini sent it.
//!
//! Tollgate never sends ids to Gemini: Vertex rejects `id` on `functionCall` and
//! `functionResponse` parts, the synthesised ids are Tollgate's and not Gemini's, and Gemini
//! pairs calls and responses by order and name.

/// Separates a tool-call id from the thought signature packed into it.
pub const SIGNATURE_SEPARATOR: &str = "__thought__";

/// The signature Google documents for function calls whose real signature is unknown (a
/// history made by another provider, or by a client that dropped it).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Id of the `ordinal`th function call of the response `response_id`, when Gemini gave none.
/// Only `[A-Za-z0-9-]` of the response id is kept, so the id never contains the separator.
pub fn synthesize(response_id: &str, ordinal: usize) -> String {
    let kept: String = response_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if kept.is_empty() {
        format!("call_gemini_{ordinal}")
    } else {
        format!("call_{kept}_{ordinal}")
    }
}

/// The id a client sees for a call: `id`, plus the signature when there is one.
pub fn pack(id: &str, signature: Option<&str>) -> String {
    match signature.filter(|s| !s.is_empty()) {
        None => id.to_owned(),
        Some(signature) => {
            let url_safe: String = signature
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '+' => '-',
                    '/' => '_',
                    c => c,
                })
                .collect();
            format!("{id}{SIGNATURE_SEPARATOR}{url_safe}")
        }
    }
}

/// Splits a client's tool-call id into the call id and the signature packed into it.
pub fn unpack(id: &str) -> (&str, Option<String>) {
    match id.split_once(SIGNATURE_SEPARATOR) {
        None => (id, None),
        Some((_, "")) => (id, None),
        Some((call_id, packed)) => {
            let mut signature: String = packed
                .chars()
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                })
                .collect();
            let padding = (4 - signature.len() % 4) % 4;
            signature.extend(std::iter::repeat_n('=', padding));
            (call_id, Some(signature))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "Es8FCswFAXLI2nx/GW9oAYt0+TQoHg==";

    #[test]
    fn signature_survives_the_id_exactly() {
        let id = pack("call_x_0", Some(SIGNATURE));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert_eq!(unpack(&id), ("call_x_0", Some(SIGNATURE.to_owned())));
        for padding in ["", "=", "=="] {
            let signature = format!("abcd+/{}", &"xy"[..2 - padding.len()]) + padding;
            let (_, back) = unpack(&pack("c", Some(&signature)));
            assert_eq!(back.as_deref(), Some(signature.as_str()));
        }
    }

    #[test]
    fn ids_without_signature_are_unchanged() {
        assert_eq!(pack("call_1", None), "call_1");
        assert_eq!(pack("call_1", Some("")), "call_1");
        assert_eq!(unpack("call_1"), ("call_1", None));
        assert_eq!(unpack("toolu_01"), ("toolu_01", None));
    }

    #[test]
    fn synthesised_ids_are_deterministic_distinct_and_separator_free() {
        let a = synthesize("QUVVadTSNJ6_qtsPvN7J8Q0", 0);
        assert_eq!(a, "call_QUVVadTSNJ6qtsPvN7J8Q0_0");
        assert_eq!(a, synthesize("QUVVadTSNJ6_qtsPvN7J8Q0", 0));
        assert_ne!(a, synthesize("QUVVadTSNJ6_qtsPvN7J8Q0", 1));
        assert_eq!(synthesize("", 2), "call_gemini_2");
        assert!(!synthesize("a__thought__b", 0).contains(SIGNATURE_SEPARATOR));
    }
}
