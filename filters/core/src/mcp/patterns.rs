//! Name patterns of a key's MCP scope: exact names, or globs where `*` matches any run of
//! characters and `?` one character. Deny patterns win over allow patterns.

use serde::{Deserialize, Serialize};

/// One pattern, kept as written; matching walks it directly (patterns are short, names
/// are short, and a key has a handful of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pattern(pub String);

impl Pattern {
    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

/// Iterative glob match with single-star backtracking: linear in practice, never
/// exponential.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What one key may use on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameRules {
    /// Names allowed; `*` allows every one.
    pub allow: Vec<Pattern>,
    /// Names refused even when an allow pattern matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Pattern>,
}

impl NameRules {
    pub fn allows(&self, name: &str) -> bool {
        self.allow.iter().any(|p| p.matches(name)) && !self.deny.iter().any(|p| p.matches(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> NameRules {
        let pats = |v: &[&str]| v.iter().map(|s| Pattern(s.to_string())).collect();
        NameRules {
            allow: pats(allow),
            deny: pats(deny),
        }
    }

    #[test]
    fn globs_match_runs_and_single_characters() {
        let m = |p: &str, n: &str| Pattern(p.into()).matches(n);
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("read_*", "read_file"));
        assert!(!m("read_*", "write_file"));
        assert!(m("*_file", "read_file"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("get?", "gets"));
        assert!(!m("get?", "get"));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
        assert!(m("**a", "ba"));
    }

    #[test]
    fn deny_wins_over_allow() {
        let r = rules(&["*"], &["delete_*"]);
        assert!(r.allows("read"));
        assert!(!r.allows("delete_repo"));
        let none = rules(&[], &[]);
        assert!(!none.allows("read"), "nothing allowed unless listed");
    }
}
