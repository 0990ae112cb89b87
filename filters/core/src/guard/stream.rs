//! Guarding a text that arrives in pieces (a streamed completion) without leaking.

use std::borrow::Borrow;

use super::config::Action;
use super::detectors::LOOK_BEHIND;
use super::engine::{Candidate, CompiledGuardrails, Hit};
use super::length::LengthCounter;
use super::overlap::sort_by_span;
use super::redact::Masking;
use super::verdict::{denial, Denial, Finding};
use super::window::{chars_at_least, last_chars_start, release_point};

/// How much of the received text a [`StreamGuard`] keeps unreleased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HoldBack {
    /// The guardrails' own bound, [`CompiledGuardrails::hold_back`].
    #[default]
    Auto,
    /// At least this many characters. Never less than the guardrails' bound, which is what
    /// makes the stream leak-free; a larger value trades latency for fewer, larger releases.
    Chars(usize),
}

/// What one [`StreamGuard::push`] or [`StreamGuard::finish`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStep {
    /// Text that may be sent on now, redactions applied. May be empty.
    pub release: String,
    /// Findings in the text decided by this step, spans in stream offsets (bytes of all
    /// pushed text; saturating at `usize::MAX`).
    pub findings: Vec<Finding>,
    /// Set from the step that found a denied match on: nothing more will be released.
    pub denied: Option<Denial>,
}

/// Runs guardrails over a stream, releasing text only once no match can still reach it.
///
/// # Guarantee
/// The concatenation of all `release`s equals what [`CompiledGuardrails::apply`] makes of
/// the whole text (with a fresh or the same [`Masking`]), however the text is split into
/// pushes: a value split across chunks is recognised before any of its bytes are released.
/// Released text is never taken back.
///
/// # Hold-back: the added latency, and its bound
/// Each step releases up to the *release point*: the furthest point that leaves at least
/// `H` characters unreleased and does not cut through a match that could still change.
///
/// - `H` defaults to the longest *lead* of any configured rule plus 2 characters of
///   look-ahead (validators look two characters past a match). A lead is how much of a match
///   must be visible before it is reported: the whole match for custom patterns and keywords
///   (their maximum length, capped at 4096 bytes), and a distinctive prefix for the
///   variable-length built-ins (`local@d` of an e-mail, a PEM header, a token's prefix and
///   first characters). With every built-in detector, `H` = 68 characters.
/// - Beyond `H`, text is held only while a recognised match is still unsettled: at most that
///   pattern's maximum length (e-mail 318 bytes; a JWT or PEM block up to about 16 KiB), and
///   only for variable-length secrets does it take longer than a few characters to settle.
/// - `finish` releases everything left. Text never waits for anything but more text.
///
/// Memory is bounded by `H`, plus the longest maximum match length, plus the last pushed
/// chunk. Each step rescans only the unreleased text, so cost per step is proportional to
/// `H` plus the chunk, not to the stream so far.
///
/// # Actions
/// - `redact`: placeholders replace matches inside released text, numbered in the
///   [`Masking`] (continue a request's numbering with [`StreamGuard::with_masking`]).
/// - `flag`: findings are reported in the step that releases them.
/// - `deny`: as soon as a denied match is certain, that step releases nothing and sets
///   `denied`, and so does every later step. A length limit denies at the character that
///   exceeds it, on the push that brings it.
pub struct StreamGuard<G> {
    guards: G,
    hold_back: usize,
    /// Unreleased text, preceded by up to `LOOK_BEHIND` released characters of context.
    buf: String,
    /// Bytes at the start of `buf` that are context, already released.
    released: usize,
    /// Stream offset of `buf[0]`.
    base: usize,
    counters: Vec<LengthCounter>,
    /// Length violations in `buf`, reported once released.
    length_hits: Vec<Hit>,
    masking: Masking,
    denied: Option<Denial>,
}

impl<G: Borrow<CompiledGuardrails>> StreamGuard<G> {
    /// Takes the guardrails by reference or by any shared handle (`Rc`, `Arc`).
    pub fn new(guards: G, hold_back: HoldBack) -> Self {
        Self::with_masking(guards, hold_back, Masking::new())
    }

