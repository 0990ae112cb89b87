//! Conditional routing: the rules of an alias whose route depends on the request.
//!
//! The control plane renders one Envoy route per branch of a `conditional` route, matched on
//! [`crate::headers::BRANCH`]; the gateway filter evaluates the alias's rules once per
//! request, in order, and names the first that matches in that header (none: the default
//! branch). Envoy then routes, retries and fails over within the branch as for any alias.
//!
//! Conditions look at the virtual key, its team, the requested model, a request header, or
//! a field of the request's metadata (`x-tollgate-metadata`, parsed with the other
//! attribution headers, see [`crate::attribution`]).
//! A value that is absent matches no test, so `not` of such a test matches.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::config::VirtualKeyConfig;
use crate::headers;

/// Largest compiled regex of a rule; routing patterns are short, this only stops a
/// pathological one from taking the filter's memory.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// A condition as configured (the contract's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Condition {
    /// Every condition holds (true when empty).
    All(Vec<Condition>),
    /// At least one condition holds (false when empty).
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Test),
}

/// One value of the request, compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Test {
    pub subject: Subject,
    pub operator: Operator,
}

/// Which value of the request a test looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Subject {
    /// The virtual key's id.
    Key,
    /// The virtual key's team.
    Team,
    /// The model alias the client asked for.
    Model,
    /// A request header, by lower-case name.
    Header(String),
    /// A field of `x-tollgate-metadata`.
    Metadata(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operator {
    Equals(String),
    In(Vec<String>),
    /// A regular expression (`regex` crate syntax) searched in the value; anchor it with
    /// `^…$` to match the whole value.
    Matches(String),
}

/// Why a condition cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("invalid regex {pattern:?}: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("{0:?} is not a header name a rule can use: {1}")]
    Header(String, &'static str),
    #[error("`in` needs at least one value")]
    EmptyIn,
}

/// A condition ready to evaluate: regexes built once per configuration.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Test(Subject, Matcher),
}

#[derive(Debug, Clone)]
enum Matcher {
    Equals(String),
    In(Vec<String>),
    Matches(Regex),
}

/// What the rules of one request are evaluated against.
pub struct RequestFacts<'a> {
    pub key_id: &'a str,
    pub team: Option<&'a str>,
    pub model: &'a str,
    /// A request header's value, read only when a rule asks for it.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The request's metadata (empty when it sent none).
    pub metadata: &'a BTreeMap<String, String>,
}

// === impl Condition ===

impl Condition {
    pub fn compile(&self) -> Result<CompiledCondition, RuleError> {
        Ok(CompiledCondition {
            node: compile(self)?,
        })
    }
}

fn compile(condition: &Condition) -> Result<Node, RuleError> {
    let all = |conditions: &[Condition]| -> Result<Vec<Node>, RuleError> {
        conditions.iter().map(compile).collect()
    };
    Ok(match condition {
        Condition::All(conditions) => Node::All(all(conditions)?),
        Condition::Any(conditions) => Node::Any(all(conditions)?),
        Condition::Not(inner) => Node::Not(Box::new(compile(inner)?)),
        Condition::Test(Test { subject, operator }) => {
            if let Subject::Header(name) = subject {
                check_header_name(name)?;
            }
            let matcher = match operator {
                Operator::Equals(value) => Matcher::Equals(value.clone()),
                Operator::In(values) if values.is_empty() => return Err(RuleError::EmptyIn),
                Operator::In(values) => Matcher::In(values.clone()),
                Operator::Matches(pattern) => Matcher::Matches(
                    RegexBuilder::new(pattern)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| RuleError::Regex {
                            pattern: pattern.clone(),
                            reason: e.to_string(),
                        })?,
                ),
            };
            Node::Test(subject.clone(), matcher)
        }
    })
}

/// Header names as Envoy hands them to filters: lower case, and neither a pseudo-header nor
/// one the gateway removes before routing (the virtual key, internal headers).
fn check_header_name(name: &str) -> Result<(), RuleError> {
    let refuse = |why| Err(RuleError::Header(name.to_string(), why));
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return refuse("use letters, digits and -_.!#$%&'*+^`|~ only");
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return refuse("write it in lower case, as HTTP/2 and Envoy do");
    }
    if headers::is_client_credential_or_internal(name) {
        return refuse("the gateway removes it before routing (a credential or internal header)");
    }
    if name == headers::METADATA {
        return refuse("use a `metadata.FIELD` subject for the fields of x-tollgate-metadata");
    }
    Ok(())
}

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

// === impl CompiledCondition ===

impl CompiledCondition {
    pub fn matches(&self, facts: &RequestFacts) -> bool {
        self.node.matches(facts)
    }
}

impl Node {
    fn matches(&self, facts: &RequestFacts) -> bool {
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.matches(facts)),
            Node::Any(nodes) => nodes.iter().any(|n| n.matches(facts)),
            Node::Not(node) => !node.matches(facts),
            Node::Test(subject, matcher) => {
                let value = match subject {
                    Subject::Key => Some(facts.key_id.to_string()),
                    Subject::Team => facts.team.map(str::to_string),
                    Subject::Model => Some(facts.model.to_string()),
                    Subject::Header(name) => (facts.header)(name),
                    Subject::Metadata(field) => facts.metadata.get(field).cloned(),
                };
                value.is_some_and(|v| matcher.matches(&v))
            }
        }
    }
}

impl Matcher {
    fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Equals(expected) => value == expected,
            Matcher::In(values) => values.iter().any(|v| v == value),
            Matcher::Matches(regex) => regex.is_match(value),
        }
    }
}

/// The index of the first rule that matches; `None` selects the default branch.
pub fn select(rules: &[CompiledCondition], facts: &RequestFacts) -> Option<usize> {
    rules.iter().position(|rule| rule.matches(facts))
}

/// [`select`] for a request of `key` for `model`, reading its headers through `header`.
pub fn select_for(
    rules: &[CompiledCondition],
    key: &VirtualKeyConfig,
    model: &str,
    header: &dyn Fn(&str) -> Option<String>,
    metadata: &BTreeMap<String, String>,
) -> Option<usize> {
    let facts = RequestFacts {
        key_id: &key.id,
        team: key.team.as_deref(),
        model,
        header,
        metadata,
    };
    select(rules, &facts)
}

/// How [`crate::headers::RULE`] names a selection: the rule's index, or `default`.
pub fn rule_label(selected: Option<usize>) -> String {
    selected.map_or_else(|| "default".to_string(), |i| i.to_string())
}

#[cfg(test)]
#[path = "route_rules_tests.rs"]
mod tests;
