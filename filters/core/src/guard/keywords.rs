//! Keyword and phrase lists, matched with one Aho-Corasick automaton per list.
//!
//! Matching runs on the case-folded view (full-width folded, then simple lowercase), against
//! keywords folded the same way, so `BOMB`, `Bomb` and `ｂｏｍｂ` all match `bomb`, and so do
//! non-ASCII letters (`ÉCOLE` matches `école`). Every occurrence is considered, including
//! overlapping ones, so that a whole-word check that fails on a longer phrase (`new yorker`)
//! still lets a shorter one (`new`) match.

use std::ops::Range;

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::detectors::{char_after, char_before, Bounds, MAX_MATCH_LEN};
use super::error::RuleProblem;
use super::normalize::fold_width_and_case;
use super::overlap::{keep_disjoint, sort_by_span};

pub(crate) struct KeywordList {
    automaton: AhoCorasick,
    whole_word: bool,
    bounds: Bounds,
}

impl KeywordList {
    pub(crate) fn new(words: &[String], whole_word: bool) -> Result<Self, RuleProblem> {
        if words.is_empty() {
            return Err(RuleProblem::NoWords);
        }
        let mut folded = Vec::with_capacity(words.len());
        for (i, word) in words.iter().enumerate() {
            if word.trim().is_empty() {
                return Err(RuleProblem::BlankWord(i));
            }
            if word.len() > MAX_MATCH_LEN {
                return Err(RuleProblem::TooLong {
                    len: word.len(),
                    limit: MAX_MATCH_LEN,
                });
            }
            folded.push(word.chars().map(fold_width_and_case).collect::<String>());
        }
        let longest = folded.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&folded)
            .map_err(|e| RuleProblem::Keywords(e.to_string()))?;
        let bounds = Bounds {
            lead: longest,
            max: longest,
            settle: None,
        };
        Ok(KeywordList {
            automaton,
            whole_word,
            bounds,
        })
    }

    pub(crate) fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Occurrences starting at or after `from` in the case-folded haystack, non-overlapping
    /// (see [`super::overlap`]), in order.
    pub(crate) fn find(&self, hay: &str, from: usize, mut sink: impl FnMut(Range<usize>)) {
        let Some(input) = hay.get(from..).map(|_| Input::new(hay).range(from..)) else {
            return;
        };
        // Overlapping search cannot fail with the Standard match kind set above.
        let Ok(found) = self.automaton.try_find_overlapping_iter(input) else {
            return;
        };
        let mut spans: Vec<Range<usize>> = found
            .map(|m| m.range())
            .filter(|span| !self.whole_word || self.is_whole_word(hay, span))
            .collect();
        sort_by_span(&mut spans, |span| span);
        keep_disjoint(&mut spans, |span| span);
        spans.into_iter().for_each(&mut sink);
    }

    fn is_whole_word(&self, hay: &str, span: &Range<usize>) -> bool {
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        !word(char_before(hay, span.start)) && !word(char_after(hay, span.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::normalize::View;

    fn found(words: &[&str], whole_word: bool, text: &str) -> Vec<String> {
        let list = KeywordList::new(
            &words.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            whole_word,
        )
        .expect("compiles");
        let view = View::new(text, fold_width_and_case);
        let mut out = Vec::new();
        list.find(view.as_str(), 0, |span| {
            out.push(text[view.to_original(span.start)..view.to_original(span.end)].to_string())
        });
        out
    }

    #[test]
    fn matches_any_case_and_width_and_reports_the_original_span() {
        assert_eq!(
            found(&["bomb"], true, "a BOMB, a Bomb, a ｂｏｍｂ"),
            ["BOMB", "Bomb", "ｂｏｍｂ"]
        );
        assert_eq!(found(&["école"], true, "L'ÉCOLE ferme"), ["ÉCOLE"]);
    }

    #[test]
    fn whole_word_rejects_embedded_words_but_falls_back_to_shorter_phrases() {
        assert!(found(&["bomb"], true, "bombastic sabombe").is_empty());
        assert_eq!(found(&["bomb"], false, "bombastic"), ["bomb"]);
        assert_eq!(
            found(&["new york", "new"], true, "new yorker, new york"),
            ["new", "new york"]
        );
    }

    #[test]
    fn refuses_empty_lists_and_blank_words() {
        assert_eq!(
            KeywordList::new(&[], true).err(),
            Some(RuleProblem::NoWords)
        );
        assert_eq!(
            KeywordList::new(&["ok".into(), "  ".into()], true).err(),
            Some(RuleProblem::BlankWord(1))
        );
    }
}
