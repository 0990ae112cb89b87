//! Guarding a text that arrives in pieces (a streamed completion) without leaking.

use std::borrow::Borrow;

use super::config::Action;
use super::detectors::LOOK_BEHIND;
use super::engine::{Candidate, CompiledGuardrails, Hit};
use super::length::LengthCounter;
use super::overlap::sort_by_span;
use super::redact::Masking;
use super::verdict::{denial, Denial, Finding};
use super::window::{chars_at_least, last_chars_start, release_limit};

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
    /// Findings that start in the text this step decided, with spans in stream offsets
    /// (bytes of all pushed text; saturating at `usize::MAX`).
    pub findings: Vec<Finding>,
    /// Set from the step that found a denied match on: nothing more will be released.
    pub denied: Option<Denial>,
}

/// Runs guardrails over a stream, releasing text only once no match can still reach it.
///
/// # Guarantee
/// However the text is split into pushes, the concatenation of all `release`s equals what
/// [`CompiledGuardrails::apply`] makes of the whole text (starting from the same
/// [`Masking`]), and the findings are the same: a value split across chunks is recognised
/// before any of its bytes are released. Released text is never taken back. When a deny
/// stops the stream, what was released is a prefix of that text ending before the denied
/// match.
///
/// # Hold-back: the added latency, and its bound
/// Each step releases the received text up to a release point, which
/// - leaves at least `H` characters unreleased;
/// - stops before any match that more text could still change (one still growing, or
///   whose validation still needs to see what follows);
/// - never splits a redaction: it stops before one that reaches past that point.
///
/// `H` defaults to the longest *lead* of any configured rule plus 2 characters of
/// look-ahead (validators look two characters past a match). A lead is how much of a match
/// must be visible before it is reported: the whole match for custom patterns and keywords
/// (their maximum length, capped at 4096 bytes), and a distinctive prefix for the
/// variable-length built-ins (`local@d` of an e-mail, a PEM header, a token's prefix and
/// first characters). With every built-in detector, `H` = 68 characters.
///
/// Beyond `H`, text waits only while a recognised match is unsettled: e-mail addresses and
/// tokens settle as soon as a character outside their alphabet follows, a JWT four characters
/// later, a PEM block once its END line could have been seen; otherwise at the pattern's
/// maximum length (e-mail 318 bytes; a JWT or PEM block up to about 16 KiB). Text never waits
/// for anything but more text, and [`finish`](Self::finish) releases the rest.
///
/// Memory: at most `H` plus twice the longest maximum match length plus the last chunk stays
/// buffered. Each step rescans only the unreleased text, so the cost of a step is
/// proportional to that, not to the stream so far. Matchers resume after their last match,
/// so a match that began before the release point is not found again.
///
/// # Actions
/// - `redact`: placeholders replace matches inside released text, numbered in the
///   [`Masking`] (continue a request's numbering with [`StreamGuard::with_masking`]).
/// - `flag`: findings are reported in the step that releases their start.
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
    /// Per matcher, where in `buf` its next search starts: after the released text, and after
    /// its last reported candidate, which may reach past the released text.
    resume: Vec<usize>,
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
        let compiled = guards.borrow();
        let hold_back = match hold_back {
            HoldBack::Auto => compiled.hold_back(),
            HoldBack::Chars(chars) => chars.max(compiled.hold_back()),
        };
        let resume = vec![0; compiled.matcher_count()];
        let counters = compiled.length_counters();
        StreamGuard {
            guards,
            hold_back,
            buf: String::new(),
            released: 0,
            base: 0,
            resume,
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
        let resume = &self.resume;
        let candidates = guards.candidates(&self.buf, |m| resume[m], true);
        let mut cut = if finishing {
            self.buf.len()
        } else {
            release_limit(&self.buf, self.released, self.hold_back, &candidates)
        };
        let mut hits = self.hits_before(&candidates, cut);
        // A redaction is released whole: when the last one reaches past the limit, cut
        // before it instead (earlier ones end before it starts).
        let straddling = guards
            .redactions(&hits)
            .last()
            .map(|(span, _)| (*span).clone());
        if let Some(span) = straddling.filter(|span| span.end > cut) {
            cut = span.start;
            hits = self.hits_before(&candidates, cut);
        }
        let verdict = guards.verdict(&hits, self.base);
        if denial(&verdict.findings).is_some() {
            return self.stop(&hits);
        }
        let release = guards
            .rewrite(&self.buf, self.released..cut, &hits, &mut self.masking)
            .into_owned();
        self.forget_released(cut, &candidates);
        StreamStep {
            release,
            findings: verdict.findings,
            denied: None,
        }
    }

    /// Hits of the candidates and length violations that start before `cut`, sorted.
    fn hits_before(&self, candidates: &[Candidate], cut: usize) -> Vec<Hit> {
        let mut hits: Vec<Hit> = candidates
            .iter()
            .take_while(|c| c.raw.start < cut)
            .filter_map(Candidate::hit)
            .chain(
                self.length_hits
                    .iter()
                    .filter(|h| h.span.start < cut)
                    .cloned(),
            )
            .collect();
        sort_by_span(&mut hits, |h| &h.span);
        hits
    }

    /// Moves past the text released up to `cut`, keeping the look-behind context before it.
    fn forget_released(&mut self, cut: usize, candidates: &[Candidate]) {
        for candidate in candidates.iter().take_while(|c| c.raw.start < cut) {
            if let Some(resume) = self.resume.get_mut(candidate.matcher) {
                *resume = (*resume).max(candidate.raw.end);
            }
        }
        self.length_hits.retain(|h| h.span.start >= cut);
        let keep_from = last_chars_start(self.buf.get(..cut).unwrap_or(""), LOOK_BEHIND);
        self.buf.drain(..keep_from);
        self.base = self.base.saturating_add(keep_from);
        self.released = cut.saturating_sub(keep_from);
        let shift = |at: usize| at.saturating_sub(keep_from);
        for resume in &mut self.resume {
            *resume = shift((*resume).max(cut));
        }
        for hit in &mut self.length_hits {
            hit.span = shift(hit.span.start)..shift(hit.span.end);
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
