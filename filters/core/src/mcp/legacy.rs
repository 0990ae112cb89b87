//! The legacy HTTP+SSE transport (2024-11-05): the client opens a GET event stream, whose
//! first event, `endpoint`, names the URL to POST messages to; every answer comes back on
//! the event stream, and a POST only gets `202 Accepted`.
//!
//! Two consequences for the gateway. The `endpoint` URL is pointed back at the gateway, so
//! the messages pass through the same checks. And a refusal cannot be the POST's answer,
//! which the client never reads: the refusal is stashed in the shared store, the request is
//! replaced by a `ping` with the same id, and when the ping's answer comes down the stream
//! it is swapped for the stashed refusal. The refused request never reaches the server.

use serde_json::{json, Value};

use crate::ratelimit::SharedStore;

use super::jsonrpc::Message;

/// The `endpoint` event's URL as the client must use it: the server's path and query
/// under the gateway's path of this server (`/mcp/{server}`).
pub fn gateway_endpoint(prefix: &str, data: &str) -> String {
    let data = data.trim();
    // An absolute URL names the server's own host, which the client must not reach directly.
    let path = match data.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => data,
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    format!("{}{path}", prefix.trim_end_matches('/'))
}

/// The `session_id` query parameter of a message URL.
pub fn session_of(url: &str) -> Option<&str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("session_id="))
        .filter(|s| !s.is_empty())
}

/// One legacy server's refusals in flight, in the store every worker shares (the POST and
/// the event stream may be served by different workers).
pub struct Diversions<'a> {
    pub store: &'a dyn SharedStore,
    pub server: &'a str,
}

impl Diversions<'_> {
    fn key(&self, session: &str, id: &Value) -> String {
        format!("tollgate.mcp.refused.{}.{session}.{id}", self.server)
    }

    /// Stashes `refusal` (a JSON-RPC error) for the request `id` posted to `url`, and returns
    /// the `ping` to send in its place; `None` when the URL names no session.
    pub fn divert(&self, url: &str, id: &Value, refusal: &[u8]) -> Option<Vec<u8>> {
        let session = session_of(url)?;
        self.store.set(&self.key(session, id), refusal, None).ok()?;
        Some(
            json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
                .to_string()
                .into_bytes(),
        )
    }

    /// The stashed refusal for an answer on `session`'s stream, taken out of the store.
    pub fn take(&self, session: &str, answer: &Message) -> Option<Message> {
        if answer.method().is_some() {
            return None;
        }
        let key = self.key(session, answer.id()?);
        let (stashed, _) = self.store.get(&key).filter(|(v, _)| !v.is_empty())?;
        let _ = self.store.set(&key, b"", None);
        Message::from_value(serde_json::from_slice(&stashed).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::pins::memory::MemoryStore;

    #[test]
    fn points_the_endpoint_at_the_gateway() {
        assert_eq!(
            gateway_endpoint("/mcp/legacy", "/messages/?session_id=ab12"),
            "/mcp/legacy/messages/?session_id=ab12"
        );
        assert_eq!(
            gateway_endpoint("/mcp/legacy", "http://10.0.0.7:8000/messages?session_id=x"),
            "/mcp/legacy/messages?session_id=x"
        );
        assert_eq!(gateway_endpoint("/mcp/l/", "messages"), "/mcp/l/messages");
        assert_eq!(gateway_endpoint("/mcp/l", "http://h"), "/mcp/l/");
    }

    #[test]
    fn finds_the_session() {
        assert_eq!(session_of("/mcp/l/messages/?a=1&session_id=s1"), Some("s1"));
        assert_eq!(session_of("/messages/?session_id="), None);
        assert_eq!(session_of("/messages/"), None);
    }

    #[test]
    fn a_refusal_replaces_the_answer_to_its_ping_once() {
        let store = MemoryStore::default();
        let diversions = Diversions {
            store: &store,
            server: "old",
        };
        let refusal = br#"{"jsonrpc":"2.0","id":4,"error":{"code":-32003,"message":"no"}}"#;
        let ping = diversions
            .divert("/mcp/old/messages/?session_id=s1", &json!(4), refusal)
            .unwrap();
        let ping: Value = serde_json::from_slice(&ping).unwrap();
        assert_eq!(ping, json!({"jsonrpc":"2.0","id":4,"method":"ping"}));
        let pong = Message::from_value(json!({"jsonrpc":"2.0","id":4,"result":{}})).unwrap();
        assert_eq!(
            diversions.take("other", &pong),
            None,
            "another session's answer"
        );
        let swapped = diversions.take("s1", &pong).unwrap();
        assert_eq!(swapped.0["error"]["code"], -32003);
        assert_eq!(diversions.take("s1", &pong), None, "taken once");
        assert!(diversions
            .divert("/mcp/old/messages/", &json!(5), refusal)
            .is_none());
    }
}
