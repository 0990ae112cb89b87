//! The hash chain, pure: building the next entry and verifying a sequence of entries.
//!
//! Each entry's `hash` is the lower-case hex SHA-256 of
//!
//! ```text
//! tollgate-audit-v1\n
//! <len>:<seq>\n <len>:<time>\n <len>:<actor>\n <len>:<action>\n <len>:<target>\n
//! <len>:<details>\n <len>:<prev_hash>\n
//! ```
//!
//! (no spaces; each field is preceded by its length in bytes, in decimal, and a colon, and
//! followed by a newline, so no choice of field values can make two entries encode alike).
//! `seq` is decimal, `time` RFC 3339 UTC with milliseconds, `details` canonical JSON (see
//! [`canonical_json`]), and `prev_hash` the previous entry's `hash`, or 64 zeros for entry 1.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AuditEvent;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DOMAIN: &[u8] = b"tollgate-audit-v1\n";

/// One entry of the log, as stored and exported (one JSON line each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3, ... with no gap.
    pub seq: i64,
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// What the next entry links to: the last one's number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl AuditEntry {
    /// The entry after `head` (the first when `None`) recording `event` at `time`.
    pub fn next(head: Option<&Head>, event: &AuditEvent, time: String) -> AuditEntry {
        let (seq, prev_hash) = head.map_or((1, GENESIS.to_string()), |head| {
            (head.seq + 1, head.hash.clone())
        });
        let mut entry = AuditEntry {
            seq,
            time,
            actor: event.actor.clone(),
            action: event.action.clone(),
            target: event.target.clone(),
            details: event.details.clone(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.computed_hash(entry.seq);
        entry
    }

    /// The hash of this entry's content, as if it were entry `seq`.
    fn computed_hash(&self, seq: i64) -> String {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        let details = canonical_json(&self.details);
        let seq = seq.to_string();
        for field in [
            seq.as_str(),
            &self.time,
            &self.actor,
            &self.action,
            &self.target,
            &details,
            &self.prev_hash,
        ] {
            hasher.update(format!("{}:", field.len()));
            hasher.update(field);
            hasher.update(b"\n");
        }
        hex(&hasher.finalize())
    }

    pub fn head(&self) -> Head {
        Head {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with no whitespace and every object's keys in byte order; strings and numbers as
/// serde_json writes them (only `"`, `\` and control characters escaped). For the JSON
/// audit details carry, this equals Python's
/// `json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<_> = map.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `SEQ:HASH`, as `tollgate audit verify` prints the last entry.
impl std::str::FromStr for Head {
    type Err = AnchorError;

    fn from_str(text: &str) -> Result<Self, AnchorError> {
        let (seq, hash) = text.split_once(':').ok_or(AnchorError)?;
        let seq = seq
            .parse()
            .ok()
            .filter(|&seq: &i64| seq >= 1)
            .ok_or(AnchorError)?;
        let hex = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex {
            return Err(AnchorError);
        }
        Ok(Head {
            seq,
            hash: hash.to_string(),
        })
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an anchor is SEQ:HASH as `tollgate audit verify` prints it: an entry number, a colon and 64 lower-case hex digits")]
pub struct AnchorError;

/// A verified log: how many entries, and the last one (to note down: a log cut short
/// after it verifies on its own, but no longer reaches this head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: usize,
    pub head: Option<Head>,
}

/// The first place the chain breaks. Entries are named by their `seq`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq} was modified: its content does not match its hash")]
    Modified { seq: i64 },
    #[error("entry {expected} is missing (deleted): after entry {after} comes entry {found}")]
    Missing {
        expected: i64,
        after: i64,
        found: i64,
    },
    #[error("entry {seq} was written as entry {written_as}: entries were inserted before it, or entries moved")]
    Inserted { seq: i64, written_as: i64 },
    #[error("entry {seq} was written as entry {written_as}: entries were reordered, or deleted and renumbered")]
    Moved { seq: i64, written_as: i64 },
    #[error("entry {seq} does not follow entry {previous}: its prev_hash is not that entry's hash, so entry {previous} was rewritten (its hash recomputed) or inserted")]
    Unlinked { seq: i64, previous: i64 },
    #[error("entry {seq} comes after entry {previous}: entries are out of order or repeated")]
    OutOfOrder { seq: i64, previous: i64 },
    #[error("entry {anchor} (the anchor) is gone: the log now ends at entry {last}, so it was cut short")]
    CutShort { anchor: i64, last: i64 },
    #[error("entry {anchor} does not have the anchor's hash: the log was rewritten up to it")]
    Rewritten { anchor: i64 },
}

/// Checks that `entries` (in stored order) are 1, 2, 3, ... each matching its hash and
/// linked to the one before. Stops at the first break and names the entry.
pub fn verify(entries: &[AuditEntry]) -> Result<Verified, ChainError> {
    let mut previous: Option<&AuditEntry> = None;
    for entry in entries {
        let (expected, prev_hash, after) = match previous {
            None => (1, GENESIS, 0),
            Some(p) => (p.seq + 1, p.hash.as_str(), p.seq),
        };
        if entry.seq > expected {
            return Err(ChainError::Missing {
                expected,
                after,
                found: entry.seq,
            });
        }
        if entry.seq < expected {
            return Err(ChainError::OutOfOrder {
                seq: entry.seq,
                previous: after,
            });
        }
        if entry.computed_hash(entry.seq) != entry.hash {
            return Err(moved_or_modified(entry, entries));
        }
        if entry.prev_hash != prev_hash {
            return Err(ChainError::Unlinked {
                seq: entry.seq,
                previous: after,
            });
        }
        previous = Some(entry);
    }
    Ok(Verified {
        entries: entries.len(),
        head: previous.map(AuditEntry::head),
    })
}

/// Checks that a verified log still holds `anchor`, an entry noted down earlier: what a
/// chain cannot show by itself, newest entries cut off or every hash recomputed.
pub fn check_anchor(entries: &[AuditEntry], anchor: &Head) -> Result<(), ChainError> {
    match entries.iter().find(|e| e.seq == anchor.seq) {
        Some(entry) if entry.hash == anchor.hash => Ok(()),
        Some(_) => Err(ChainError::Rewritten { anchor: anchor.seq }),
        None => Err(ChainError::CutShort {
            anchor: anchor.seq,
            last: entries.last().map_or(0, |e| e.seq),
        }),
    }
}

/// An entry whose hash fails: if its content hashes right under another number, it was
/// moved (renumbered) rather than edited. Only the numbers the log has, plus one past
/// its end, are tried, so the cost is bounded by the log's length, paid once on failure.
fn moved_or_modified(entry: &AuditEntry, entries: &[AuditEntry]) -> ChainError {
    let last = entries.iter().map(|e| e.seq).max().unwrap_or(0);
    let written_as = (1..=last + 1)
        .filter(|&seq| seq != entry.seq)
        .find(|&seq| entry.computed_hash(seq) == entry.hash);
    match written_as {
        Some(written_as) if written_as < entry.seq => ChainError::Inserted {
            seq: entry.seq,
            written_as,
        },
        Some(written_as) => ChainError::Moved {
            seq: entry.seq,
            written_as,
        },
        None => ChainError::Modified { seq: entry.seq },
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
