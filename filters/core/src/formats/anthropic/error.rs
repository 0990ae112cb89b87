//! Anthropic error bodies: `{"type": "error", "error": {"type", "message"}}`.

use serde_json::{json, Value};

use crate::model::{ApiError, ErrorClass};

/// Decodes an HTTP error body. Unreadable bodies are described by their status only.
pub fn decode(body: &[u8], status: u16) -> ApiError {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => match value.get("error") {
            Some(error) => decode_value(error, Some(status)),
            None => ApiError::from_status_only(status),
        },
        Err(_) => ApiError::from_status_only(status),
    }
}

/// Decodes the `error` object of a body or an `error` stream event.
pub fn decode_value(error: &Value, status: Option<u16>) -> ApiError {
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    let kind = text("type");
    let class = kind
        .and_then(class_from_type)
        .or_else(|| status.map(ErrorClass::from_status))
        .unwrap_or(ErrorClass::Server);
    ApiError {
        class,
        message: text("message")
            .unwrap_or("the provider reported an error")
            .to_owned(),
        // Anthropic's type is the class; it is not a code other formats would recognise.
        code: None,
        param: None,
    }
}

fn class_from_type(kind: &str) -> Option<ErrorClass> {
    Some(match kind {
        "invalid_request_error" => ErrorClass::InvalidRequest,
        "authentication_error" => ErrorClass::Authentication,
        "billing_error" => ErrorClass::Billing,
        "permission_error" => ErrorClass::PermissionDenied,
        "not_found_error" => ErrorClass::NotFound,
        "request_too_large" => ErrorClass::RequestTooLarge,
        "rate_limit_error" => ErrorClass::RateLimited,
        "timeout_error" => ErrorClass::Timeout,
        "overloaded_error" => ErrorClass::Overloaded,
        "api_error" => ErrorClass::Server,
        _ => return None,
    })
}

fn type_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest => "invalid_request_error",
        ErrorClass::Authentication => "authentication_error",
        ErrorClass::Billing => "billing_error",
        ErrorClass::PermissionDenied => "permission_error",
        ErrorClass::NotFound => "not_found_error",
        ErrorClass::RequestTooLarge => "request_too_large",
        ErrorClass::RateLimited => "rate_limit_error",
        ErrorClass::Timeout => "timeout_error",
        ErrorClass::Overloaded => "overloaded_error",
        ErrorClass::Server => "api_error",
    }
}

/// The error as an Anthropic error body (also the payload of an `error` stream event).
pub fn encode(err: &ApiError) -> Value {
    json!({
        "type": "error",
        "error": {"type": type_name(err.class), "message": err.message},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_wins_over_status() {
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded","details":null},"request_id":"r"}"#;
        let err = decode(body, 500);
        assert_eq!(err.class, ErrorClass::Overloaded);
        assert_eq!(err.message, "Overloaded");
    }

    #[test]
    fn unknown_type_falls_back_to_status() {
        let err = decode(br#"{"error":{"type":"new_kind","message":"m"}}"#, 429);
        assert_eq!(err.class, ErrorClass::RateLimited);
    }

    #[test]
    fn encode_round_trips_class() {
        for class in [
            ErrorClass::InvalidRequest,
            ErrorClass::RateLimited,
            ErrorClass::Overloaded,
            ErrorClass::NotFound,
        ] {
            let v = encode(&ApiError::new(class, "m"));
            assert_eq!(decode_value(&v["error"], None).class, class);
        }
    }
}
