//! Errors the gateway returns to clients, rendered in the client's own wire format.
//!
//! A [`GatewayError`] says who caused it (its [`ErrorKind`], which fixes the HTTP status)
//! and carries a message written for the client. Messages never contain secrets: callers
//! name fields and aliases, never key material or provider credentials.

use crate::formats::{codec, WireFormat};
use crate::model::ApiError;

/// What went wrong, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is malformed or misses fields (400).
    InvalidRequest,
    /// No virtual key, or an unknown one (401).
    Authentication,
    /// The key is valid but may not do this (403).
    PermissionDenied,
    /// Unknown model alias or endpoint (404).
    NotFound,
    /// Method not allowed on this endpoint (405).
    MethodNotAllowed,
    /// Request body over the configured limit (413).
    TooLarge,
    /// A rate limit of the key or agent is exhausted (429).
    RateLimited,
    /// A hard budget of the key, team or agent is spent (402; see `budget`).
    BudgetExceeded,
    /// The provider answered with something the gateway could not understand (502).
    BadUpstream,
    /// A bug or misconfiguration inside the gateway (500).
    Internal,
    /// No provider could be reached, or every attempt failed without an answer (503).
    Unavailable,
    /// The attempt or request timeout expired before the provider answered (504).
    Timeout,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::TooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::BudgetExceeded => 402,
            ErrorKind::BadUpstream => 502,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
            ErrorKind::Timeout => 504,
        }
    }
}

/// An error answered by the gateway itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    pub kind: ErrorKind,
    /// Machine-readable code, e.g. `invalid_api_key`, `model_not_found`.
    pub code: &'static str,
    /// Human-readable explanation, safe to show to the client.
    pub message: String,
    /// The request field at fault, when there is one.
    pub param: Option<String>,
}

impl GatewayError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        GatewayError {
            kind,
            code,
            message: message.into(),
            param: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, "invalid_request", message)
    }

    pub fn bad_upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadUpstream, "bad_upstream_response", message)
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The error as a JSON value in the given client format: that format's own error body
    /// for the provider-neutral form of this error.
    pub fn to_value(&self, format: WireFormat) -> serde_json::Value {
        codec::encode_error(format, &ApiError::from(self))
    }

    /// The error body in the given client format.
    pub fn to_body(&self, format: WireFormat) -> Vec<u8> {
        self.to_value(format).to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape() {
        let err = GatewayError::new(ErrorKind::NotFound, "model_not_found", "no model 'x'")
            .with_param("model");
        let v: serde_json::Value =
            serde_json::from_slice(&err.to_body(WireFormat::OpenAi)).unwrap();
        assert_eq!(v["error"]["message"], "no model 'x'");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(err.status(), 404);
    }

    #[test]
    fn anthropic_shape() {
        let err = GatewayError::new(ErrorKind::Authentication, "invalid_api_key", "bad key");
        let v = err.to_value(WireFormat::Anthropic);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(err.status(), 401);
    }
}
