//! Guardrails: find, redact or refuse sensitive and unwanted content in prompts and
//! completions, whole ([`CompiledGuardrails::apply`]) or streamed ([`StreamGuard`]).
//!
//! A [`GuardrailsConfig`] (strict serde, from the control plane) is compiled once per
//! configuration into [`CompiledGuardrails`]; every regex and automaton is built there and
//! errors name the guardrail and rule. Evaluation is pure, host-independent and
//! panic-free on any input.
//!
//! - **Rules**: built-in PII and secret detectors (checksums and heuristics documented in
//!   `detectors/`), custom regex entity types, keyword lists, length limits.
//! - **Normalisation**: matching runs on a view where full-width forms read as ASCII (and,
//!   for keywords, case is folded); spans and redactions always refer to the original text.
//! - **Findings** name guardrail, category, action and byte span, never the matched text.
//!   Overlaps: every finding is reported; redaction keeps the earliest, then longest, then
//!   first-configured one.
//! - **Redaction** uses typed placeholders numbered per request in a [`Masking`]; reversible
//!   guardrails keep originals so the answer can be unmasked ([`Masking::unmask`],
//!   [`Unmask`] for streams).
//! - **Streams**: [`StreamGuard`] releases exactly what `apply` would produce, holding back
//!   only a bounded tail; its documentation states the bound.

mod checksums;
mod config;
mod detectors;
mod engine;
mod error;
pub mod injection;
mod keywords;
mod length;
mod normalize;
mod overlap;
mod redact;
pub mod schema;
mod stream;
mod unmask;
mod verdict;
mod window;

#[cfg(test)]
mod test_support;

pub use config::{Action, GuardrailConfig, GuardrailsConfig, PiiEntity, RuleConfig};
pub use engine::CompiledGuardrails;
pub use error::{GuardConfigError, RuleProblem};
pub use redact::{Escape, Masking};
pub use stream::{HoldBack, StreamGuard, StreamStep};
pub use unmask::Unmask;
pub use verdict::{Category, Denial, Finding, LengthMetric, Outcome, Verdict};
