//! How overlapping matches are resolved, the same way everywhere: the earliest start wins;
//! among equal starts the longest; among equal spans the first in configuration order
//! (callers pass items in that order, and the sort is stable).

use std::cmp::Reverse;
use std::ops::Range;

/// Sorts by start, longest first, keeping the given order among equal spans.
pub(crate) fn sort_by_span<T>(items: &mut [T], span: impl Fn(&T) -> &Range<usize>) {
    items.sort_by_key(|item| {
        let span = span(item);
        (span.start, Reverse(span.end))
    });
}

/// Keeps, from items sorted by [`sort_by_span`], those that do not overlap an earlier kept
/// one.
pub(crate) fn keep_disjoint<T>(items: &mut Vec<T>, span: impl Fn(&T) -> &Range<usize>) {
    let mut reached = 0;
    items.retain(|item| {
        let span = span(item);
        let keep = span.start >= reached;
        if keep {
            reached = span.end;
        }
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_then_longest_then_first_given() {
        let mut items = vec![
            (5..9, 'a'),
            (0..4, 'b'),
            (2..12, 'c'),
            (0..6, 'd'),
            (0..6, 'e'),
            (6..8, 'f'),
        ];
        sort_by_span(&mut items, |(span, _)| span);
        keep_disjoint(&mut items, |(span, _)| span);
        let kept: Vec<char> = items.iter().map(|(_, id)| *id).collect();
        assert_eq!(kept, ['d', 'f']);
    }
}
