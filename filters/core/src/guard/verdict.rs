//! What the engine reports. Findings say which guardrail and category matched where, and
//! never carry the matched text: they are meant for logs, metrics and client errors.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use super::config::{Action, PiiEntity};

/// The kind of content a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Category {
    Email,
    Phone,
    CreditCard,
    UsSsn,
    Iban,
    Ipv4,
    Ipv6,
    Secret,
    /// A `regex` or `keywords` rule, by its name.
    Rule(Arc<str>),
    /// A `length` rule's limit.
    Length(LengthMetric),
}

/// Which limit of a `length` rule was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthMetric {
    Chars,
    Words,
    Tokens,
}

impl Category {
    /// Stable name for logs and error bodies: the config spelling (`creditCard`, the rule's
    /// name, `maxTokens`).
    pub fn name(&self) -> &str {
        match self {
            Category::Email => "email",
            Category::Phone => "phone",
            Category::CreditCard => "creditCard",
            Category::UsSsn => "usSsn",
            Category::Iban => "iban",
            Category::Ipv4 => "ipv4",
            Category::Ipv6 => "ipv6",
            Category::Secret => "secret",
            Category::Rule(name) => name,
            Category::Length(LengthMetric::Chars) => "maxChars",
            Category::Length(LengthMetric::Words) => "maxWords",
            Category::Length(LengthMetric::Tokens) => "maxTokens",
        }
    }

    /// The type in redaction placeholders: `CREDIT_CARD` in `[CREDIT_CARD_1]`; rule names in
    /// SCREAMING_SNAKE_CASE (`employeeId` → `EMPLOYEE_ID`).
    pub(crate) fn placeholder_type(&self) -> Cow<'static, str> {
        let fixed = match self {
            Category::Email => "EMAIL",
            Category::Phone => "PHONE",
            Category::CreditCard => "CREDIT_CARD",
            Category::UsSsn => "US_SSN",
            Category::Iban => "IBAN",
            Category::Ipv4 => "IPV4",
            Category::Ipv6 => "IPV6",
            Category::Secret => "SECRET",
            Category::Length(_) => "LENGTH",
            Category::Rule(name) => return Cow::Owned(screaming_snake(name)),
        };
        Cow::Borrowed(fixed)
    }
}

impl From<PiiEntity> for Category {
    fn from(entity: PiiEntity) -> Self {
        match entity {
            PiiEntity::Email => Category::Email,
            PiiEntity::Phone => Category::Phone,
            PiiEntity::CreditCard => Category::CreditCard,
            PiiEntity::UsSsn => Category::UsSsn,
            PiiEntity::Iban => Category::Iban,
            PiiEntity::Ipv4 => Category::Ipv4,
            PiiEntity::Ipv6 => Category::Ipv6,
            PiiEntity::Secret => Category::Secret,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn screaming_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut after_lower_or_digit = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && after_lower_or_digit {
            out.push('_');
        }
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
        after_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    out
}

/// One match of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub guardrail: Arc<str>,
    pub category: Category,
    pub action: Action,
    /// Byte range in the scanned text (for a stream: in everything pushed so far). Lets the
    /// caller locate the match in its own copy; the engine keeps no copy.
    pub span: Range<usize>,
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub guardrail: Arc<str>,
    pub category: Category,
    /// Where the refused content failed, for checks that can say so without quoting it (a
    /// schema violation's tool and JSON path); added to the client's error message.
    pub detail: Option<String>,
}

/// Everything found in one text, ordered by position (see [`super::overlap`] for ties).
/// Overlapping findings are all listed; only redaction picks among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub findings: Vec<Finding>,
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The first finding whose guardrail denies, if any.
    pub fn denial(&self) -> Option<Denial> {
        denial(&self.findings)
    }
}

pub(crate) fn denial(findings: &[Finding]) -> Option<Denial> {
    findings
        .iter()
        .find(|f| f.action == Action::Deny)
        .map(|f| Denial {
            guardrail: f.guardrail.clone(),
            category: f.category.clone(),
            detail: None,
        })
}

/// The result of [`super::CompiledGuardrails::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<'t> {
    /// The text with redactions applied; borrowed when nothing was redacted. When `denied`
    /// is set it must not be forwarded.
    pub text: Cow<'t, str>,
    pub verdict: Verdict,
    pub denied: Option<Denial>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_types_are_screaming_snake_case() {
        assert_eq!(Category::CreditCard.placeholder_type(), "CREDIT_CARD");
        for (name, expected) in [
            ("employeeId", "EMPLOYEE_ID"),
            ("api-token", "API_TOKEN"),
            ("ssnV2x", "SSN_V2X"),
        ] {
            assert_eq!(Category::Rule(name.into()).placeholder_type(), expected);
        }
    }
}
