//! Compiling a [`GuardrailsConfig`] once, and evaluating it on whole texts.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use super::config::{Action, GuardrailConfig, GuardrailsConfig, PiiEntity, RuleConfig};
use super::detectors::{builtins, Bounds, Detector, LOOK_AHEAD};
use super::error::{GuardConfigError, RuleProblem};
use super::keywords::KeywordList;
use super::length::{LengthCounter, LengthLimits};
use super::normalize::{fold_width, fold_width_and_case, View};
use super::overlap::{keep_disjoint, sort_by_span};
use super::redact::{Canon, Masking};
use super::verdict::{Category, Finding, LengthMetric, Outcome, Verdict};

/// A guardrail set ready to run: every regex and automaton built, every limit checked.
/// Build it once per configuration and share it (it is `Send + Sync`).
pub struct CompiledGuardrails {
    guardrails: Vec<Guardrail>,
    matchers: Vec<Matcher>,
    lengths: Vec<LengthRule>,
    hold_back: usize,
}

struct Guardrail {
    name: Arc<str>,
    action: Action,
    reversible: bool,
}

/// One regex detector or keyword list of one guardrail, in configuration order.
struct Matcher {
    guardrail: usize,
    category: Category,
    placeholder_type: Arc<str>,
    canon: Canon,
    kind: MatcherKind,
}

enum MatcherKind {
    Pattern(Detector),
    Keywords(KeywordList),
}

struct LengthRule {
    guardrail: usize,
    limits: LengthLimits,
}

/// A regex or keyword match, before it becomes a finding. Rejected candidates matter to the
/// stream: their matcher consumed that text, so it resumes after them.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub matcher: usize,
    pub raw: Range<usize>,
    /// End of the validated match (which starts where `raw` does), or `None` when the
    /// validator said no.
    pub accepted_end: Option<usize>,
    pub bounds: Bounds,
}

impl Candidate {
    pub(crate) fn hit(&self) -> Option<Hit> {
        let end = self.accepted_end?;
        Some(Hit {
            source: Source::Matcher(self.matcher),
            span: self.raw.start..end,
        })
    }
}

/// A finding before it is made public: which rule, and where.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub source: Source,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    Matcher(usize),
    Length(usize, LengthMetric),
}

impl TryFrom<&GuardrailsConfig> for CompiledGuardrails {
    type Error = GuardConfigError;

    fn try_from(config: &GuardrailsConfig) -> Result<Self, GuardConfigError> {
        let mut compiled = CompiledGuardrails {
            guardrails: Vec::with_capacity(config.guardrails.len()),
            matchers: Vec::new(),
            lengths: Vec::new(),
            hold_back: 0,
        };
        for (index, guardrail) in config.guardrails.iter().enumerate() {
            compiled.add_guardrail(index, guardrail)?;
        }
        compiled.hold_back = compiled
            .matchers
            .iter()
            .map(|m| m.bounds().lead)
            .max()
            .map_or(0, |lead| lead.saturating_add(LOOK_AHEAD));
        Ok(compiled)
    }
}

impl CompiledGuardrails {
    /// Everything the guardrails find in `text`, without changing it.
    pub fn scan(&self, text: &str) -> Verdict {
        self.verdict(&self.hits(text), 0)
    }

