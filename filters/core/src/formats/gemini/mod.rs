//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse`, on AI Studio and on
//! Vertex AI.
//!
//! Gemini is an outbound (provider) format: clients speak OpenAI or Anthropic. The decoders
//! of the other direction (request decode, response and stream encode) exist because the
//! codec needs every direction of every format, and they keep the round-trip tests honest.
//!
//! One format serves both APIs. The model sits in the path, not the body:
//! `{base}/models/{model}:generateContent` and `{base}/models/{model}:streamGenerateContent?alt=sse`,
//! with base `https://generativelanguage.googleapis.com/v1beta` on AI Studio and
//! `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers/google`
//! on Vertex. The two differ in authentication (handled by the control plane) and in that
//! Vertex rejects `id` on `functionCall`/`functionResponse` parts; Tollgate never sends one
//! (see [`ids`]), so no dialect flag is needed.
//!
//! Decisions (see the submodules for the details):
//! - Tool schemas go out as `parametersJsonSchema` and structured output as
//!   `responseJsonSchema`: both take full JSON Schema (`$ref`, `$defs`,
//!   `additionalProperties`), which the OpenAPI-subset `parameters`/`responseSchema` reject.
//!   Stripping keywords would silently change the contract the client declared.
//! - Tool-call ids: Gemini rarely gives one, so ids are synthesised deterministically, and the
//!   `thoughtSignature` of a `functionCall` travels inside the id (see [`ids`]).
//! - Usage: `promptTokenCount` includes cached tokens; thoughts are not in
//!   `candidatesTokenCount`, so output = candidates + thoughts (see [`usage`]).

pub mod embeddings;
pub mod error;
pub mod ids;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

use super::path::{encode_component, PathContext};
use crate::model::StopReason;

/// Headers an upstream `generateContent` request needs besides authentication.
pub fn upstream_headers() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".to_owned())]
}

/// Path of the endpoint below the provider's base path. The model is part of the path;
/// streams ask for server-sent events (`alt=sse`; without it Gemini streams a JSON array).
/// The API version is part of the base path (`/v1beta`, `/v1`), so the context's is unused.
pub fn endpoint_path(context: &PathContext) -> String {
    let method = if context.stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    };
    model_method_path(context.model, method)
}

/// `/{model resource}:{method}`, the resource's name escaped as one path segment, so a `:`
/// cannot end it early and a `/` cannot add segments.
pub fn model_method_path(model: &str, method: &str) -> String {
    let (collection, name) = split_resource(model);
    format!("/{collection}{}:{method}", encode_component(name))
}

/// The model as a resource name, as request bodies name it: `models/{model}`, or the name
/// as given when it already is one (`models/…`, `tunedModels/…`).
pub fn model_resource(model: &str) -> String {
    let (collection, name) = split_resource(model);
    format!("{collection}{name}")
}

/// Whether `path` is a Vertex AI publisher path,
/// `/{version}/projects/{project}/locations/{region}/publishers/google`: the base path that
/// tells Vertex from AI Studio, whose base path is an API version.
pub fn is_vertex_publisher_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        [version, "projects", project, "locations", region, "publishers", "google"]
            if version.starts_with('v') && !project.is_empty() && !region.is_empty()
    )
}

/// `(collection with its slash, name)` of a model given bare or as a resource name.
fn split_resource(model: &str) -> (&'static str, &str) {
    ["models/", "tunedModels/"]
        .into_iter()
        .find_map(|prefix| Some((prefix, model.strip_prefix(prefix)?)))
        .unwrap_or(("models/", model))
}

/// `finishReason` → canonical stop reason. `STOP` is also what Gemini says after function
/// calls; the decoders turn it into [`StopReason::ToolUse`] when they saw one.
pub fn decode_finish_reason(reason: &str) -> StopReason {
    match reason {
        "STOP" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => StopReason::ContentFilter,
        other => StopReason::Other(other.to_owned()),
    }
}

/// The stop reason after Gemini's `finishReason`, given whether the answer called functions.
pub fn stop_reason(finish_reason: &str, called_functions: bool) -> StopReason {
    match decode_finish_reason(finish_reason) {
        StopReason::EndTurn if called_functions => StopReason::ToolUse,
        reason => reason,
    }
}

/// Canonical stop reason → `finishReason`.
pub fn encode_finish_reason(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn
        | StopReason::StopSequence
        | StopReason::ToolUse
        | StopReason::PauseTurn => "STOP",
        StopReason::MaxTokens | StopReason::ContextWindowExceeded => "MAX_TOKENS",
        StopReason::ContentFilter => "SAFETY",
        StopReason::Other(_) => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(model: &str, stream: bool) -> String {
        endpoint_path(&PathContext {
            model,
            stream,
            api_version: None,
        })
    }

    #[test]
    fn paths_carry_model_and_stream() {
        assert_eq!(
            path("gemini-2.5-flash", false),
            "/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            path("gemini-2.5-flash", true),
            "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            path("models/gemini-2.5-flash", false),
            "/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            path("tunedModels/my-model-1", false),
            "/tunedModels/my-model-1:generateContent"
        );
        assert_eq!(
            path("odd:name?x", false),
            "/models/odd%3Aname%3Fx:generateContent"
        );
        assert_eq!(
            path("../../files", false),
            "/models/..%2F..%2Ffiles:generateContent"
        );
    }

    #[test]
    fn stop_with_function_calls_is_tool_use() {
        assert_eq!(stop_reason("STOP", true), StopReason::ToolUse);
        assert_eq!(stop_reason("STOP", false), StopReason::EndTurn);
        assert_eq!(stop_reason("MAX_TOKENS", true), StopReason::MaxTokens);
        assert_eq!(stop_reason("SAFETY", false), StopReason::ContentFilter);
        assert_eq!(
            stop_reason("PROHIBITED_CONTENT", false),
            StopReason::ContentFilter
        );
        assert_eq!(
            stop_reason("MALFORMED_FUNCTION_CALL", false),
            StopReason::Other("MALFORMED_FUNCTION_CALL".into())
        );
    }

    #[test]
    fn finish_reasons_round_trip() {
        for wire in ["STOP", "MAX_TOKENS", "SAFETY"] {
            assert_eq!(encode_finish_reason(&decode_finish_reason(wire)), wire);
        }
        assert_eq!(encode_finish_reason(&StopReason::ToolUse), "STOP");
        assert_eq!(
            encode_finish_reason(&StopReason::Other("x".into())),
            "OTHER"
        );
    }
}
