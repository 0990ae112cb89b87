//! Normalised views of a text, so that look-alike spellings match the same rules.
//!
//! A view replaces every character by exactly one character (never zero, never two), so
//! views have the same character count as the original and every view offset maps back to
//! exactly one original offset. Detectors match on a view; findings and redactions always
//! use original offsets, so a full-width card number is replaced in its full-width form.
//!
//! Known gap: format characters (zero-width space, soft hyphen, …) are not removed, so a
//! value interleaved with them is not recognised. Removing characters would break the
//! one-to-one mapping that the stream hold-back relies on.

use std::borrow::Cow;
use std::ops::Range;

/// A normalised copy of a text (or the text itself when nothing changes).
pub(crate) struct View<'t> {
    text: Cow<'t, str>,
    /// One entry after each character whose UTF-8 length changed: the offsets just past it
    /// in the view and in the original. Between entries both advance byte for byte.
    shifts: Vec<Shift>,
}

#[derive(Clone, Copy)]
struct Shift {
    view: usize,
    original: usize,
}

impl<'t> View<'t> {
    pub(crate) fn new(original: &'t str, fold: fn(char) -> char) -> Self {
        let Some(first) = original
            .char_indices()
            .find(|&(_, c)| fold(c) != c)
            .map(|(i, _)| i)
        else {
            return View {
                text: Cow::Borrowed(original),
                shifts: Vec::new(),
            };
        };
        let mut text = String::with_capacity(original.len());
        text.push_str(&original[..first]);
        let mut shifts = Vec::new();
        for (i, c) in original[first..].char_indices() {
            let folded = fold(c);
            text.push(folded);
            if folded.len_utf8() != c.len_utf8() {
                shifts.push(Shift {
                    view: text.len(),
                    original: first + i + c.len_utf8(),
                });
            }
        }
        View {
            text: Cow::Owned(text),
            shifts,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The original offset of a view offset (a character boundary of the view).
    pub(crate) fn to_original(&self, at: usize) -> usize {
        let before = self.shifts.partition_point(|s| s.view <= at);
        match self.shifts[..before].last() {
            Some(s) => s.original + (at - s.view),
            None => at,
        }
    }

    pub(crate) fn span_to_original(&self, span: Range<usize>) -> Range<usize> {
        self.to_original(span.start)..self.to_original(span.end)
    }

    /// The view offset of an original offset (a character boundary of the original).
    pub(crate) fn to_view(&self, at: usize) -> usize {
        let before = self.shifts.partition_point(|s| s.original <= at);
        match self.shifts[..before].last() {
            Some(s) => s.view + (at - s.original),
            None => at,
        }
    }
}

/// Full-width ASCII variants (U+FF01–U+FF5E: `０`–`９`, `Ａ`–`Ｚ`, `ａ`–`ｚ`, `＠`, `．`, …)
/// and the ideographic space read as their ASCII counterparts.
pub(crate) fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// [`fold_width`], then simple lowercase where it is a single character (so `İ`, whose
/// lowercase is two characters, stays as it is).
pub(crate) fn fold_width_and_case(c: char) -> char {
    let c = fold_width(c);
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_text_is_borrowed() {
        let view = View::new("plain ascii 123", fold_width);
        assert!(matches!(view.text, Cow::Borrowed(_)));
        assert_eq!(view.to_original(6), 6);
    }

    #[test]
    fn full_width_reads_as_ascii_and_maps_back() {
        let original = "tel ４１５ｘ end";
        let view = View::new(original, fold_width);
        assert_eq!(view.as_str(), "tel 415x end");
        // "x" starts at view byte 7; in the original it follows three 3-byte digits.
        assert_eq!(view.to_original(7), 4 + 9);
        assert_eq!(
            &original[view.to_original(4)..view.to_original(8)],
            "４１５ｘ"
        );
        assert_eq!(view.to_original(view.as_str().len()), original.len());
        for (i, _) in original.char_indices() {
            assert_eq!(view.to_original(view.to_view(i)), i);
        }
    }

    #[test]
    fn case_fold_keeps_one_character_per_character() {
        let original = "ÅNGSTRÖM \u{212A}elvin İstanbul ＢＯＭＢ";
        let view = View::new(original, fold_width_and_case);
        assert_eq!(view.as_str(), "ångström kelvin İstanbul bomb");
        assert_eq!(view.as_str().chars().count(), original.chars().count());
        for (i, _) in original.char_indices() {
            assert_eq!(view.to_original(view.to_view(i)), i);
        }
    }
}
