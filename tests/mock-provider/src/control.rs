//! Per-request control headers: how tests program replies and faults.
//!
//! | header                      | effect                                                   |
//! |-----------------------------|----------------------------------------------------------|
//! | `x-mock-status: N`          | answer with status N (400-599) and the provider's error  |
//! | `x-mock-chunk-delay-ms: N`  | sleep N ms between stream events                         |
//! | `x-mock-stream-error: after:N` | after N content events send an in-stream error, close |
//! | `x-mock-tool: NAME`         | reply with a call to tool NAME (must be in the request)  |
//! | `x-mock-cached-tokens: N`   | report N cache-read input tokens                         |
//! | `x-mock-reasoning-tokens: N`| report N reasoning tokens (counted in output tokens)     |
//! | `x-mock-delay-ms: N`        | wait N ms before answering (a provider that hangs)       |
//! | `x-mock-reset: true`        | drop the connection instead of answering                 |
//! | `x-mock-retry-after: S`     | a 429 carries `retry-after: S` instead of the default    |
//!
//! Any value may be scoped to upstream attempts, counted by the journal per `x-request-id`
//! (the same on every attempt Envoy makes for one client request; see `journal::ATTEMPT`):
//! `503@1,429@2` answers 503 to attempt 1, 429 to attempt 2 and normally after that; an
//! entry without `@N` applies to every attempt. That is how a fault-matrix test fails the
//! primary target and lets the fallback answer.
//!
//! A malformed value is a 400, never silently ignored, so a typo cannot pass a test.

use std::str::FromStr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::completion;
use crate::error::ApiError;
use crate::journal::ATTEMPT;
use crate::openai::OpenAi;

const STATUS: &str = "x-mock-status";
const CHUNK_DELAY_MS: &str = "x-mock-chunk-delay-ms";
const STREAM_ERROR: &str = "x-mock-stream-error";
const TOOL: &str = "x-mock-tool";
const CACHED_TOKENS: &str = "x-mock-cached-tokens";
const REASONING_TOKENS: &str = "x-mock-reasoning-tokens";
const DELAY_MS: &str = "x-mock-delay-ms";
const RESET: &str = "x-mock-reset";
const RETRY_AFTER: &str = "x-mock-retry-after";

#[derive(Debug, Default, PartialEq)]
pub struct Controls {
    pub status: Option<StatusCode>,
    pub chunk_delay: Option<Duration>,
    /// Number of content events to send before the in-stream error.
    pub stream_error_after: Option<usize>,
    pub tool: Option<String>,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
}

impl Controls {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let status = match header(headers, STATUS)? {
            None => None,
            Some(value) => Some(
                parse::<u16>(STATUS, value)
                    .ok()
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .filter(|status| status.is_client_error() || status.is_server_error())
                    .ok_or_else(|| invalid(STATUS, value, "an error status 400-599"))?,
            ),
        };
        let stream_error_after = match header(headers, STREAM_ERROR)? {
            None => None,
            Some(value) => Some(
                value
                    .strip_prefix("after:")
                    .and_then(|count| count.trim().parse().ok())
                    .ok_or_else(|| invalid(STREAM_ERROR, value, "after:N"))?,
            ),
        };
        Ok(Controls {
            status,
            chunk_delay: optional::<u64>(headers, CHUNK_DELAY_MS)?.map(Duration::from_millis),
            stream_error_after,
            tool: header(headers, TOOL)?.map(str::to_owned),
            cached_tokens: optional(headers, CACHED_TOKENS)?.unwrap_or(0),
            reasoning_tokens: optional(headers, REASONING_TOKENS)?.unwrap_or(0),
        })
    }
}