    /// Scans `text` and redacts what `redact` guardrails found, numbering placeholders in
    /// `masking` (one per request). Where redactions overlap, the earliest, then longest, wins.
    pub fn apply<'t>(&self, text: &'t str, masking: &mut Masking) -> Outcome<'t> {
        let hits = self.hits(text);
        let verdict = self.verdict(&hits, 0);
        let denied = verdict.denial();
        Outcome {
            text: self.rewrite(text, 0..text.len(), &hits, masking),
            verdict,
            denied,
        }
    }

    /// Characters a stream must hold back so that no match is released before it is
    /// recognised: the longest lead of any rule plus the validators' look-ahead (0 when only
    /// length rules are configured). See [`super::StreamGuard`].
    pub fn hold_back(&self) -> usize {
        self.hold_back
    }

    fn hits(&self, text: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self
            .candidates(text, |_| 0, false)
            .iter()
            .filter_map(Candidate::hit)
            .collect();
        self.count_lengths(&mut self.length_counters(), text, 0, &mut hits);
        sort_by_span(&mut hits, |h| &h.span);
        hits
    }

    /// Candidates of every matcher, each searching from `from(matcher index)` (earlier text
    /// is context), sorted by start; rejected ones only when `keep_rejected`.
    pub(crate) fn candidates(
        &self,
        text: &str,
        from: impl Fn(usize) -> usize,
        keep_rejected: bool,
    ) -> Vec<Candidate> {
        let needs = |pattern: bool| {
            self.matchers
                .iter()
                .any(|m| matches!(m.kind, MatcherKind::Pattern(_)) == pattern)
        };
        let width = needs(true).then(|| View::new(text, fold_width));
        let caseless = needs(false).then(|| View::new(text, fold_width_and_case));
        let mut out = Vec::new();
        for (index, matcher) in self.matchers.iter().enumerate() {
            let bounds = matcher.bounds();
            match (&matcher.kind, &width, &caseless) {
                (MatcherKind::Pattern(detector), Some(view), _) => {
                    detector.find(view.as_str(), view.to_view(from(index)), |raw, end| {
                        if end.is_some() || keep_rejected {
                            out.push(Candidate {
                                matcher: index,
                                raw: view.span_to_original(raw),
                                accepted_end: end.map(|end| view.to_original(end)),
                                bounds,
                            });
                        }
                    })
                }
                (MatcherKind::Keywords(list), _, Some(view)) => {
                    list.find(view.as_str(), view.to_view(from(index)), |span| {
                        let raw = view.span_to_original(span);
                        let accepted_end = Some(raw.end);
                        out.push(Candidate {
                            matcher: index,
                            raw,
                            accepted_end,
                            bounds,
                        });
                    })
                }
                _ => {}
            }
        }
        out.sort_by_key(|c| c.raw.start);
        out
    }

    pub(crate) fn length_counters(&self) -> Vec<LengthCounter> {
        vec![LengthCounter::default(); self.lengths.len()]
    }

    /// Feeds `text` (starting at `offset`) to the length counters, adding a hit per limit
    /// exceeded for the first time.
    pub(crate) fn count_lengths(
        &self,
        counters: &mut [LengthCounter],
        text: &str,
        offset: usize,
        hits: &mut Vec<Hit>,
    ) {
        for (index, (rule, counter)) in self.lengths.iter().zip(counters).enumerate() {
            counter.feed(&rule.limits, text, offset, |metric, span| {
                hits.push(Hit {
                    source: Source::Length(index, metric),
                    span,
                })
            });
        }
    }

    pub(crate) fn action(&self, source: Source) -> Action {
        self.guardrails[self.guardrail_of(source)].action
    }

    /// Public findings for sorted hits, with spans moved by `shift`.
    pub(crate) fn verdict(&self, hits: &[Hit], shift: usize) -> Verdict {
        let findings = hits
            .iter()
            .map(|hit| {
                let guardrail = &self.guardrails[self.guardrail_of(hit.source)];
                let category = match hit.source {
                    Source::Matcher(m) => self.matchers[m].category.clone(),
                    Source::Length(_, metric) => Category::Length(metric),
                };
                Finding {
                    guardrail: guardrail.name.clone(),
                    category,
                    action: guardrail.action,
                    span: hit.span.start.saturating_add(shift)..hit.span.end.saturating_add(shift),
                }
            })
            .collect();
        Verdict { findings }
    }

    /// `text[range]` with the redactions among `hits` (sorted, in `text` coordinates, inside
    /// `range`) replaced by placeholders.
    pub(crate) fn rewrite<'t>(
        &self,
        text: &'t str,
        range: Range<usize>,
        hits: &[Hit],
        masking: &mut Masking,
    ) -> Cow<'t, str> {
        let region = text.get(range.clone()).unwrap_or("");
        let redactions = self.redactions(hits);
        if redactions.is_empty() {
            return Cow::Borrowed(region);
        }
        let mut out = String::with_capacity(region.len());
        let mut copied = range.start;
        for (span, m) in redactions {
            // Spans come from matching this very text, so both slices exist.
            let (Some(before), Some(value)) =
                (text.get(copied..span.start), text.get(span.clone()))
            else {
                continue;
            };
            let matcher = &self.matchers[m];
            let reversible = self.guardrails[matcher.guardrail].reversible;
            out.push_str(before);
            out.push_str(&masking.placeholder(
                &matcher.placeholder_type,
                matcher.canon,
                value,
                reversible,
            ));
            copied = span.end;
        }
        out.push_str(text.get(copied..range.end).unwrap_or(""));
        Cow::Owned(out)
    }

    /// The redactions to apply among sorted `hits`: `(span, matcher)`, disjoint, earliest
    /// then longest first.
    pub(crate) fn redactions<'h>(&self, hits: &'h [Hit]) -> Vec<(&'h Range<usize>, usize)> {
        let mut redactions: Vec<(&Range<usize>, usize)> = hits
            .iter()
            .filter_map(|hit| match hit.source {
                Source::Matcher(m) if self.action(hit.source) == Action::Redact => {
                    Some((&hit.span, m))
                }
                _ => None,
            })
            .collect();
        keep_disjoint(&mut redactions, |(span, _)| span);
        redactions
    }

    pub(crate) fn matcher_count(&self) -> usize {
        self.matchers.len()
    }

    fn guardrail_of(&self, source: Source) -> usize {
        match source {
            Source::Matcher(m) => self.matchers[m].guardrail,
            Source::Length(l, _) => self.lengths[l].guardrail,
        }
    }

    fn add_guardrail(
        &mut self,
        index: usize,
        config: &GuardrailConfig,
    ) -> Result<(), GuardConfigError> {
        let name = config.name.as_str();
        if name.trim().is_empty() {
            return Err(GuardConfigError::UnnamedGuardrail { index });
        }
        if self.guardrails.iter().any(|g| &*g.name == name) {
            return Err(GuardConfigError::DuplicateGuardrail(name.to_owned()));
        }
        if config.rules.is_empty() {
            return Err(GuardConfigError::NoRules(name.to_owned()));
        }
        if config.reversible && config.action != Action::Redact {
            return Err(GuardConfigError::ReversibleWithoutRedact(name.to_owned()));
        }
        let guardrail = self.guardrails.len();
        self.guardrails.push(Guardrail {
            name: name.into(),
            action: config.action,
            reversible: config.reversible,
        });
        let mut rule_names = HashSet::new();
        for (position, rule) in config.rules.iter().enumerate() {
            self.add_rule(guardrail, config.action, rule, &mut rule_names)
                .map_err(|problem| GuardConfigError::Rule {
                    guardrail: name.to_owned(),
                    rule: describe(position, rule),
                    problem,
                })?;
        }
        Ok(())
    }

    fn add_rule<'c>(
        &mut self,
        guardrail: usize,
        action: Action,
        rule: &'c RuleConfig,
        rule_names: &mut HashSet<&'c str>,
    ) -> Result<(), RuleProblem> {
        match rule {
            RuleConfig::Pii { entities } => {
                if entities.is_empty() {
                    return Err(RuleProblem::NoEntities);
                }
                for &entity in entities {
                    let category = Category::from(entity);
                    // Listed twice in this guardrail: one detector is enough.
                    if self
                        .matchers
                        .iter()
                        .any(|m| m.guardrail == guardrail && m.category == category)
                    {
                        continue;
                    }
                    for builtin in builtins(entity) {
                        let detector = Detector::builtin(builtin)?;
                        self.push_matcher(
                            guardrail,
                            category.clone(),
                            canon_of(entity),
                            MatcherKind::Pattern(detector),
                        );
                    }
                }
            }
            RuleConfig::Regex { name, pattern } => {
                check_name(name, rule_names)?;
                let detector = Detector::custom(pattern)?;
                self.push_matcher(
                    guardrail,
                    Category::Rule(name.as_str().into()),
                    Canon::Exact,
                    MatcherKind::Pattern(detector),
                );
            }
            RuleConfig::Keywords {
                name,
                words,
                whole_word,
            } => {
                check_name(name, rule_names)?;
                let list = KeywordList::new(words, *whole_word)?;
                self.push_matcher(
                    guardrail,
                    Category::Rule(name.as_str().into()),
                    Canon::Caseless,
                    MatcherKind::Keywords(list),
                );
            }
            RuleConfig::Length {
                max_chars,
                max_words,
                max_tokens,
            } => {
                if action == Action::Redact {
                    return Err(RuleProblem::LengthCannotRedact);
                }
                let limits = LengthLimits::new(*max_chars, *max_words, *max_tokens)?;
                self.lengths.push(LengthRule { guardrail, limits });
            }
        }
        Ok(())
    }

    fn push_matcher(
        &mut self,
        guardrail: usize,
        category: Category,
        canon: Canon,
        kind: MatcherKind,
    ) {
        let placeholder_type = category.placeholder_type().into();
        self.matchers.push(Matcher {
            guardrail,
            category,
            placeholder_type,
            canon,
            kind,
        });
    }
}

