//! Request journal: the last requests the mock received, for test assertions about what
//! the gateway really sent upstream (credentials, translated bodies, paths).
//!
//! `GET /__mock/requests` lists them oldest first; `DELETE /__mock/requests` clears them.
//! Recording is a clone of the head plus a refcounted body under a short mutex; bodies
//! are only parsed as JSON when listed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::completion::json_response;
use crate::BODY_LIMIT;

/// Envoy's request id, the same on every attempt of one client request.
const REQUEST_ID: &str = "x-request-id";
/// Set on each journaled request for the fault controls (see `control`): the how-manieth
/// request with its `x-request-id` this is. Envoy's own `x-envoy-attempt-count` never
/// reaches a provider, so the mock counts attempts itself.
pub const ATTEMPT: &str = "x-mock-attempt";

/// Paths under this prefix are the mock's own controls and are not journaled.
const CONTROL_PREFIX: &str = "/__mock/";
const CAPACITY: usize = 100;

#[derive(Default)]
pub struct Journal {
    entries: Mutex<VecDeque<Entry>>,
}

struct Entry {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl Journal {
    fn entries(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        // A panic elsewhere cannot leave a half-pushed ring, so a poisoned lock is usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request; returns which attempt of its `x-request-id` it is (1 without one).
    fn push(&self, entry: Entry) -> usize {
        let mut entries = self.entries();
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        let id = entry.headers.get(REQUEST_ID).cloned();
        entries.push_back(entry);
        match id {
            Some(id) => entries
                .iter()
                .filter(|e| e.headers.get(REQUEST_ID) == Some(&id))
                .count(),
            None => 1,
        }
    }

    fn to_json(&self) -> Value {
        Value::Array(self.entries().iter().map(Entry::to_json).collect())
    }
}

impl Entry {
    fn to_json(&self) -> Value {
        json!({
            "method": self.method.as_str(),
            "path": self.path,
            "query": self.query,
            "headers": headers_json(&self.headers),
            "body": body_json(&self.body),
            // The exact bytes' digest, e.g. to compare with a signed `x-amz-content-sha256`.
            "body_sha256": Sha256::digest(&self.body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        })
    }
}

/// Header names to values; repeated headers are joined with ", " as HTTP allows.
fn headers_json(headers: &HeaderMap) -> Value {
    let mut object = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match object.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            _ => {
                object.insert(name.as_str().to_owned(), json!(value));
            }
        }
    }
    Value::Object(object)
}

/// The body as parsed JSON when it is JSON, else as text; `null` when empty.
fn body_json(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Middleware recording every request outside [`CONTROL_PREFIX`], then passing it on
/// with its buffered body.
pub async fn record(State(journal): State<Arc<Journal>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(CONTROL_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(error) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("unreadable body: {error}"),
            )
                .into_response()
        }
    };
    let attempt = journal.push(Entry {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let mut parts = parts;
    parts.headers.insert(ATTEMPT, HeaderValue::from(attempt));
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// `GET` and `DELETE /__mock/requests`.
pub fn routes(journal: Arc<Journal>) -> Router {
    Router::new()
        .route("/__mock/requests", get(list).delete(clear))
        .with_state(journal)
}

async fn list(State(journal): State<Arc<Journal>>) -> Response {
    json_response(StatusCode::OK, journal.to_json().to_string())
}

async fn clear(State(journal): State<Arc<Journal>>) -> StatusCode {
    journal.entries().clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, body: &'static [u8]) -> Entry {
        let mut headers = HeaderMap::new();
        headers.append("x-twice", "a".parse().unwrap());
        headers.append("x-twice", "b".parse().unwrap());
        Entry {
            method: Method::POST,
            path: path.to_owned(),
            query: None,
            headers,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn keeps_only_the_newest_entries() {
        let journal = Journal::default();
        for n in 0..CAPACITY + 5 {
            journal.push(entry(&format!("/{n}"), b""));
        }
        let listed = journal.to_json();
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), CAPACITY);
        assert_eq!(listed[0]["path"], "/5");
        assert_eq!(listed[CAPACITY - 1]["path"], format!("/{}", CAPACITY + 4));
    }

    #[test]
    fn renders_json_text_and_empty_bodies_and_joins_repeated_headers() {
        let journal = Journal::default();
        journal.push(entry("/json", br#"{"model":"m"}"#));
        journal.push(entry("/text", b"not json"));
        journal.push(entry("/empty", b""));
        let listed = journal.to_json();
        assert_eq!(listed[0]["body"], json!({"model": "m"}));
        assert_eq!(listed[1]["body"], "not json");
        assert_eq!(listed[2]["body"], Value::Null);
        assert_eq!(listed[0]["headers"]["x-twice"], "a, b");
        assert_eq!(listed[0]["query"], Value::Null);
    }

    #[test]
    fn counts_the_attempts_of_each_request_id() {
        let journal = Journal::default();
        let with_id = |id: &'static str| {
            let mut e = entry("/", b"");
            e.headers.insert(REQUEST_ID, HeaderValue::from_static(id));
            e
        };
        let attempts: Vec<usize> = [with_id("a"), with_id("b"), with_id("a"), entry("/", b"")]
            .into_iter()
            .map(|e| journal.push(e))
            .collect();
        assert_eq!(attempts, [1, 1, 2, 1]);
    }
}
