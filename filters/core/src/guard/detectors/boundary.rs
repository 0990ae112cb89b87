//! What surrounds a candidate match. The regex crate has no look-around, so detectors
//! check the neighbourhood here, after the fact.
//!
//! These checks look at most [`LOOK_BEHIND`] characters before and [`LOOK_AHEAD`]
//! characters after a match; the stream keeps that much context on either side.

use std::ops::Range;

/// Characters before a match that validators (and regex word boundaries) may inspect.
pub(crate) const LOOK_BEHIND: usize = 2;
/// Characters after a match that validators (and regex word boundaries) may inspect.
pub(crate) const LOOK_AHEAD: usize = 2;

/// Characters that glue numbers into longer identifiers: `ORD-2024-555-0132`, `v1.2.3.4`.
pub(crate) const ID_JOINERS: &[char] = &['-', '.', '_'];

/// True unless the span is glued to a longer token: an ASCII letter or digit right before
/// or after it, or a joiner that is itself glued to one (`x-` before, `-9` after).
///
/// ASCII only on purpose: CJK text has no spaces, and `电话:138…` must still count as
/// separated.
pub(crate) fn standalone(hay: &str, span: &Range<usize>, joiners: &[char]) -> bool {
    let glued = |near: Option<char>, far: Option<char>| match near {
        Some(c) if c.is_ascii_alphanumeric() => true,
        Some(c) if joiners.contains(&c) => far.is_some_and(|f| f.is_ascii_alphanumeric()),
        _ => false,
    };
    let mut before = hay.get(..span.start).unwrap_or("").chars().rev();
    let mut after = hay.get(span.end..).unwrap_or("").chars();
    !glued(before.next(), before.next()) && !glued(after.next(), after.next())
}

/// The character right before `at`, if any.
pub(crate) fn char_before(hay: &str, at: usize) -> Option<char> {
    hay.get(..at).and_then(|s| s.chars().next_back())
}

/// The character right after `at`, if any.
pub(crate) fn char_after(hay: &str, at: usize) -> Option<char> {
    hay.get(at..).and_then(|s| s.chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glued_tokens_are_not_standalone() {
        let hay = "ORD-555-0132 x 555-0132. 5550132z";
        assert!(!standalone(hay, &(4..12), ID_JOINERS));
        assert!(standalone(hay, &(15..23), ID_JOINERS));
        assert!(!standalone(hay, &(25..32), ID_JOINERS));
        assert!(standalone("电话:5550132", &(7..14), ID_JOINERS));
    }
}
