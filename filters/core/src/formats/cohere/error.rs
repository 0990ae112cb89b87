//! Cohere error bodies: `{"id": "…", "message": "…"}` (the `id` is not always there).
//! The kind of failure is in the HTTP status only; Cohere adds 498 (blocked as unsafe) and
//! 499 (cancelled) to the usual ones.

use serde_json::{json, Value};

use crate::model::{ApiError, ErrorClass};

/// Decodes an HTTP error body. Unreadable bodies are described by their status only.
pub fn decode(body: &[u8], status: u16) -> ApiError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| value.get("message")?.as_str().map(str::to_owned));
    match message {
        Some(message) => ApiError::new(ErrorClass::from_status(status), message),
        None => ApiError::from_status_only(status),
    }
}

/// The error as a Cohere error body.
pub fn encode(err: &ApiError) -> Value {
    json!({"message": err.message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_and_status() {
        let err = decode(br#"{"message":"invalid api token"}"#, 401);
        assert_eq!(err.class, ErrorClass::Authentication);
        assert_eq!(err.message, "invalid api token");
        let err = decode(br#"{"id":"x","message":"slow down"}"#, 429);
        assert_eq!(err.class, ErrorClass::RateLimited);
    }

    #[test]
    fn unreadable_body_uses_status() {
        let err = decode(b"<html>503</html>", 503);
        assert_eq!(err.class, ErrorClass::Overloaded);
        assert!(!err.message.contains("html"));
    }

    #[test]
    fn encode_shape() {
        let v = encode(&ApiError::new(ErrorClass::RateLimited, "slow down"));
        assert_eq!(v, json!({"message": "slow down"}));
    }
}
