//! The chat endpoint pipeline shared by every format: authenticate, read the control
//! headers, decode, plan the reply, encode it as one JSON body or as a stream.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::control::Controls;
use crate::error::{ApiError, ErrorKind};
use crate::prompt::Prompt;
use crate::reply::{self, Reply};
use crate::sse::{self, Event};
use crate::ExpectedKeys;

/// What a provider format contributes: its request checks and its encodings.
pub trait WireFormat {
    /// Names the format in the reply text.
    const NAME: &'static str;
    /// The request body, decoded loosely: only the fields the mock reads.
    type Request: DeserializeOwned;

    fn expected_key(keys: &ExpectedKeys) -> Option<&str>;
    /// Checks credentials and required headers.
    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError>;
    /// Rejects requests the real provider would reject, returning the neutral view.
    fn prompt(request: &Self::Request) -> Result<Prompt<'_>, ApiError>;
    /// Error for a body that is not JSON of the expected shape.
    fn undecodable(error: serde_json::Error) -> ApiError;

    fn message(request: &Self::Request, reply: &Reply) -> String;
    fn stream(request: &Self::Request, reply: &Reply) -> Vec<Event>;
    /// The event a provider sends when it fails after the stream began.
    fn stream_error() -> Event;
    fn error_body(error: &ApiError) -> String;
    /// Headers a rate-limit error carries.
    fn retry_headers() -> &'static [(&'static str, &'static str)] {
        &[("retry-after", "1")]
    }

    /// Adds what the URL says to a decoded request. Formats that keep the model and
    /// streaming in the body have nothing to add.
    fn route(_request: &mut Self::Request, _route: Route) {}
}

/// What a URL says about a call, for formats that put the model and streaming there rather
/// than in the body (Gemini).
#[derive(Debug)]
pub struct Route {
    pub model: String,
    pub stream: bool,
}

pub async fn complete<F: WireFormat>(
    State(keys): State<Arc<ExpectedKeys>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    complete_routed::<F>(&keys, &headers, &body, None)
}

/// The pipeline for a request, with what its URL says when the format puts it there.
pub fn complete_routed<F: WireFormat>(
    keys: &ExpectedKeys,
    headers: &HeaderMap,
    body: &[u8],
    route: Option<Route>,
) -> Response {
    respond::<F>(keys, headers, body, route).unwrap_or_else(|error| error_response::<F>(&error))
}

fn respond<F: WireFormat>(
    keys: &ExpectedKeys,
    headers: &HeaderMap,
    body: &[u8],
    route: Option<Route>,
) -> Result<Response, ApiError> {
    F::authorize(headers, F::expected_key(keys))?;
    let controls = Controls::from_headers(headers)?;
    if let Some(status) = controls.status {
        return Err(ApiError::injected(status));
    }
    let mut request: F::Request = serde_json::from_slice(body).map_err(F::undecodable)?;
    if let Some(route) = route {
        F::route(&mut request, route);
    }
    let prompt = F::prompt(&request)?;
    let reply = reply::plan(F::NAME, &prompt, &controls, body.len())?;
    if !prompt.stream {
        return Ok(json_response(StatusCode::OK, F::message(&request, &reply)));
    }
    let mut events = F::stream(&request, &reply);
    if let Some(n) = controls.stream_error_after {
        events = sse::cut_after_content(events, n);
        events.push(F::stream_error());
    }
    Ok(sse::response(events, controls.chunk_delay))
}

/// `error` as `F` renders it. Rate limits carry the format's retry headers
/// (`retry-after`, and Azure's millisecond variants).
pub fn error_response<F: WireFormat>(error: &ApiError) -> Response {
    let mut response = json_response(error.status, F::error_body(error));
    if error.kind == ErrorKind::RateLimited {
        for (name, value) in F::retry_headers() {
            response
                .headers_mut()
                .insert(*name, HeaderValue::from_static(value));
        }
    }
    response
}

pub fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// Whether `presented` is the key the mock expects; with none configured, any non-empty
/// key passes.
pub fn is_expected_key(presented: &str, expected: Option<&str>) -> bool {
    !presented.is_empty() && expected.is_none_or(|expected| expected == presented)
}
