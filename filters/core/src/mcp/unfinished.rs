//! What an MCP exchange leaves for the gateway filter to finish.
//!
//! The MCP filter sits in the server cluster's upstream filter chain, and Envoy does not
//! run an upstream filter's `on_log` when the client leaves or the server's connection
//! breaks mid-answer; the gateway filter's `on_log` always runs. So while a call's step or a
//! legacy stream's waiting calls are unfinished, the MCP filter leaves an [`Unfinished`] in
//! filter state (`log_fields::MCP_STEP`), and empties it once it finished them itself.
//! Whatever the gateway filter still finds there at its `on_log` was cut off.

use serde::{Deserialize, Serialize};

use crate::ratelimit::SharedStore;

use super::pending::PendingCalls;
use super::step::{CallEnd, Finished, OpenCall};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unfinished {
    /// A forwarded call whose answer has not passed yet (its holds settled here too: the
    /// MCP filter that would have settled them never ends).
    Call(Box<OpenCall>),
    /// A legacy session's event stream: when it ends, no waiting call's result can come.
    Stream { server: String, session: String },
}

impl Unfinished {
    /// Compact JSON, for filter state; [`Unfinished::decode`] reads it.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything [`Unfinished::encode`] did not write (an emptied field included).
    pub fn decode(value: &[u8]) -> Option<Unfinished> {
        serde_json::from_slice(value).ok()
    }

    /// The steps to ship for an exchange that ended here: its client got HTTP `status` (0:
    /// nothing), and `envoy_reply` is the error code the gateway answered with in place of
    /// a reply Envoy made up (the server unreachable, too slow).
    pub fn finish(
        self,
        status: u16,
        envoy_reply: Option<&'static str>,
        store: &dyn SharedStore,
        now_unix_ms: u64,
    ) -> Finished {
        match self {
            Unfinished::Call(call) => {
                let end = CallEnd {
                    status,
                    refused: envoy_reply,
                    cut_off: envoy_reply.is_none(),
                    ..CallEnd::default()
                };
                let mut finished = Finished::default();
                call.finish(end, store, now_unix_ms, &mut finished);
                finished
            }
            Unfinished::Stream { server, session } => {
                let pending = PendingCalls {
                    store,
                    server: &server,
                };
                pending.close(&session, now_unix_ms)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::capture::PayloadCapture;
    use crate::mcp::pins::memory::MemoryStore;
    use crate::mcp::step::tests::draft;
    use crate::mcp::step::CUT_OFF;

    #[test]
    fn survives_filter_state() {
        let call = Unfinished::Call(Box::new(OpenCall {
            draft: draft(PayloadCapture::Full),
            charge: None,
        }));
        assert_eq!(Unfinished::decode(call.encode().as_bytes()), Some(call));
        assert_eq!(Unfinished::decode(b""), None, "emptied once finished");
    }

    #[test]
    fn a_call_cut_off_or_answered_by_envoy_ships_once_with_why() {
        let store = MemoryStore::default();
        let draft = draft(PayloadCapture::Metadata);
        let started = draft.started_unix_ms;
        let call = Unfinished::Call(Box::new(OpenCall {
            draft,
            charge: None,
        }));
        let [left] = &call.clone().finish(200, None, &store, started + 30).steps[..] else {
            panic!()
        };
        assert_eq!(left.end.error_class(), Some(CUT_OFF));
        assert_eq!((left.end.status, left.duration_ms), (200, 30));
        let [unreachable] = &call
            .finish(503, Some("upstream_unavailable"), &store, started)
            .steps[..]
        else {
            panic!()
        };
        assert_eq!(unreachable.end.error_class(), Some("upstream_unavailable"));
    }

    #[test]
    fn a_closed_stream_cuts_off_its_sessions_waiting_calls() {
        let store = MemoryStore::default();
        let pending = PendingCalls {
            store: &store,
            server: "weather",
        };
        let draft = draft(PayloadCapture::Metadata);
        let call = OpenCall {
            draft,
            charge: None,
        };
        pending.wait_for("s1", &json!(1), &call, 0).unwrap();
        let stream = Unfinished::Stream {
            server: "weather".into(),
            session: "s1".into(),
        };
        let steps = stream.clone().finish(200, None, &store, 10).steps;
        assert_eq!(steps.len(), 1);
        assert!(steps[0].end.cut_off);
        assert!(stream.finish(200, None, &store, 20).steps.is_empty());
    }
}
