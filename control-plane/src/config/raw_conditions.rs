//! A `conditional` route node exactly as written (see [`super::raw`] for the conventions).
//!
//! ```yaml
//! conditional:
//!   rules:
//!     - when: {header.x-priority: high}            # a plain value means `equals`
//!       route: {provider: openai, model: gpt-4o}
//!     - when: {all: [{team: {in: [research, ml]}}, {not: {metadata.env: prod}}]}
//!       route: {alias: cheap}
//!   default: {provider: openai, model: gpt-4o-mini}
//! ```
//!
//! A condition is a mapping with one entry: a subject (`key`, `team`, `model`,
//! `header.NAME`, `metadata.NAME`) and its test, or a combinator (`all`, `any`, `not`).
//! Subjects are kept as written here and checked, with their location, by validation.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::raw::Node;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditional {
    pub rules: Vec<Rule>,
    /// Required; optional here so its absence is a located validation error.
    pub default: Option<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub when: Condition,
    pub route: Node,
}

#[derive(Debug)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    /// `subject` as written, e.g. `header.x-tier`.
    Test {
        subject: String,
        test: Test,
    },
}

/// Exactly one of these should be set; a plain value is `equals`.
#[derive(Debug, Default)]
pub struct Test {
    pub equals: Option<String>,
    pub one_of: Option<Vec<String>>,
    pub matches: Option<String>,
}

const ONE_ENTRY: &str = "a condition is one `subject: test` entry (key, team, model, header.NAME, \
     metadata.NAME) or one of all/any/not; combine several with `all: [...]`";

// === impl Condition ===

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConditionVisitor;

        impl<'de> Visitor<'de> for ConditionVisitor {
            type Value = Condition;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ONE_ENTRY)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(ONE_ENTRY));
                };
                let condition = match key.as_str() {
                    "all" => Condition::All(map.next_value()?),
                    "any" => Condition::Any(map.next_value()?),
                    "not" => Condition::Not(map.next_value()?),
                    _ => Condition::Test {
                        subject: key,
                        test: map.next_value()?,
                    },
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(ONE_ENTRY));
                }
                Ok(condition)
            }
        }

        deserializer.deserialize_map(ConditionVisitor)
    }
}

// === impl Test ===

impl<'de> Deserialize<'de> for Test {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TestVisitor;

        impl<'de> Visitor<'de> for TestVisitor {
            type Value = Test;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or one of {equals: V}, {in: [V, ...]}, {matches: REGEX}")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Test, E> {
                Ok(Test {
                    equals: Some(value.to_string()),
                    ..Test::default()
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Test, A::Error> {
                Operators::deserialize(MapAccessDeserializer::new(map)).map(|o| Test {
                    equals: o.equals,
                    one_of: o.one_of,
                    matches: o.matches,
                })
            }
        }

        deserializer.deserialize_any(TestVisitor)
    }
}

/// The mapping form of [`Test`], derived so unknown operators get serde's strict message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Operators {
    equals: Option<String>,
    #[serde(rename = "in")]
    one_of: Option<Vec<String>>,
    matches: Option<String>,
}
