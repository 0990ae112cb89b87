//! `when:` conditions as written → the filter contract's [`Condition`], each test checked
//! where it was written: its subject, its operator, a header name, a regex. The checks are
//! the filter's own ([`Condition::compile`]), so the two cannot disagree.

use tollgate_core::route_rules::{Condition, Operator, Subject, Test};

use super::diagnostics::Problem;
use super::raw_conditions as raw;
use super::spans::{field, item};

const SUBJECTS: &str = "key, team, model, header.NAME, metadata.NAME, all, any, not";

/// The condition at `path`, or `None` after adding what is wrong with it to `found`.
pub fn condition(
    path: &str,
    raw: &raw::Condition,
    found: &mut Vec<(String, Problem)>,
) -> Option<Condition> {
    let list = |name: &str, conditions: &[raw::Condition], found: &mut Vec<_>| {
        let path = field(path, name);
        let converted: Vec<Option<Condition>> = conditions
            .iter()
            .enumerate()
            .map(|(i, c)| condition(&item(&path, i), c, found))
            .collect();
        converted.into_iter().collect::<Option<Vec<_>>>()
    };
    match raw {
        raw::Condition::All(all) => list("all", all, found).map(Condition::All),
        raw::Condition::Any(any) => list("any", any, found).map(Condition::Any),
        raw::Condition::Not(inner) => {
            condition(&field(path, "not"), inner, found).map(|c| Condition::Not(Box::new(c)))
        }
        raw::Condition::Test { subject, test } => {
            let path = field(path, subject);
            let Some(subject) = parse_subject(subject) else {
                let problem = Problem::Unknown {
                    what: "condition subject",
                    value: subject.clone(),
                    expected: SUBJECTS.to_string(),
                };
                found.push((path, problem));
                return None;
            };
            let operator = match (&test.equals, &test.one_of, &test.matches) {
                (Some(value), None, None) => Operator::Equals(value.clone()),
                (None, Some(values), None) => Operator::In(values.clone()),
                (None, None, Some(pattern)) => Operator::Matches(pattern.clone()),
                _ => {
                    found.push((path, Problem::TestShape));
                    return None;
                }
            };
            let condition = Condition::Test(Test { subject, operator });
            match condition.compile() {
                Ok(_) => Some(condition),
                Err(e) => {
                    found.push((path, Problem::Rule(e)));
                    None
                }
            }
        }
    }
}

fn parse_subject(written: &str) -> Option<Subject> {
    let named = |prefix: &str| {
        written
            .strip_prefix(prefix)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    };
    match written {
        "key" => Some(Subject::Key),
        "team" => Some(Subject::Team),
        "model" => Some(Subject::Model),
        _ => named("header.")
            .map(Subject::Header)
            .or_else(|| named("metadata.").map(Subject::Metadata)),
    }
}
