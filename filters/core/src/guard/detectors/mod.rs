//! Regex detectors: the built-in PII and secret patterns and custom `regex` rules.
//!
//! A detector is a regex that proposes candidates plus a validator that accepts, trims or
//! rejects each one (checksums, look-around, false-positive heuristics). Every pattern has a
//! bounded match length, computed from the pattern itself, which is what lets the stream
//! guard hold back a bounded tail (see [`Bounds`]).

mod boundary;
mod pii;
mod secrets;

use std::ops::Range;

use regex::{Regex, RegexBuilder};
use regex_syntax::hir::Hir;

pub(crate) use boundary::{char_after, char_before, LOOK_AHEAD, LOOK_BEHIND};

use super::config::PiiEntity;
use super::error::RuleProblem;

/// Longest match, in bytes, a custom pattern or keyword may have. It bounds the stream
/// hold-back, so it is kept well below what would make streaming feel buffered.
pub(crate) const MAX_MATCH_LEN: usize = 4096;

/// Compiled-program and lazy-DFA limits per regex: bounded memory per configuration
/// (the PEM pattern, the largest built-in, needs about 3 MiB of program).
const REGEX_SIZE_LIMIT: usize = 4 << 20;
const REGEX_DFA_LIMIT: usize = 1 << 20;

/// Accepts a regex candidate, returning where the accepted match ends (a validator may trim
/// the end, never the start), or rejects it. Gets the whole normalised haystack so it can
/// look around the candidate.
pub(crate) type Validate = fn(&str, Range<usize>) -> Option<usize>;

/// How far a rule's matches can reach, in characters; what the stream hold-back is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Once this much text from a match's start is visible, the match is reported (perhaps
    /// still growing). Equal to `max` except for built-ins with a distinctive prefix (the
    /// PEM header, `local@d` of an e-mail), which keeps the default hold-back short.
    pub lead: usize,
    /// Longest possible match.
    pub max: usize,
    /// A reported match that ends this many characters before the end of the visible text
    /// can no longer change (it is a greedy run followed by something that stops it).
    /// `None`: only `max` settles it.
    pub settle: Option<usize>,
}

/// A built-in pattern: `lead` followed by `tail`, where `tail` can match empty text, so a
/// match is reported as soon as its lead is visible.
pub(crate) struct Builtin {
    pub lead: &'static str,
    pub tail: &'static str,
    pub settle: Option<usize>,
    pub validate: Validate,
}

/// A compiled regex detector.
pub(crate) struct Detector {
    regex: Regex,
    validate: Validate,
    bounds: Bounds,
}

impl Detector {
    pub(crate) fn builtin(pattern: &Builtin) -> Result<Self, RuleProblem> {
        let full = format!("(?:{})(?:{})", pattern.lead, pattern.tail);
        let (_, lead) = match_lengths(pattern.lead)?;
        let (_, max) = match_lengths(&full)?;
        Ok(Detector {
            regex: build(&full)?,
            validate: pattern.validate,
            bounds: Bounds {
                lead,
                max,
                settle: pattern.settle,
            },
        })
    }

    pub(crate) fn custom(pattern: &str) -> Result<Self, RuleProblem> {
        let (min, max) = match_lengths(pattern)?;
        if min == 0 {
            return Err(RuleProblem::MatchesEmpty);
        }
        if max > MAX_MATCH_LEN {
            return Err(RuleProblem::TooLong {
                len: max,
                limit: MAX_MATCH_LEN,
            });
        }
        Ok(Detector {
            regex: build(pattern)?,
            validate: |_, span| Some(span.end),
            bounds: Bounds {
                lead: max,
                max,
                settle: None,
            },
        })
    }

    pub(crate) fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Non-overlapping candidates starting at or after `from`, in order, with the validator's
    /// verdict: `(raw match, end of the accepted match)`. `from` may be preceded by context, which
    /// word boundaries and validators take into account.
    pub(crate) fn find(
        &self,
        hay: &str,
        from: usize,
        mut sink: impl FnMut(Range<usize>, Option<usize>),
    ) {
        let mut at = from;
        while at <= hay.len() {
            let Some(m) = self.regex.find_at(hay, at) else {
                break;
            };
            let raw = m.range();
            // Empty matches are refused at compile time; stepping one character keeps this
            // loop finite regardless.
            at = match char_after(hay, raw.end) {
                Some(c) if raw.is_empty() => raw.end + c.len_utf8(),
                None if raw.is_empty() => break,
                _ => raw.end,
            };
            sink(raw.clone(), (self.validate)(hay, raw));
        }
    }
}

