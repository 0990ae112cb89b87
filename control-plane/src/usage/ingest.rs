//! A shipped batch (JSON lines, see `tollgate_core::usage_outbox`) → records to store,
//! and what the MCP filter ships the same way (tool changes for the audit log, pins for
//! the pin store), which is never usage.

use serde_json::Value;

use crate::audit::mcp::{is_tool_change, tool_changed, ShippedEvent};
use crate::pins::PinEvent;

/// One record as stored: its id, time and the columns reports filter on, plus the whole
/// record.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingRecord {
    pub id: String,
    pub time_unix_ms: i64,
    pub provider: Option<String>,
    pub key_id: Option<String>,
    pub team: Option<String>,
    pub alias: Option<String>,
    pub upstream_model: Option<String>,
    pub status: Option<i64>,
    /// The run of the step (the client's run id, else its trace id).
    pub run_id: Option<String>,
    /// The record exactly as the filter wrote it.
    pub json: String,
}

/// A parsed batch. Lines that are not records are counted, not fatal: refusing the batch
/// would make Envoy resend it for ever.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    pub records: Vec<IncomingRecord>,
    /// Events for the audit log, kept out of the usage store.
    pub audit: Vec<ShippedEvent>,
    /// MCP tool pins first seen, and definitions seen changed, for the pin store.
    pub pins: Vec<PinEvent>,
    pub rejected: usize,
}

pub fn parse_batch(body: &str) -> ParsedBatch {
    let mut batch = ParsedBatch::default();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            batch.rejected += 1;
            continue;
        };
        if is_tool_change(&value) {
            match (tool_changed(&value), PinEvent::changed(&value)) {
                (Some(event), Some(pin)) => {
                    batch.audit.push(event);
                    batch.pins.push(pin);
                }
                _ => batch.rejected += 1,
            }
            continue;
        }
        if PinEvent::is_first_seen(&value) {
            match PinEvent::first_seen(&value) {
                Some(pin) => batch.pins.push(pin),
                None => batch.rejected += 1,
            }
            continue;
        }
        match parse_record(line, &value) {
            Some(record) => batch.records.push(record),
            None => batch.rejected += 1,
        }
    }
    batch
}

/// A record needs a non-empty id and its time; everything else is optional.
fn parse_record(line: &str, value: &Value) -> Option<IncomingRecord> {
    let id = value.get("id")?.as_str().filter(|id| !id.is_empty())?;
    let time_unix_ms = value.get("time_unix_ms")?.as_i64()?;
    let text = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
    Some(IncomingRecord {
        id: id.to_string(),
        time_unix_ms,
        provider: text("provider"),
        key_id: text("key_id"),
        team: text("team"),
        alias: text("alias"),
        upstream_model: text("upstream_model"),
        status: value.get("status").and_then(Value::as_i64),
        run_id: text("run_id"),
        json: line.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_counts_the_rest() {
        let body = concat!(
            r#"{"id":"r.1","time_unix_ms":5,"provider":"p","key_id":"k","team":null,"status":200}"#,
            "\n\n",
            "not json\n",
            r#"{"time_unix_ms":5}"#,
            "\n",
            r#"{"id":"","time_unix_ms":5}"#,
            "\n",
            r#"{"id":"r.2","time_unix_ms":"soon"}"#,
            "\n",
            r#"{"kind":"mcp_tool_change","id":"c.1","time_unix_ms":5,"server":"s","tool":"t","#,
            r#""pinned_sha256":"a","seen_sha256":"b"}"#,
            "\n",
            r#"{"kind":"mcp_tool_change","id":"c.2","time_unix_ms":5,"server":"s"}"#,
            "\n",
            r#"{"kind":"mcp_tool_pinned","id":"p.1","time_unix_ms":5,"server":"s","tool":"t","#,
            r#""sha256":"a","definition":{"sha256":"a","fields":[]}}"#,
            "\n",
            r#"{"kind":"mcp_tool_pinned","id":"p.2","time_unix_ms":5,"server":"s","tool":"t"}"#,
        );
        let batch = parse_batch(body);
        assert_eq!(batch.rejected, 6);
        let pins: Vec<_> = batch
            .pins
            .iter()
            .map(|p| matches!(p, PinEvent::FirstSeen { .. }))
            .collect();
        assert_eq!(pins, [false, true], "the change, then the first-seen pin");
        let [change] = batch.audit.as_slice() else {
            panic!("one tool change expected: {:?}", batch.audit)
        };
        assert_eq!(change.source, "c.1");
        assert_eq!(change.event.target, "mcp/s/tool/t");
        let [record] = batch.records.as_slice() else {
            panic!("one record expected: {:?}", batch.records)
        };
        assert_eq!(record.id, "r.1");
        assert_eq!(record.time_unix_ms, 5);
        assert_eq!(record.provider.as_deref(), Some("p"));
        assert_eq!(record.team, None);
        assert_eq!(record.status, Some(200));
        assert!(record.json.starts_with(r#"{"id":"r.1""#));
    }
}
