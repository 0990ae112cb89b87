//! Unmasking a streamed answer: placeholders may arrive split across chunks (`[EMA`,
//! `IL_1]`), so an unfinished one is held back until it is complete. The hold-back is at
//! most the longest known placeholder, and only while a `[` is open.

use std::borrow::Borrow;

use super::redact::{Escape, Masking};

/// Streaming counterpart of [`Masking::unmask`]. Takes the masking by value or by any
/// shared handle (`&Masking`, `Rc<Masking>`, …).
pub struct Unmask<M> {
    masking: M,
    longest: usize,
    pending: String,
    escape: Escape,
}

impl<M: Borrow<Masking>> Unmask<M> {
    pub fn new(masking: M) -> Self {
        Self::escaping(masking, Escape::None)
    }

    /// Writes originals back as `escape` says (JSON tool-call arguments).
    pub fn escaping(masking: M, escape: Escape) -> Self {
        let longest = masking.borrow().longest_placeholder();
        Unmask {
            masking,
            longest,
            pending: String::new(),
            escape,
        }
    }

    /// Text that can be released now, with placeholders replaced.
    pub fn push(&mut self, text: &str) -> String {
        self.pending.push_str(text);
        let hold = self.open_placeholder_start().unwrap_or(self.pending.len());
        let ready: String = self.pending.drain(..hold).collect();
        self.masking
            .borrow()
            .unmask_with(&ready, self.escape)
            .into_owned()
    }

    /// The rest, at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        self.masking
            .borrow()
            .unmask_with(&rest, self.escape)
            .into_owned()
    }

    /// Start of a trailing `[` not yet closed that could still become a placeholder.
    fn open_placeholder_start(&self) -> Option<usize> {
        let open = self.pending.rfind('[')?;
        let unclosed = !self.pending[open..].contains(']');
        (unclosed && self.pending.len() - open < self.longest).then_some(open)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::guard::redact::Canon;

    #[test]
    fn restores_placeholders_split_at_every_position() {
        let mut masking = Masking::new();
        let kind: Arc<str> = "EMAIL".into();
        masking.placeholder(&kind, Canon::Caseless, "ann@example.com", true);
        let answer = "Dear [EMAIL_1], [x] re: [EMAIL_1]";
        let expected = "Dear ann@example.com, [x] re: ann@example.com";
        for cut in 0..=answer.len() {
            let mut unmask = Unmask::new(&masking);
            let mut out = unmask.push(&answer[..cut]);
            out += &unmask.push(&answer[cut..]);
            out += &unmask.finish();
            assert_eq!(out, expected, "cut at {cut}");
        }
    }

    #[test]
    fn releases_everything_when_nothing_is_reversible() {
        let mut unmask = Unmask::new(Masking::new());
        assert_eq!(unmask.push("a [EMAIL_"), "a [EMAIL_");
    }
}
