//! Errors reported by providers (as HTTP error bodies or inside a stream), in a form every
//! client format can render.

use crate::error::{ErrorKind, GatewayError};

/// What kind of failure a provider reported. Formats map their own error types onto this and
/// back; the HTTP status the client sees stays the provider's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    InvalidRequest,
    Authentication,
    Billing,
    PermissionDenied,
    NotFound,
    RequestTooLarge,
    RateLimited,
    Timeout,
    Overloaded,
    /// Any other server-side failure, including output the gateway could not understand.
    Server,
}

impl ErrorClass {
    /// The class an HTTP status implies, for bodies that do not say.
    pub fn from_status(status: u16) -> ErrorClass {
        match status {
            401 => ErrorClass::Authentication,
            402 => ErrorClass::Billing,
            403 => ErrorClass::PermissionDenied,
            404 => ErrorClass::NotFound,
            408 | 504 => ErrorClass::Timeout,
            413 => ErrorClass::RequestTooLarge,
            429 => ErrorClass::RateLimited,
            503 | 529 => ErrorClass::Overloaded,
            400..=499 => ErrorClass::InvalidRequest,
            _ => ErrorClass::Server,
        }
    }

    /// The class's name in step records (`rate_limited`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::Authentication => "authentication",
            ErrorClass::Billing => "billing",
            ErrorClass::PermissionDenied => "permission_denied",
            ErrorClass::NotFound => "not_found",
            ErrorClass::RequestTooLarge => "request_too_large",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Overloaded => "overloaded",
            ErrorClass::Server => "server",
        }
    }

    /// A representative HTTP status for the class, for errors that arrive without one
    /// (inside a stream).
    pub fn status(self) -> u16 {
        match self {
            ErrorClass::InvalidRequest => 400,
            ErrorClass::Authentication => 401,
            ErrorClass::Billing => 402,
            ErrorClass::PermissionDenied => 403,
            ErrorClass::NotFound => 404,
            ErrorClass::RequestTooLarge => 413,
            ErrorClass::RateLimited => 429,
            ErrorClass::Timeout => 504,
            ErrorClass::Overloaded => 529,
            ErrorClass::Server => 500,
        }
    }
}

/// A provider-reported (or gateway-detected) error, ready to render in a client format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub class: ErrorClass,
    /// Human-readable explanation. Provider messages are passed on as the provider wrote them;
    /// messages the gateway writes never quote provider output.
    pub message: String,
    /// Machine-readable code, when the source had one (`rate_limit_exceeded`, …).
    pub code: Option<String>,
    /// Request field at fault, when the source named one.
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> ApiError {
        ApiError {
            class,
            message: message.into(),
            code: None,
            param: None,
        }
    }

    /// The provider sent something the gateway could not understand.
    pub fn bad_upstream(message: impl Into<String>) -> ApiError {
        ApiError {
            code: Some("bad_upstream_response".to_owned()),
            ..ApiError::new(ErrorClass::Server, message)
        }
    }

    /// An error body whose content could not be read, described by its status only.
    pub fn from_status_only(status: u16) -> ApiError {
        ApiError::new(
            ErrorClass::from_status(status),
            format!("the provider answered with HTTP status {status}"),
        )
    }
}

impl From<&GatewayError> for ApiError {
    fn from(err: &GatewayError) -> ApiError {
        let class = match err.kind {
            ErrorKind::InvalidRequest | ErrorKind::MethodNotAllowed => ErrorClass::InvalidRequest,
            ErrorKind::Authentication => ErrorClass::Authentication,
            ErrorKind::PermissionDenied => ErrorClass::PermissionDenied,
            ErrorKind::NotFound => ErrorClass::NotFound,
            ErrorKind::TooLarge => ErrorClass::RequestTooLarge,
            ErrorKind::RateLimited => ErrorClass::RateLimited,
            ErrorKind::BudgetExceeded => ErrorClass::Billing,
            ErrorKind::BadUpstream | ErrorKind::Internal => ErrorClass::Server,
            ErrorKind::Unavailable => ErrorClass::Overloaded,
            ErrorKind::Timeout => ErrorClass::Timeout,
        };
        ApiError {
            class,
            message: err.message.clone(),
            code: Some(err.code.to_owned()),
            param: err.param.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(ErrorClass::from_status(429), ErrorClass::RateLimited);
        assert_eq!(ErrorClass::from_status(529), ErrorClass::Overloaded);
        assert_eq!(ErrorClass::from_status(422), ErrorClass::InvalidRequest);
        assert_eq!(ErrorClass::from_status(502), ErrorClass::Server);
        assert_eq!(ErrorClass::Overloaded.status(), 529);
    }

    #[test]
    fn status_only_message_names_status() {
        let e = ApiError::from_status_only(503);
        assert_eq!(e.class, ErrorClass::Overloaded);
        assert!(e.message.contains("503"));
    }
}
