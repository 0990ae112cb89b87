//! Provider errors, described once and rendered by each format in its own error object.

use axum::http::StatusCode;

/// The provider's error category; each format maps it to its own `type` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    RateLimited,
    Overloaded,
    Server,
}

impl ErrorKind {
    /// The category a real provider uses for `status`, for injected faults.
    fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::RateLimited,
            // 529 is Anthropic's "overloaded"; 503 is the same condition elsewhere.
            503 | 529 => ErrorKind::Overloaded,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::InvalidRequest,
        }
    }
}

/// An error response before encoding. `param` and `code` are OpenAI's extra error fields;
/// Anthropic's error object has neither and ignores them.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, message)
    }

    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorKind::Authentication, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorKind::PermissionDenied, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message)
    }

    /// The error a test asked for with `x-mock-status`. The message says where it came
    /// from, so a failing test shows an injected fault rather than a mystery.
    pub fn injected(status: StatusCode) -> Self {
        let kind = ErrorKind::for_status(status);
        let what = match kind {
            ErrorKind::InvalidRequest => "Invalid request",
            ErrorKind::Authentication => "Invalid API key",
            ErrorKind::PermissionDenied => "Permission denied",
            ErrorKind::NotFound => "The model does not exist or you do not have access to it",
            ErrorKind::RateLimited => "Rate limit reached",
            ErrorKind::Overloaded => "Overloaded",
            ErrorKind::Server => "The server had an error while processing your request",
        };
        let code = match kind {
            ErrorKind::Authentication => Some("invalid_api_key"),
            ErrorKind::NotFound => Some("model_not_found"),
            ErrorKind::RateLimited => Some("rate_limit_exceeded"),
            _ => None,
        };
        ApiError {
            code,
            ..Self::new(status, kind, format!("{what} (x-mock-status: {status})"))
        }
    }

    pub fn with_param(self, param: &'static str) -> Self {
        ApiError {
            param: Some(param),
            ..self
        }
    }

    pub fn with_code(self, code: &'static str) -> Self {
        ApiError {
            code: Some(code),
            ..self
        }
    }
}