impl Matcher {
    fn bounds(&self) -> Bounds {
        match &self.kind {
            MatcherKind::Pattern(detector) => detector.bounds(),
            MatcherKind::Keywords(list) => list.bounds(),
        }
    }
}

fn canon_of(entity: PiiEntity) -> Canon {
    match entity {
        PiiEntity::Phone | PiiEntity::CreditCard | PiiEntity::UsSsn => Canon::Digits,
        PiiEntity::Iban => Canon::Alphanumeric,
        PiiEntity::Email | PiiEntity::Ipv6 => Canon::Caseless,
        PiiEntity::Ipv4 | PiiEntity::Secret => Canon::Exact,
    }
}

/// Rule names become categories and placeholder types, so they are kept simple and unique.
fn check_name<'c>(name: &'c str, taken: &mut HashSet<&'c str>) -> Result<(), RuleProblem> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 64;
    if !valid {
        return Err(RuleProblem::InvalidName);
    }
    if !taken.insert(name) {
        return Err(RuleProblem::DuplicateName);
    }
    Ok(())
}

fn describe(position: usize, rule: &RuleConfig) -> String {
    match rule {
        RuleConfig::Regex { name, .. } | RuleConfig::Keywords { name, .. } => format!("`{name}`"),
        RuleConfig::Pii { .. } => format!("rules[{position}] (pii)"),
        RuleConfig::Length { .. } => format!("rules[{position}] (length)"),
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
