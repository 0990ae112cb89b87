//! Where a stream may be cut: the release point.
//!
//! Text before the release point is final; text after it is held back. The point is the
//! furthest one that (1) leaves at least the hold-back window unreleased, so any match whose
//! lead is not yet fully visible stays behind, and (2) does not cut through a candidate
//! that could still change or that spans it.

use super::detectors::LOOK_AHEAD;
use super::engine::Candidate;

/// The release point in `from..=text.len()`; `candidates` start at or after `from` and are
/// sorted by start.
pub(crate) fn release_point(
    text: &str,
    from: usize,
    hold_back: usize,
    candidates: &[Candidate],
) -> usize {
    let pending = text.get(from..).unwrap_or("");
    let limit = from + last_chars_start(pending, hold_back);
    // Scanning in start order: the start of a candidate is a valid point when everything
    // before it is settled and ends by then; the first unsettled candidate stops the scan.
    let mut best = from;
    let mut reach = from;
    for candidate in candidates.iter().take_while(|c| c.raw.start < limit) {
        if reach <= candidate.raw.start {
            best = candidate.raw.start;
        }
        if !settled(text, candidate) {
            return best;
        }
        reach = reach.max(candidate.raw.end);
    }
    if reach <= limit {
        limit
    } else {
        best
    }
}

/// Whether more text could still change this candidate or its validation: either its
/// longest possible match plus look-ahead is visible, or it ended early enough for its
/// pattern's `settle` distance.
fn settled(text: &str, candidate: &Candidate) -> bool {
    let bounds = candidate.bounds;
    let from_start = text.get(candidate.raw.start..).unwrap_or("");
    let from_end = text.get(candidate.raw.end..).unwrap_or("");
    chars_at_least(from_start, bounds.max.saturating_add(LOOK_AHEAD))
        || bounds
            .settle
            .is_some_and(|k| chars_at_least(from_end, k.max(LOOK_AHEAD)))
}

/// Whether `s` has at least `n` characters, looking at no more than `n` of them.
pub(crate) fn chars_at_least(s: &str, n: usize) -> bool {
    n == 0 || s.chars().nth(n - 1).is_some()
}

/// Byte offset where the last `n` characters of `s` begin (0 when `s` is shorter).
pub(crate) fn last_chars_start(s: &str, n: usize) -> usize {
    match n.checked_sub(1) {
        None => s.len(),
        Some(back) => s.char_indices().rev().nth(back).map_or(0, |(i, _)| i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::detectors::Bounds;

    fn candidate(raw: std::ops::Range<usize>, max: usize, settle: Option<usize>) -> Candidate {
        Candidate {
            matcher: 0,
            raw,
            accepted: None,
            bounds: Bounds {
                lead: max,
                max,
                settle,
            },
        }
    }

    #[test]
    fn holds_back_the_window_counted_in_characters() {
        assert_eq!(release_point("abcdéfgh", 0, 3, &[]), 6);
        assert_eq!(release_point("abc", 0, 3, &[]), 0);
        assert_eq!(release_point("abc", 1, 0, &[]), 3);
    }

    #[test]
    fn never_splits_a_candidate_that_spans_the_limit_or_is_unsettled() {
        let text = "0123456789abcdefghij";
        // Settled (max 4, plenty after), but crosses the limit at 15: cut before it.
        assert_eq!(release_point(text, 0, 5, &[candidate(12..17, 4, None)]), 12);
        // Unsettled (max 30 not yet visible): cut before it even though it ends early.
        assert_eq!(release_point(text, 0, 5, &[candidate(3..6, 30, None)]), 3);
        // The same, settled by its greedy end.
        assert_eq!(
            release_point(text, 0, 5, &[candidate(3..6, 30, Some(1))]),
            15
        );
        // An earlier candidate reaching over a later one's start moves the cut before both.
        let nested = [candidate(2..14, 12, None), candidate(10..17, 7, None)];
        assert_eq!(release_point(text, 0, 5, &nested), 2);
    }
}
