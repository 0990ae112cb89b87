//! Why a guardrail configuration was refused. Raised once, when compiling; never on a
//! request. Messages name the guardrail and rule and never repeat keywords, which may
//! themselves be sensitive.

use thiserror::Error;

/// A configuration the engine cannot compile.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GuardConfigError {
    #[error("guardrails[{index}] has an empty name")]
    UnnamedGuardrail { index: usize },
    #[error("guardrail `{0}` is defined twice")]
    DuplicateGuardrail(String),
    #[error("guardrail `{0}` has no rules")]
    NoRules(String),
    #[error("guardrail `{0}`: `reversible` only applies to the redact action")]
    ReversibleWithoutRedact(String),
    #[error("guardrail `{guardrail}`, rule {rule}: {problem}")]
    Rule {
        guardrail: String,
        /// The rule's name, or its position and type for unnamed rules (`rules[2] (length)`).
        rule: String,
        problem: RuleProblem,
    },
}

/// What is wrong with one rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleProblem {
    #[error("the name must be 1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter")]
    InvalidName,
    #[error("another rule of this guardrail has the same name")]
    DuplicateName,
    #[error("lists no entities")]
    NoEntities,
    #[error("invalid pattern: {0}")]
    InvalidPattern(String),
    #[error("the pattern can match empty text")]
    MatchesEmpty,
    #[error(
        "the pattern has no maximum match length; bound every repetition (`{{1,64}}` instead of `+`)"
    )]
    Unbounded,
    #[error("matches can be {len} bytes long; the limit is {limit}")]
    TooLong { len: usize, limit: usize },
    #[error("lists no words")]
    NoWords,
    #[error("word #{0} is blank")]
    BlankWord(usize),
    #[error("cannot build the keyword automaton: {0}")]
    Keywords(String),
    #[error("sets no limit")]
    NoLimit,
    #[error("a length limit cannot redact; use deny or flag")]
    LengthCannotRedact,
}
