//! Typed placeholders for redacted values, numbered per request.
//!
//! A [`Masking`] lives for one request (pass the same one to every `apply` of that request
//! and to its streams). Each placeholder type is numbered from 1 in order of appearance, and
//! the same value always gets the same placeholder: `[EMAIL_1]` stays `[EMAIL_1]` in every
//! message, so the model can still tell people apart. Values are recognised by a SHA-256 of
//! their canonical form (`4111 1111 …` and `4111-1111-…` are one card); the raw value is kept
//! only for guardrails marked `reversible`, to [unmask](Masking::unmask) the answer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::normalize::{fold_width, fold_width_and_case};

/// Which spellings of a value count as the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Canon {
    /// Digits only: cards, phone numbers, SSNs.
    Digits,
    /// Letters and digits, upper case: IBANs.
    Alphanumeric,
    /// Case-insensitive: e-mail addresses, keywords.
    Caseless,
    /// As written (full-width folded): secrets, addresses, custom patterns.
    Exact,
}

impl Canon {
    fn apply(self, value: &str) -> String {
        let folded = value.chars().map(fold_width);
        match self {
            Canon::Digits => folded.filter(char::is_ascii_digit).collect(),
            Canon::Alphanumeric => folded
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect(),
            Canon::Caseless => value.chars().map(fold_width_and_case).collect(),
            Canon::Exact => folded.collect(),
        }
    }
}

/// How an original is written back into the text it is unmasked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    None,
    /// Inside a JSON string.
    JsonString,
}

impl Escape {
    fn apply(self, value: &str) -> Cow<'_, str> {
        match self {
            Escape::None => Cow::Borrowed(value),
            Escape::JsonString => {
                let quoted = serde_json::Value::from(value).to_string();
                Cow::Owned(quoted[1..quoted.len() - 1].to_owned())
            }
        }
    }
}

/// Per-request placeholder state. Its `Debug` output shows counts only.
#[derive(Default, Clone)]
pub struct Masking {
    /// Last number handed out, per placeholder type.
    counters: HashMap<Arc<str>, u32>,
    /// SHA-256 of (type, canonical value) → its placeholder.
    assigned: HashMap<[u8; 32], Arc<str>>,
    /// Placeholder → first original spelling, for reversible guardrails only.
    originals: HashMap<Arc<str>, Box<str>>,
}

impl Masking {
    pub fn new() -> Self {
        Self::default()
    }

    /// The placeholder for `value` (an original span) of this type, assigning the next
    /// number the first time the value is seen.
    pub(crate) fn placeholder(
        &mut self,
        kind: &Arc<str>,
        canon: Canon,
        value: &str,
        reversible: bool,
    ) -> Arc<str> {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        hasher.update([0]);
        hasher.update(canon.apply(value).as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        let placeholder = match self.assigned.get(&digest) {
            Some(existing) => existing.clone(),
            None => {
                let counter = self.counters.entry(kind.clone()).or_insert(0);
                *counter = counter.saturating_add(1);
                let placeholder: Arc<str> = format!("[{kind}_{counter}]").into();
                self.assigned.insert(digest, placeholder.clone());
                placeholder
            }
        };
        if reversible {
            self.originals
                .entry(placeholder.clone())
                .or_insert_with(|| value.into());
        }
        placeholder
    }

    /// Puts the originals back for every placeholder of a reversible guardrail in `text`.
    /// Placeholders of other guardrails, and unknown ones, are left as they are.
    pub fn unmask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.unmask_with(text, Escape::None)
    }

    /// [`unmask`](Self::unmask), writing each original as `escape` says: JSON text (tool-call
    /// arguments) needs its quotes and backslashes escaped.
    pub fn unmask_with<'t>(&self, text: &'t str, escape: Escape) -> Cow<'t, str> {
        let longest = self.longest_placeholder();
        let mut out = String::new();
        let mut copied = 0;
        for (open, _) in text.match_indices('[') {
            if open < copied {
                continue;
            }
            let rest = &text.as_bytes()[open..];
            let Some(close) = rest.iter().take(longest).position(|&b| b == b']') else {
                continue;
            };
            let Some(original) = text
                .get(open..=open + close)
                .and_then(|p| self.originals.get(p))
            else {
                continue;
            };
            out.push_str(&text[copied..open]);
            out.push_str(&escape.apply(original));
            copied = open + close + 1;
        }
        if copied == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// Whether some value can be unmasked (a reversible guardrail redacted it).
    pub fn has_originals(&self) -> bool {
        !self.originals.is_empty()
    }

    /// Longest placeholder that can be unmasked, in bytes (0 when none can).
    pub(crate) fn longest_placeholder(&self) -> usize {
        self.originals.keys().map(|p| p.len()).max().unwrap_or(0)
    }
}

impl fmt::Debug for Masking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masking")
            .field("placeholders", &self.assigned.len())
            .field("reversible", &self.originals.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Arc<str> {
        s.into()
    }

    #[test]
    fn numbers_per_type_and_reuses_for_the_same_value() {
        let mut m = Masking::new();
        let (email, card) = (kind("EMAIL"), kind("CREDIT_CARD"));
        assert_eq!(
            &*m.placeholder(&email, Canon::Caseless, "a@x.io", false),
            "[EMAIL_1]"
        );
        assert_eq!(
            &*m.placeholder(&card, Canon::Digits, "4111 1111 1111 1111", false),
            "[CREDIT_CARD_1]"
        );
        assert_eq!(
            &*m.placeholder(&email, Canon::Caseless, "b@x.io", false),
            "[EMAIL_2]"
        );
        assert_eq!(
            &*m.placeholder(&email, Canon::Caseless, "A@X.IO", false),
            "[EMAIL_1]"
        );
        assert_eq!(
            &*m.placeholder(&card, Canon::Digits, "4111-1111-1111-1111", false),
            "[CREDIT_CARD_1]"
        );
        assert_eq!(
            &*m.placeholder(&card, Canon::Digits, "４１１１111111111111", false),
            "[CREDIT_CARD_1]"
        );
    }

    #[test]
    fn unmasks_only_reversible_values_and_never_debug_prints_them() {
        let mut m = Masking::new();
        m.placeholder(&kind("EMAIL"), Canon::Caseless, "ann@example.com", true);
        m.placeholder(&kind("SECRET"), Canon::Exact, "sk-hidden", false);
        let answer = "Wrote to [EMAIL_1] ([EMAIL_1]) with [SECRET_1] and [EMAIL_9] [unclosed";
        assert_eq!(
            m.unmask(answer),
            "Wrote to ann@example.com (ann@example.com) with [SECRET_1] and [EMAIL_9] [unclosed"
        );
        assert!(matches!(m.unmask("nothing [here]"), Cow::Borrowed(_)));
        m.placeholder(&kind("NOTE"), Canon::Exact, "say \"hi\"", true);
        assert_eq!(
            m.unmask_with(r#"{"to":"[EMAIL_1]","n":"[NOTE_1]"}"#, Escape::JsonString),
            r#"{"to":"ann@example.com","n":"say \"hi\""}"#
        );
        let debug = format!("{m:?}");
        assert!(!debug.contains("ann") && !debug.contains("sk-"), "{debug}");
    }
}
