//! Bedrock errors: HTTP error bodies are `{"message": …}` (some services spell it
//! `Message`) with the type in the `x-amzn-errortype` header; in a stream after HTTP 200 an
//! exception frame carries the type in `:exception-type` and the same body.

use serde_json::{json, Value};

use crate::model::{ApiError, ErrorClass};

/// Decodes an HTTP error body. `error_type` is the `x-amzn-errortype` header, when the host
/// passed it on; without it the status decides the class.
pub fn decode(body: &[u8], status: u16, error_type: Option<&str>) -> ApiError {
    let class = error_type
        .and_then(class_from_type)
        .unwrap_or_else(|| ErrorClass::from_status(status));
    match message(body) {
        Some(message) => ApiError::new(class, message),
        None => ApiError {
            class,
            ..ApiError::from_status_only(status)
        },
    }
}

/// Decodes an exception frame (`:exception-type`, payload `{"message": …}`).
pub fn decode_exception(exception_type: &str, payload: &[u8]) -> ApiError {
    let class = class_from_type(exception_type).unwrap_or(ErrorClass::Server);
    let message =
        message(payload).unwrap_or_else(|| format!("the provider reported {exception_type}"));
    ApiError::new(class, message)
}

fn message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .get("message")
        .or_else(|| value.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The class of an error type. HTTP headers spell types `ValidationException` (with a
/// `:namespace` suffix), stream frames `validationException`.
fn class_from_type(kind: &str) -> Option<ErrorClass> {
    let name = kind.split(':').next().unwrap_or(kind).to_ascii_lowercase();
    Some(match name.as_str() {
        "validationexception" => ErrorClass::InvalidRequest,
        "accessdeniedexception" => ErrorClass::PermissionDenied,
        "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "incompletesignatureexception"
        | "missingauthenticationtokenexception"
        | "expiredtokenexception" => ErrorClass::Authentication,
        "resourcenotfoundexception" => ErrorClass::NotFound,
        "throttlingexception" | "servicequotaexceededexception" => ErrorClass::RateLimited,
        "modeltimeoutexception" => ErrorClass::Timeout,
        "serviceunavailableexception" | "modelnotreadyexception" => ErrorClass::Overloaded,
        "internalserverexception" | "modelerrorexception" | "modelstreamerrorexception" => {
            ErrorClass::Server
        }
        _ => return None,
    })
}

/// The exception type standing for a class, as a stream frame spells it.
pub fn exception_type(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::RequestTooLarge => "validationException",
        ErrorClass::Authentication | ErrorClass::PermissionDenied | ErrorClass::Billing => {
            "accessDeniedException"
        }
        ErrorClass::NotFound => "resourceNotFoundException",
        ErrorClass::RateLimited => "throttlingException",
        ErrorClass::Timeout => "modelTimeoutException",
        ErrorClass::Overloaded => "serviceUnavailableException",
        ErrorClass::Server => "internalServerException",
    }
}

/// The error as a Bedrock error body (its type belongs in `x-amzn-errortype`).
pub fn encode(err: &ApiError) -> Value {
    json!({"message": err.message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_type_wins_over_status() {
        let err = decode(
            br#"{"message":"Too many requests, please wait before trying again."}"#,
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        );
        assert_eq!(err.class, ErrorClass::RateLimited);
        assert_eq!(
            err.message,
            "Too many requests, please wait before trying again."
        );
    }

    #[test]
    fn without_the_header_the_status_decides() {
        let err = decode(
            br#"{"message":"The provided model identifier is invalid."}"#,
            400,
            None,
        );
        assert_eq!(err.class, ErrorClass::InvalidRequest);
        let err = decode(
            br#"{"Message":"User is not authorized"}"#,
            403,
            Some("Unknown"),
        );
        assert_eq!(err.class, ErrorClass::PermissionDenied);
        assert_eq!(err.message, "User is not authorized");
        let err = decode(b"<html>", 503, None);
        assert_eq!(err.class, ErrorClass::Overloaded);
        assert!(err.message.contains("503"));
    }

    #[test]
    fn exception_frames_and_their_types_round_trip() {
        for class in [
            ErrorClass::InvalidRequest,
            ErrorClass::RateLimited,
            ErrorClass::Timeout,
            ErrorClass::Overloaded,
            ErrorClass::Server,
            ErrorClass::NotFound,
        ] {
            let payload = encode(&ApiError::new(class, "m")).to_string();
            let err = decode_exception(exception_type(class), payload.as_bytes());
            assert_eq!((err.class, err.message.as_str()), (class, "m"));
        }
        let err = decode_exception("modelStreamErrorException", b"{}");
        assert_eq!(err.class, ErrorClass::Server);
        assert!(err.message.contains("modelStreamErrorException"));
    }
}
