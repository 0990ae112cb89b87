//! Length limits, counted incrementally so a stream trips at the same character as the
//! whole text would.
//!
//! - characters: Unicode scalar values of the original text;
//! - words: maximal runs of non-whitespace characters;
//! - tokens: estimated as characters / 4, rounded up, the usual rule of thumb for English
//!   with GPT-style tokenizers; `maxTokens: n` therefore trips on character 4n + 1.
//!
//! A violation is reported at the character that first exceeds the limit (for words, the
//! first character of the first word too many).

use std::ops::Range;

use super::error::RuleProblem;
use super::verdict::LengthMetric;

/// The limits of one `length` rule, as character/word counts that may not be exceeded.
#[derive(Debug, Clone)]
pub(crate) struct LengthLimits {
    chars: Option<u64>,
    words: Option<u64>,
    tokens: Option<u64>,
}

impl LengthLimits {
    pub(crate) fn new(
        max_chars: Option<u32>,
        max_words: Option<u32>,
        max_tokens: Option<u32>,
    ) -> Result<Self, RuleProblem> {
        if max_chars.is_none() && max_words.is_none() && max_tokens.is_none() {
            return Err(RuleProblem::NoLimit);
        }
        Ok(LengthLimits {
            chars: max_chars.map(u64::from),
            words: max_words.map(u64::from),
            tokens: max_tokens.map(u64::from),
        })
    }
}

/// Running counts over a text fed in pieces.
#[derive(Debug, Clone, Default)]
pub(crate) struct LengthCounter {
    chars: u64,
    words: u64,
    in_word: bool,
    /// Metrics already reported; each is reported once.
    tripped: [bool; 3],
}

impl LengthCounter {
    /// Counts `text`, whose first byte is at `offset`, and reports each limit the first time
    /// it is exceeded, with the span of the offending character.
    pub(crate) fn feed(
        &mut self,
        limits: &LengthLimits,
        text: &str,
        offset: usize,
        mut report: impl FnMut(LengthMetric, Range<usize>),
    ) {
        let checks = [
            (LengthMetric::Chars, limits.chars),
            (LengthMetric::Words, limits.words),
            (LengthMetric::Tokens, limits.tokens),
        ];
        for (i, c) in text.char_indices() {
            if checks
                .iter()
                .zip(&self.tripped)
                .all(|((_, limit), &t)| limit.is_none() || t)
            {
                return;
            }
            self.chars = self.chars.saturating_add(1);
            let starts_word = !c.is_whitespace() && !self.in_word;
            self.in_word = !c.is_whitespace();
            if starts_word {
                self.words = self.words.saturating_add(1);
            }
            for ((metric, limit), tripped) in checks.iter().zip(&mut self.tripped) {
                let over = match (metric, limit) {
                    (_, None) => false,
                    (LengthMetric::Chars, Some(max)) => self.chars > *max,
                    (LengthMetric::Words, Some(max)) => starts_word && self.words > *max,
                    (LengthMetric::Tokens, Some(max)) => self.chars > max.saturating_mul(4),
                };
                if over && !*tripped {
                    *tripped = true;
                    let start = offset.saturating_add(i);
                    report(*metric, start..start.saturating_add(c.len_utf8()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trips(limits: &LengthLimits, pieces: &[&str]) -> Vec<(LengthMetric, Range<usize>)> {
        let mut counter = LengthCounter::default();
        let mut out = Vec::new();
        let mut offset = 0;
        for piece in pieces {
            counter.feed(limits, piece, offset, |m, span| out.push((m, span)));
            offset += piece.len();
        }
        out
    }

    #[test]
    fn trips_once_at_the_first_character_over_each_limit() {
        let limits = LengthLimits::new(Some(10), Some(2), Some(2)).expect("valid");
        let whole = trips(&limits, &["one two  thrée four"]);
        assert_eq!(
            whole,
            [
                (LengthMetric::Tokens, 8..9),
                (LengthMetric::Words, 9..10),
                (LengthMetric::Chars, 10..11)
            ]
        );
        assert_eq!(trips(&limits, &["one t", "wo  th", "rée four"]), whole);
    }

    #[test]
    fn estimates_tokens_as_chars_over_four_rounded_up() {
        let limits = LengthLimits::new(None, None, Some(1)).expect("valid");
        assert!(trips(&limits, &["abcd"]).is_empty());
        assert_eq!(trips(&limits, &["abcdé"]), [(LengthMetric::Tokens, 4..6)]);
    }

    #[test]
    fn needs_a_limit() {
        assert_eq!(
            LengthLimits::new(None, None, None).err(),
            Some(RuleProblem::NoLimit)
        );
    }
}
