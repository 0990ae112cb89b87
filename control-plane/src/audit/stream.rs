//! An [`AuditSink`] writing each event as one JSON line to a stream (standard error when
//! no durable audit log is configured), so no admin action goes unrecorded.

use std::io::Write;
use std::sync::Mutex;

use super::{AuditError, AuditEvent, AuditSink};

pub struct StreamSink<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> StreamSink<W> {
    pub fn new(out: W) -> Self {
        StreamSink {
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send> AuditSink for StreamSink<W> {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let fail = |reason: String| AuditError {
            action: event.action.clone(),
            reason,
        };
        let line = serde_json::to_string(&event).map_err(|e| fail(e.to_string()))?;
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(out, "audit: {line}")
            .and_then(|()| out.flush())
            .map_err(|e| fail(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_one_json_line_per_event() {
        let sink = StreamSink::new(Vec::new());
        let event = AuditEvent {
            actor: "ops".into(),
            action: "key.revoke".into(),
            target: "key/ci".into(),
            details: json!({}),
        };
        sink.record(event.clone()).unwrap();
        sink.record(event).unwrap();
        let text = String::from_utf8(sink.out.into_inner().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let parsed: AuditEvent =
            serde_json::from_str(lines[0].strip_prefix("audit: ").unwrap()).unwrap();
        assert_eq!(parsed.actor, "ops");
    }
}