    /// Like [`new`](Self::new), continuing the placeholder numbering of `masking`.
    pub fn with_masking(guards: G, hold_back: HoldBack, masking: Masking) -> Self {
        let minimum = guards.borrow().hold_back();
        let hold_back = match hold_back {
            HoldBack::Auto => minimum,
            HoldBack::Chars(chars) => chars.max(minimum),
        };
        let counters = guards.borrow().length_counters();
        StreamGuard {
            guards,
            hold_back,
            buf: String::new(),
            released: 0,
            base: 0,
            counters,
            length_hits: Vec::new(),
            masking,
            denied: None,
        }
    }

    /// The effective hold-back, in characters.
    pub fn hold_back(&self) -> usize {
        self.hold_back
    }

    pub fn masking(&self) -> &Masking {
        &self.masking
    }

    /// The placeholder state, e.g. to unmask the rest of the exchange.
    pub fn into_masking(self) -> Masking {
        self.masking
    }

    /// Adds the next piece of the stream.
    pub fn push(&mut self, text: &str) -> StreamStep {
        if self.denied.is_some() {
            return self.stopped();
        }
        let guards = self.guards.borrow();
        guards.count_lengths(
            &mut self.counters,
            text,
            self.buf.len(),
            &mut self.length_hits,
        );
        if self
            .length_hits
            .iter()
            .any(|h| guards.action(h.source) == Action::Deny)
        {
            let hits = std::mem::take(&mut self.length_hits);
            return self.stop(&hits);
        }
        self.buf.push_str(text);
        let pending = self.buf.get(self.released..).unwrap_or("");
        if !chars_at_least(pending, self.hold_back.saturating_add(1)) {
            return StreamStep::default();
        }
        self.advance(false)
    }

    /// Ends the stream: everything still held is decided and released.
    pub fn finish(&mut self) -> StreamStep {
        if self.denied.is_some() {
            return self.stopped();
        }
        self.advance(true)
    }

    fn advance(&mut self, finishing: bool) -> StreamStep {
        let guards = self.guards.borrow();
        let candidates = guards.candidates(&self.buf, self.released, true);
        let cut = if finishing {
            self.buf.len()
        } else {
            release_point(&self.buf, self.released, self.hold_back, &candidates)
        };
        let mut hits: Vec<Hit> = candidates
            .iter()
            .take_while(|c| c.raw.start < cut)
            .filter_map(Candidate::hit)
            .collect();
        let (due, later) = std::mem::take(&mut self.length_hits)
            .into_iter()
            .partition(|h| h.span.start < cut);
        hits.extend::<Vec<Hit>>(due);
        self.length_hits = later;
        sort_by_span(&mut hits, |h| &h.span);
        let verdict = guards.verdict(&hits, self.base);
        if denial(&verdict.findings).is_some() {
            return self.stop(&hits);
        }
        let release = guards
            .rewrite(&self.buf, self.released..cut, &hits, &mut self.masking)
            .into_owned();
        self.forget_released(cut);
        StreamStep {
            release,
            findings: verdict.findings,
            denied: None,
        }
    }

    /// Drops released text but the look-behind context before `cut`.
    fn forget_released(&mut self, cut: usize) {
        let keep_from = last_chars_start(self.buf.get(..cut).unwrap_or(""), LOOK_BEHIND);
        self.buf.drain(..keep_from);
        self.base = self.base.saturating_add(keep_from);
        self.released = cut.saturating_sub(keep_from);
        for hit in &mut self.length_hits {
            hit.span =
                hit.span.start.saturating_sub(keep_from)..hit.span.end.saturating_sub(keep_from);
        }
    }

    fn stop(&mut self, hits: &[Hit]) -> StreamStep {
        let verdict = self.guards.borrow().verdict(hits, self.base);
        self.denied = denial(&verdict.findings);
        self.buf.clear();
        self.length_hits.clear();
        StreamStep {
            release: String::new(),
            findings: verdict.findings,
            denied: self.denied.clone(),
        }
    }

    fn stopped(&self) -> StreamStep {
        StreamStep {
            denied: self.denied.clone(),
            ..StreamStep::default()
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
