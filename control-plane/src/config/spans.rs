//! Where each node of a YAML document sits, by path.
//!
//! serde gives us typed values and, through `serde_path_to_error`, the path of a type
//! error, but a deserialized value carries no position. Semantic checks (an unknown
//! provider, a duplicate alias) need the line of the offending node, so the text is
//! also walked once with `saphyr-parser`, a maintained pure-Rust YAML 1.2 event parser
//! with spans and no dependencies beyond `arraydeque`, recording where every path
//! starts. Paths are spelled exactly as `serde_path_to_error` spells them
//! (`models[2].provider`, `.` for the root), so both kinds of error locate the same way.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use super::diagnostics::Location;

/// Path of the document root.
pub const ROOT: &str = ".";

/// `parent.key`.
pub fn field(parent: &str, key: &str) -> String {
    if parent == ROOT {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub fn item(parent: &str, index: usize) -> String {
    if parent == ROOT {
        format!("[{index}]")
    } else {
        format!("{parent}[{index}]")
    }
}

/// Start positions of the nodes of the first document, keyed by path.
#[derive(Debug, Default)]
pub struct Spans {
    starts: HashMap<String, Location>,
}

enum Frame {
    Sequence {
        path: String,
        next: usize,
    },
    /// `key` is the pending key once read, `None` while the next node is a key.
    Mapping {
        path: String,
        key: Option<String>,
    },
}

impl Spans {
    /// Indexes `text`. Best effort: indexing stops at the first syntax error, which the
    /// deserializer reports anyway; paths past it then fall back to their ancestors.
    pub fn index(text: &str) -> Spans {
        let mut spans = Spans::default();
        let mut stack: Vec<Frame> = Vec::new();
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            let at = Location {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            // The path of the node this event starts, or `None` if it is a mapping key.
            let path = match stack.last_mut() {
                None => Some(ROOT.to_string()),
                Some(Frame::Sequence { path, next }) => {
                    *next += 1;
                    Some(item(path, *next - 1))
                }
                Some(Frame::Mapping { path, key }) => match key.take() {
                    Some(key) => Some(field(path, &key)),
                    None => {
                        // Complex keys get a name no serde path can match.
                        let name = match &event {
                            Event::Scalar(value, ..) => value.to_string(),
                            _ => "?".to_string(),
                        };
                        *key = Some(name);
                        None
                    }
                },
            };
            let opens = match event {
                Event::Scalar(..) | Event::Alias(_) => None,
                Event::SequenceStart(..) => Some(true),
                Event::MappingStart(..) => Some(false),
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                    continue;
                }
                Event::DocumentEnd => break,
                _ => continue,
            };
            // A container used as a key still needs its frame so its end pops it.
            let path = match path {
                Some(path) => {
                    spans.starts.entry(path.clone()).or_insert(at);
                    path
                }
                None => "?".to_string(),
            };
            match opens {
                Some(true) => stack.push(Frame::Sequence { path, next: 0 }),
                Some(false) => stack.push(Frame::Mapping { path, key: None }),
                None => {}
            }
        }
        spans
    }

    /// The position of `path`, or of its nearest indexed ancestor (a missing field is
    /// reported where its parent mapping starts).
    pub fn locate(&self, path: &str) -> Option<Location> {
        let mut path = path;
        loop {
            if let Some(at) = self.starts.get(path) {
                return Some(*at);
            }
            path = parent(path)?;
        }
    }
}

fn parent(path: &str) -> Option<&str> {
    if path == ROOT {
        return None;
    }
    match path.rfind(['.', '[']) {
        Some(0) | None => Some(ROOT),
        Some(i) => Some(&path[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
version: 1
providers:
  - name: a
    credential:
      env: X
  - {name: b, kind: openai}
models: []
";

    fn at(line: usize, column: usize) -> Option<Location> {
        Some(Location { line, column })
    }

    #[test]
    fn locates_nodes_by_serde_path() {
        let spans = Spans::index(DOC);
        assert_eq!(spans.locate("version"), at(1, 10));
        assert_eq!(spans.locate("providers[0].name"), at(3, 11));
        assert_eq!(spans.locate("providers[0].credential.env"), at(5, 12));
        assert_eq!(spans.locate("providers[1]"), at(6, 5));
        assert_eq!(spans.locate("providers[1].kind"), at(6, 21));
        assert_eq!(spans.locate("models"), at(7, 9));
    }

    #[test]
    fn missing_paths_fall_back_to_ancestors() {
        let spans = Spans::index(DOC);
        assert_eq!(spans.locate("providers[1].timeout"), at(6, 5));
        assert_eq!(spans.locate("keys[0].id"), spans.locate(ROOT));
    }

    #[test]
    fn paths_match_serde_path_to_error() {
        assert_eq!(field(ROOT, "models"), "models");
        assert_eq!(item(&field(ROOT, "models"), 2), "models[2]");
        assert_eq!(field("models[2]", "provider"), "models[2].provider");
        assert_eq!(parent("models[2].provider"), Some("models[2]"));
        assert_eq!(parent("models[2]"), Some("models"));
        assert_eq!(parent("models"), Some(ROOT));
    }
}
