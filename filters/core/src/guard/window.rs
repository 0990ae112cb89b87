//! How far a stream may be released: the release limit.
//!
//! Text before the limit is final as far as matching goes; text after it is held back. The
//! limit (1) leaves at least the hold-back window unreleased, so a match whose lead is not
//! yet fully visible stays behind, and (2) stops before any candidate that more text could
//! still change. The stream then only has to keep whole redactions together.

use super::detectors::LOOK_AHEAD;
use super::engine::Candidate;

/// The release limit in `from..=text.len()`; `candidates` are sorted by start.
pub(crate) fn release_limit(
    text: &str,
    from: usize,
    hold_back: usize,
    candidates: &[Candidate],
) -> usize {
    let pending = text.get(from..).unwrap_or("");
    let window = from + last_chars_start(pending, hold_back);
    candidates
        .iter()
        .take_while(|c| c.raw.start < window)
        .find(|c| !settled(text, c))
        .map_or(window, |c| c.raw.start.max(from))
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
            accepted_end: None,
            bounds: Bounds {
                lead: max,
                max,
                settle,
            },
        }
    }

    #[test]
    fn holds_back_the_window_counted_in_characters() {
        assert_eq!(release_limit("abcdéfgh", 0, 3, &[]), 6);
        assert_eq!(release_limit("abc", 0, 3, &[]), 0);
        assert_eq!(release_limit("abc", 1, 0, &[]), 3);
    }

    #[test]
    fn stops_before_the_first_unsettled_candidate() {
        let text = "0123456789abcdefghij";
        // Settled: its maximum length plus look-ahead is visible. Spanning the window is
        // the stream's concern, not the limit's.
        assert_eq!(release_limit(text, 0, 5, &[candidate(12..17, 4, None)]), 15);
        // Unsettled (max 30 not yet visible), even though it ended early.
        assert_eq!(release_limit(text, 0, 5, &[candidate(3..6, 30, None)]), 3);
        // The same, settled by its greedy end.
        assert_eq!(
            release_limit(text, 0, 5, &[candidate(3..6, 30, Some(1))]),
            15
        );
        // Only candidates before the window count.
        assert_eq!(
            release_limit(text, 0, 5, &[candidate(16..18, 30, None)]),
            15
        );
    }
}