/// The value of a control header that applies to this attempt, if any.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::invalid_request(format!("{name}: not ASCII")))?;
    let attempt = headers
        .get(ATTEMPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("1")
        .trim();
    for entry in value.split(',').map(str::trim) {
        match entry.rsplit_once('@') {
            Some((value, only)) if only.trim() == attempt => return Ok(Some(value.trim())),
            Some(_) => {}
            None => return Ok(Some(entry)),
        }
    }
    Ok(None)
}

/// Faults that wrap any endpoint: a delay before answering, a dropped connection, and the
/// `retry-after` of a rate-limit answer.
pub async fn faults(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let parsed = (|| {
        let delay = optional::<u64>(headers, DELAY_MS)?.map(Duration::from_millis);
        let reset = match header(headers, RESET)? {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(invalid(RESET, other, "true or false")),
        };
        let retry_after = optional::<u64>(headers, RETRY_AFTER)?;
        Ok((delay, reset, retry_after))
    })();
    let (delay, reset, retry_after) = match parsed {
        Ok(faults) => faults,
        Err(error) => return completion::error_response::<OpenAi>(&error),
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if reset {
        // A body that fails before its first byte makes the server drop the connection
        // without a status line: to the client, a reset before any response.
        let failing = futures_util::stream::once(async {
            Err::<Bytes, _>(std::io::Error::other("x-mock-reset"))
        });
        return Response::new(Body::from_stream(failing));
    }
    let mut response = next.run(request).await;
    if let Some(seconds) = retry_after {
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
    }
    response
}

fn optional<T: FromStr>(headers: &HeaderMap, name: &'static str) -> Result<Option<T>, ApiError> {
    header(headers, name)?
        .map(|value| parse(name, value))
        .transpose()
}

fn parse<T: FromStr>(name: &'static str, value: &str) -> Result<T, ApiError> {
    value
        .parse()
        .map_err(|_| invalid(name, value, "a non-negative integer"))
}

fn invalid(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::invalid_request(format!("{name}: expected {expected}, got {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
            .collect()
    }

    #[test]
    fn no_headers_means_no_controls() {
        assert_eq!(
            Controls::from_headers(&HeaderMap::new()).unwrap(),
            Controls::default()
        );
    }

    #[test]
    fn parses_every_control() {
        let controls = Controls::from_headers(&headers(&[
            (STATUS, "429"),
            (CHUNK_DELAY_MS, "15"),
            (STREAM_ERROR, "after:3"),
            (TOOL, "get_weather"),
            (CACHED_TOKENS, "1111"),
            (REASONING_TOKENS, "7"),
        ]))
        .unwrap();
        assert_eq!(
            controls,
            Controls {
                status: Some(StatusCode::TOO_MANY_REQUESTS),
                chunk_delay: Some(Duration::from_millis(15)),
                stream_error_after: Some(3),
                tool: Some("get_weather".into()),
                cached_tokens: 1111,
                reasoning_tokens: 7,
            }
        );
    }

    #[test]
    fn values_can_be_scoped_to_attempts() {
        let first = headers(&[(STATUS, "503@1, 429@2")]);
        let second = headers(&[(STATUS, "503@1, 429@2"), (ATTEMPT, "2")]);
        let third = headers(&[(STATUS, "503@1, 429@2"), (ATTEMPT, "3")]);
        let status = |h: &HeaderMap| Controls::from_headers(h).unwrap().status;
        assert_eq!(status(&first), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(status(&second), Some(StatusCode::TOO_MANY_REQUESTS));
        assert_eq!(status(&third), None);
        let everywhere = headers(&[(STATUS, "500"), (ATTEMPT, "4")]);
        assert_eq!(status(&everywhere), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            (STATUS, "200"),
            (STATUS, "teapot"),
            (STREAM_ERROR, "3"),
            (STREAM_ERROR, "after:x"),
            (CHUNK_DELAY_MS, "-1"),
            (CACHED_TOKENS, "many"),
        ] {
            let error = Controls::from_headers(&headers(&[bad])).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(error.message.starts_with(bad.0), "{}", error.message);
        }
    }
}
