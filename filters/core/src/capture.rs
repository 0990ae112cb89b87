//! How much of a request's content its step record keeps: the payload capture mode, set
//! per virtual key and per model alias.
//!
//! - `full`: the record carries the client's request body and the answer as the client
//!   received it, each cut at [`MAX_CAPTURE_BYTES`].
//! - `metadata` (the default): no payload text; tool calls are recorded by name, id and
//!   the SHA-256 of their arguments.
//! - `none` (zero data retention): no payload text and no argument hashes either (a hash of
//!   short arguments can confirm a guess); only ids, names, counts, timings and costs.
//!
//! When the key and the route disagree, the stricter of two explicit settings wins for
//! `none`: zero retention on either side is never overridden.

use serde::{Deserialize, Serialize};

/// Longest request or response text a `full` record keeps, in bytes.
pub const MAX_CAPTURE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadCapture {
    Full,
    #[default]
    Metadata,
    None,
}

impl PayloadCapture {
    /// The mode of a request from its key's and its route's settings: `none` on either side
    /// wins, then `full` on either side, else the default.
    pub fn effective(key: Option<Self>, route: Option<Self>) -> Self {
        let set = [key, route];
        if set.contains(&Some(PayloadCapture::None)) {
            PayloadCapture::None
        } else if set.contains(&Some(PayloadCapture::Full)) {
            PayloadCapture::Full
        } else {
            PayloadCapture::Metadata
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PayloadCapture::Full => "full",
            PayloadCapture::Metadata => "metadata",
            PayloadCapture::None => "none",
        }
    }

    /// Whether argument hashes may be recorded.
    pub fn keeps_hashes(self) -> bool {
        self != PayloadCapture::None
    }
}

/// A bounded copy of one direction's bytes, for `full` capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Captured {
    /// Appends what still fits under [`MAX_CAPTURE_BYTES`].
    pub fn push(&mut self, chunk: &[u8]) {
        let room = MAX_CAPTURE_BYTES.saturating_sub(self.bytes.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Replaces the content (a whole body rewritten at its end).
    pub fn replace(&mut self, body: &[u8]) {
        *self = Captured::default();
        self.push(body);
    }

    /// The text (a cut in the middle of a character loses that character), and whether it
    /// was cut.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "text": String::from_utf8_lossy(&self.bytes).trim_end_matches('\u{fffd}'),
            "truncated": self.truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_on_either_side_wins_then_full() {
        use PayloadCapture::{Full, Metadata};
        const ZERO: PayloadCapture = PayloadCapture::None;
        let mode = PayloadCapture::effective;
        assert_eq!(mode(None, None), Metadata);
        assert_eq!(mode(Some(Full), None), Full);
        assert_eq!(mode(None, Some(Full)), Full);
        assert_eq!(mode(Some(Full), Some(ZERO)), ZERO);
        assert_eq!(mode(Some(ZERO), Some(Full)), ZERO);
        assert_eq!(mode(Some(Metadata), Some(Full)), Full);
        assert_eq!(mode(Some(Metadata), None), Metadata);
    }

    #[test]
    fn parses_lower_case_names() {
        let mode: PayloadCapture = serde_json::from_str(r#""none""#).unwrap();
        assert_eq!(mode, PayloadCapture::None);
        assert!(serde_json::from_str::<PayloadCapture>(r#""everything""#).is_err());
        assert_eq!(PayloadCapture::Full.as_str(), "full");
    }

    #[test]
    fn capture_is_bounded_and_says_so() {
        let mut captured = Captured::default();
        captured.push(b"hello ");
        captured.push(&vec![b'x'; MAX_CAPTURE_BYTES]);
        let json = captured.to_json();
        assert_eq!(json["truncated"], true);
        let text = json["text"].as_str().unwrap();
        assert_eq!(text.len(), MAX_CAPTURE_BYTES);
        assert!(text.starts_with("hello x"));

        captured.replace(b"short");
        assert_eq!(captured.to_json()["text"], "short");
        assert_eq!(captured.to_json()["truncated"], false);
    }

    #[test]
    fn a_cut_character_is_dropped_not_garbled() {
        let mut captured = Captured::default();
        captured.push(&vec![b'a'; MAX_CAPTURE_BYTES - 1]);
        captured.push("é".as_bytes());
        let json = captured.to_json();
        assert!(!json["text"].as_str().unwrap().contains('\u{fffd}'));
    }
}
