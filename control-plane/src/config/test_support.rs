//! Shared by the config tests.

use super::{load, Severity};

/// `(path, line, message)` of every error; 0 when a finding has no line.
pub fn errors(text: &str) -> Vec<(String, usize, String)> {
    let found = load(text, None).expect_err("config should be rejected");
    found
        .into_iter()
        .filter(|d| d.severity() == Severity::Error)
        .map(|d| {
            (
                d.path,
                d.location.map_or(0, |l| l.line),
                d.problem.to_string(),
            )
        })
        .collect()
}
