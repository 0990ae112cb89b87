//! OpenAI error bodies: `{"error": {"message", "type", "param", "code"}}`.
//!
//! Compatible servers vary: OpenRouter uses numeric `code`s (the HTTP status), Groq adds
//! `status_code` inside stream errors, some send `error` as a bare string.

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

/// Decodes the value of an `error` field (from a body or a stream event). `status` is the
/// HTTP status when there is one.
pub fn decode_value(error: &Value, status: Option<u16>) -> ApiError {
    if let Some(message) = error.as_str() {
        let class = status.map_or(ErrorClass::Server, ErrorClass::from_status);
        return ApiError::new(class, message);
    }
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    let numeric_code = error.get("code").and_then(Value::as_u64);
    let code = text("code")
        .map(str::to_owned)
        .or_else(|| numeric_code.map(|n| n.to_string()));
    let status = status
        .or_else(|| {
            error
                .get("status_code")
                .and_then(Value::as_u64)
                .and_then(as_status)
        })
        .or_else(|| numeric_code.and_then(as_status));
    let class = text("type")
        .and_then(class_from_type)
        .or_else(|| code.as_deref().and_then(class_from_type))
        .or_else(|| status.map(ErrorClass::from_status))
        .unwrap_or(ErrorClass::Server);
    ApiError {
        class,
        message: text("message")
            .unwrap_or("the provider reported an error")
            .to_owned(),
        code,
        param: text("param").map(str::to_owned),
    }
}

fn as_status(n: u64) -> Option<u16> {
    u16::try_from(n).ok().filter(|s| (400..600).contains(s))
}

fn class_from_type(kind: &str) -> Option<ErrorClass> {
    Some(match kind {
        "invalid_request_error" => ErrorClass::InvalidRequest,
        "authentication_error" | "invalid_api_key" => ErrorClass::Authentication,
        "permission_error" => ErrorClass::PermissionDenied,
        "not_found_error" | "model_not_found" => ErrorClass::NotFound,
        "rate_limit_error" | "rate_limit_exceeded" | "requests" | "tokens" => {
            ErrorClass::RateLimited
        }
        "insufficient_quota" => ErrorClass::Billing,
        "server_error" | "api_error" => ErrorClass::Server,
        _ => return None,
    })
}

fn type_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::NotFound | ErrorClass::RequestTooLarge => {
            "invalid_request_error"
        }
        ErrorClass::Authentication => "authentication_error",
        ErrorClass::PermissionDenied => "permission_error",
        ErrorClass::Billing => "insufficient_quota",
        ErrorClass::RateLimited => "rate_limit_error",
        ErrorClass::Timeout | ErrorClass::Overloaded | ErrorClass::Server => "api_error",
    }
}

fn default_code(class: ErrorClass) -> Option<&'static str> {
    match class {
        ErrorClass::RateLimited => Some("rate_limit_exceeded"),
        ErrorClass::Overloaded => Some("overloaded"),
        ErrorClass::Timeout => Some("timeout"),
        _ => None,
    }
}

/// The error as an OpenAI error body (also the payload of an in-stream error event).
pub fn encode(err: &ApiError) -> Value {
    json!({
        "error": {
            "message": err.message,
            "type": type_name(err.class),
            "param": err.param,
            "code": err.code.as_deref().or(default_code(err.class)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_body() {
        let body = br#"{"error":{"code":"model_not_found","message":"no such model","param":null,"type":"invalid_request_error"}}"#;
        let err = decode(body, 404);
        assert_eq!(err.class, ErrorClass::InvalidRequest);
        assert_eq!(err.code.as_deref(), Some("model_not_found"));
        assert_eq!(err.message, "no such model");
    }

    #[test]
    fn openrouter_numeric_code() {
        let err = decode_value(
            &json!({"code": 429, "message": "Provider returned error"}),
            None,
        );
        assert_eq!(err.class, ErrorClass::RateLimited);
        assert_eq!(err.code.as_deref(), Some("429"));
    }

    #[test]
    fn groq_stream_error_status() {
        let err = decode_value(
            &json!({"message": "m", "code": "tool_use_failed", "status_code": 400}),
            None,
        );
        assert_eq!(err.class, ErrorClass::InvalidRequest);
    }

    #[test]
    fn azure_bodies() {
        // Azure's own errors put the status in `code`, as a string.
        let err = decode(
            br#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded the rate limit."}}"#,
            429,
        );
        assert_eq!(err.class, ErrorClass::RateLimited);
        let err = decode(
            br#"{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}"#,
            401,
        );
        assert_eq!(err.class, ErrorClass::Authentication);
        // A prompt blocked by its content filter: the code survives for OpenAI clients.
        let err = decode(
            br#"{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#,
            400,
        );
        assert_eq!(err.class, ErrorClass::InvalidRequest);
        assert_eq!(err.code.as_deref(), Some("content_filter"));
        assert_eq!(err.param.as_deref(), Some("prompt"));
    }

    #[test]
    fn unreadable_body_uses_status() {
        let err = decode(b"<html>bad gateway</html>", 502);
        assert_eq!(err.class, ErrorClass::Server);
        assert!(!err.message.contains("html"));
    }

    #[test]
    fn encode_shape() {
        let v = encode(&ApiError::new(ErrorClass::Overloaded, "Overloaded"));
        assert_eq!(v["error"]["type"], "api_error");
        assert_eq!(v["error"]["code"], "overloaded");
        assert_eq!(v["error"]["message"], "Overloaded");
        assert!(v["error"]["param"].is_null());
    }
}
