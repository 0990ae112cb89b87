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
//!
//! A malformed value is a 400, never silently ignored, so a typo cannot pass a test.

use std::str::FromStr;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};

use crate::error::ApiError;

const STATUS: &str = "x-mock-status";
const CHUNK_DELAY_MS: &str = "x-mock-chunk-delay-ms";
const STREAM_ERROR: &str = "x-mock-stream-error";
const TOOL: &str = "x-mock-tool";
const CACHED_TOKENS: &str = "x-mock-cached-tokens";
const REASONING_TOKENS: &str = "x-mock-reasoning-tokens";

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

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map(str::trim)
                .map_err(|_| ApiError::invalid_request(format!("{name}: not ASCII")))
        })
        .transpose()
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
