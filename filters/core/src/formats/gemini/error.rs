//! Google API errors: `{"error": {"code": 404, "message": "…", "status": "NOT_FOUND",
//! "details": […]}}`, as an HTTP body or as a `data:` event inside a stream after HTTP 200.
//!
//! `status` is a `google.rpc.Code` name and decides the class. One quirk: AI Studio answers
//! a bad API key with 400 `INVALID_ARGUMENT` and the reason `API_KEY_INVALID` in an
//! `ErrorInfo` detail; that is an authentication failure, whatever the status says.

use serde_json::{json, Value};

use crate::model::{ApiError, ErrorClass};

/// Decodes an HTTP error body. Unreadable bodies are described by their status only.
pub fn decode(body: &[u8], status: u16) -> ApiError {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ApiError::from_status_only(status);
    };
    // Without `alt=sse` Gemini streams a JSON array; an error then comes as its element.
    let value = value.as_array().and_then(|a| a.first()).unwrap_or(&value);
    match value.get("error") {
        Some(error) => decode_value(error, Some(status)),
        None => ApiError::from_status_only(status),
    }
}

/// Decodes the `error` object of a body or a stream event.
pub fn decode_value(error: &Value, status: Option<u16>) -> ApiError {
    let rpc_status = error.get("status").and_then(Value::as_str);
    let numeric = error
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c));
    let class = if reason(error) == Some("API_KEY_INVALID") {
        ErrorClass::Authentication
    } else {
        rpc_status
            .and_then(class_from_status)
            .or_else(|| status.or(numeric).map(ErrorClass::from_status))
            .unwrap_or(ErrorClass::Server)
    };
    ApiError {
        class,
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the provider reported an error")
            .to_owned(),
        code: rpc_status.map(str::to_owned),
        param: None,
    }
}

/// The `reason` of the first `ErrorInfo` detail.
fn reason(error: &Value) -> Option<&str> {
    error
        .get("details")?
        .as_array()?
        .iter()
        .find_map(|detail| detail.get("reason").and_then(Value::as_str))
}

fn class_from_status(status: &str) -> Option<ErrorClass> {
    Some(match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" | "UNIMPLEMENTED" => {
            ErrorClass::InvalidRequest
        }
        "UNAUTHENTICATED" => ErrorClass::Authentication,
        "PERMISSION_DENIED" => ErrorClass::PermissionDenied,
        "NOT_FOUND" => ErrorClass::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorClass::RateLimited,
        "DEADLINE_EXCEEDED" => ErrorClass::Timeout,
        "UNAVAILABLE" => ErrorClass::Overloaded,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" | "ABORTED" | "CANCELLED" => ErrorClass::Server,
        _ => return None,
    })
}

fn status_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::RequestTooLarge => "INVALID_ARGUMENT",
        ErrorClass::Authentication => "UNAUTHENTICATED",
        ErrorClass::Billing | ErrorClass::PermissionDenied => "PERMISSION_DENIED",
        ErrorClass::NotFound => "NOT_FOUND",
        ErrorClass::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorClass::Timeout => "DEADLINE_EXCEEDED",
        ErrorClass::Overloaded => "UNAVAILABLE",
        ErrorClass::Server => "INTERNAL",
    }
}

/// The error as a Google error body (also the data of an in-stream error event).
pub fn encode(err: &ApiError) -> Value {
    let status = match err.class {
        // Google answers overload with 503, not Anthropic's 529.
        ErrorClass::Overloaded => 503,
        class => class.status(),
    };
    json!({"error": {"code": status, "message": err.message, "status": status_name(err.class)}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_decides_the_class() {
        let body =
            br#"{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}"#;
        let err = decode(body, 404);
        assert_eq!(err.class, ErrorClass::NotFound);
        assert_eq!(err.message, "models/x is not found");
        assert_eq!(err.code.as_deref(), Some("NOT_FOUND"));
        let busy = decode(
            br#"{"error":{"code":503,"message":"m","status":"UNAVAILABLE"}}"#,
            503,
        );
        assert_eq!(busy.class, ErrorClass::Overloaded);
        let quota = decode(
            br#"[{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}]"#,
            429,
        );
        assert_eq!(quota.class, ErrorClass::RateLimited);
    }

    #[test]
    fn invalid_api_key_is_authentication_despite_400() {
        let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",
            "status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",
            "reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#;
        assert_eq!(decode(body, 400).class, ErrorClass::Authentication);
    }

    #[test]
    fn unreadable_bodies_fall_back_to_status() {
        assert_eq!(decode(b"<html>", 502).class, ErrorClass::Server);
        assert_eq!(
            decode(br#"{"error":{"message":"m"}}"#, 429).class,
            ErrorClass::RateLimited
        );
        assert_eq!(
            decode_value(&json!({"code": 429, "message": "m"}), None).class,
            ErrorClass::RateLimited
        );
    }

    #[test]
    fn encode_round_trips_class() {
        for class in [
            ErrorClass::InvalidRequest,
            ErrorClass::Authentication,
            ErrorClass::NotFound,
            ErrorClass::RateLimited,
            ErrorClass::Overloaded,
            ErrorClass::Server,
        ] {
            let v = encode(&ApiError::new(class, "m"));
            assert_eq!(decode_value(&v["error"], None).class, class);
        }
        assert_eq!(
            encode(&ApiError::new(ErrorClass::Overloaded, "m"))["error"]["code"],
            503
        );
    }
}