/// The detectors behind a built-in entity, in precedence order.
pub(crate) fn builtins(entity: PiiEntity) -> &'static [Builtin] {
    match entity {
        PiiEntity::Email => std::slice::from_ref(&pii::EMAIL),
        PiiEntity::Phone => std::slice::from_ref(&pii::PHONE),
        PiiEntity::CreditCard => std::slice::from_ref(&pii::CREDIT_CARD),
        PiiEntity::UsSsn => std::slice::from_ref(&pii::US_SSN),
        PiiEntity::Iban => std::slice::from_ref(&pii::IBAN),
        PiiEntity::Ipv4 => std::slice::from_ref(&pii::IPV4),
        PiiEntity::Ipv6 => std::slice::from_ref(&pii::IPV6),
        PiiEntity::Secret => secrets::SECRETS,
    }
}

fn build(pattern: &str) -> Result<Regex, RuleProblem> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
        .map_err(|e| RuleProblem::InvalidPattern(e.to_string()))
}

/// Shortest and longest match of a pattern, in bytes (an upper bound on characters).
fn match_lengths(pattern: &str) -> Result<(usize, usize), RuleProblem> {
    let hir: Hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| RuleProblem::InvalidPattern(e.to_string()))?;
    let props = hir.properties();
    let max = props.maximum_len().ok_or(RuleProblem::Unbounded)?;
    Ok((props.minimum_len().unwrap_or(0), max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [PiiEntity; 8] = [
        PiiEntity::Email,
        PiiEntity::Phone,
        PiiEntity::CreditCard,
        PiiEntity::UsSsn,
        PiiEntity::Iban,
        PiiEntity::Ipv4,
        PiiEntity::Ipv6,
        PiiEntity::Secret,
    ];

    #[test]
    fn every_builtin_compiles_with_a_tail_that_can_be_empty() {
        for entity in ALL {
            for pattern in builtins(entity) {
                let detector = Detector::builtin(pattern)
                    .unwrap_or_else(|e| panic!("{entity:?} {}: {e}", pattern.lead));
                let (tail_min, _) = match_lengths(pattern.tail).expect("tail parses");
                assert_eq!(
                    tail_min, 0,
                    "{entity:?} {}: tail must match empty",
                    pattern.lead
                );
                let (lead_min, _) = match_lengths(pattern.lead).expect("lead parses");
                assert!(lead_min > 0, "{entity:?} {}", pattern.lead);
                assert!(detector.bounds.lead <= detector.bounds.max);
            }
        }
    }

    #[test]
    fn builtin_leads_stay_short() {
        // The default stream hold-back is the longest lead plus look-ahead; keep it small.
        let longest = ALL
            .iter()
            .flat_map(|&e| builtins(e))
            .map(|p| Detector::builtin(p).expect("compiles").bounds.lead)
            .max();
        assert_eq!(longest, Some(66), "update the stream docs if this changes");
    }

    #[test]
    fn custom_patterns_must_be_bounded_and_non_empty() {
        assert_eq!(
            Detector::custom("EMP-[0-9]+").err(),
            Some(RuleProblem::Unbounded)
        );
        assert_eq!(Detector::custom("a*").err(), Some(RuleProblem::Unbounded));
        assert_eq!(
            Detector::custom("a?").err(),
            Some(RuleProblem::MatchesEmpty)
        );
        assert!(matches!(
            Detector::custom("(x"),
            Err(RuleProblem::InvalidPattern(_))
        ));
        assert!(matches!(
            Detector::custom("[a-z]{1,5000}"),
            Err(RuleProblem::TooLong { len: 5000, .. })
        ));
        let bounds = Detector::custom(r"EMP-[0-9]{6}").expect("bounded").bounds;
        assert_eq!(
            bounds,
            Bounds {
                lead: 10,
                max: 10,
                settle: None
            }
        );
    }
}
