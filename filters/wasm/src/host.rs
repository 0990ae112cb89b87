//! Small helpers over the proxy-wasm host API shared by both roles.

use std::time::{SystemTime, UNIX_EPOCH};

use proxy_wasm::traits::HttpContext;
use tollgate_core::error::GatewayError;
use tollgate_core::formats::WireFormat;
use tollgate_core::log_fields::LogField;
use tollgate_core::trace_context;

/// Answers the client directly with an error in its own wire format.
pub fn reply_error(ctx: &dyn HttpContext, error: &GatewayError, format: WireFormat) {
    reply_error_with(ctx, error, format, &[]);
}

/// [`reply_error`] with extra response headers (e.g. `retry-after`).
pub fn reply_error_with(
    ctx: &dyn HttpContext,
    error: &GatewayError,
    format: WireFormat,
    headers: &[(&str, &str)],
) {
    reply_json_with(ctx, error.status(), &error.to_body(format), headers);
}

/// Answers the client directly with a JSON body.
pub fn reply_json(ctx: &dyn HttpContext, status: u16, body: &[u8]) {
    reply_json_with(ctx, status, body, &[]);
}

/// [`reply_json`] with extra response headers.
pub fn reply_json_with(ctx: &dyn HttpContext, status: u16, body: &[u8], headers: &[(&str, &str)]) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    ctx.send_http_response(u32::from(status), all, Some(body));
}

/// The request's or response's whole buffered body.
pub fn request_body(ctx: &dyn HttpContext, size: usize) -> Vec<u8> {
    ctx.get_http_request_body(0, size).unwrap_or_default()
}

/// Hands a value to Envoy's access log (see `tollgate_core::log_fields`).
pub fn log_field(ctx: &dyn HttpContext, field: LogField, value: &str) {
    ctx.set_property(vec![field.property], Some(value.as_bytes()));
}

/// A value an earlier filter handed to the access log (see [`log_field`]).
pub fn read_field(ctx: &dyn HttpContext, field: LogField) -> Option<String> {
    String::from_utf8(ctx.get_property(vec![field.property])?).ok()
}

/// `N` random bytes from the host's WASI `random_get` (Envoy implements it); when that
/// fails, bytes derived from `seed` (see `trace_context::derived_bytes`).
pub fn random_bytes<const N: usize>(seed: &str) -> [u8; N] {
    let mut bytes = [0u8; N];
    match getrandom::fill(&mut bytes) {
        Ok(()) => bytes,
        Err(e) => {
            log::warn!("tollgate: no random bytes from the host ({e}); ids derived instead");
            trace_context::derived_bytes(seed)
        }
    }
}

/// Milliseconds since the Unix epoch of a host time (0 for a time before it).
pub fn unix_millis(time: SystemTime) -> u64 {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
