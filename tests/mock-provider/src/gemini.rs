//! Google Gemini `generateContent`, on AI Studio and on Vertex AI.
//!
//! - AI Studio: `POST /v1beta/models/{model}:generateContent` and
//!   `:streamGenerateContent?alt=sse`, key in `x-goog-api-key`.
//! - Vertex AI: `POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:…`,
//!   OAuth access token as `Authorization: Bearer`.
//! - AI Studio's `:batchEmbedContents` is served by [`crate::embeddings`]; Vertex serves
//!   embeddings through `:predict`, which the mock does not implement.
//!
//! The model and streaming come from the URL. Shapes follow the recordings in the shared
//! fixtures (`gemini/*.json`, `*.sse`): `alt=sse` streams are `data:` events with CRLF
//! separators, no event names and no end marker; every chunk carries the cumulative
//! `usageMetadata`; the finish reason rides on the last text chunk, or on a trailing
//! `{"text": ""}` chunk after a function call, which arrives whole, without an id, with a
//! `thoughtSignature` beside it, and ends with `STOP`. Counts follow protobuf JSON (zeros
//! are left out); `thoughtsTokenCount` is outside `candidatesTokenCount`, and
//! `promptTokenCount` includes cached tokens. A whole answer with a function call says so in
//! `finishMessage`. Responses of `gemini-1.x`/`gemini-2.0` models have the older shape
//! recorded from `gemini-2.0-flash-exp`: no candidate `index`, and candidate counts (with
//! `candidatesTokensDetails`) only in the last chunk. Vertex's extra `createTime` and
//! `usageMetadata.trafficType` are left out.
//!
//! Requests are checked the way Google checks them: unknown fields are refused (protobuf
//! JSON; camelCase and snake_case names both accepted), roles are `user` or `model`,
//! temperature is within 0–2, Vertex refuses `id` on function calls and responses, and
//! `gemini-3*` models refuse a model turn whose first function call has no
//! `thoughtSignature`. Streaming without `alt=sse` (a JSON array) is not implemented.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::completion::{complete_routed, error_response, is_expected_key, Route, WireFormat};
use crate::embeddings;
use crate::error::{ApiError, ErrorKind};
use crate::prompt::{Prompt, ToolSpec};
use crate::reply::{Reply, ReplyContent, Usage};
use crate::sse::Event;
use crate::ExpectedKeys;

pub const API_KEY_HEADER: &str = "x-goog-api-key";
/// `ErrorInfo.reason` of a bad API key; AI Studio reports it with status 400.
const API_KEY_INVALID: &str = "API_KEY_INVALID";
/// What Gemini sends when it fails after the stream began.
const OVERLOADED: &str = r#"{"error": {"code": 503,"message": "The model is overloaded. Please try again later.","status": "UNAVAILABLE"}}"#;
/// Request fields Google knows besides the ones the mock reads (camelCase).
const OTHER_FIELDS: &[&str] = &[
    "systemInstruction",
    "toolConfig",
    "safetySettings",
    "cachedContent",
    "labels",
];
const GENERATION_CONFIG_FIELDS: &[&str] = &[
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "mediaResolution",
    "imageConfig",
];

/// How one Google API authenticates and what it refuses on top of the common checks.
pub trait GoogleApi {
    const NAME: &'static str;
    fn expected_key(keys: &ExpectedKeys) -> Option<&str>;
    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError>;
    /// Refuses a part AI Studio would take; `at` is its field path.
    fn check_part(part: &Value, at: &str) -> Result<(), ApiError>;
}

/// Gemini's wire format behind one of the Google APIs.
pub struct Google<A>(PhantomData<A>);
pub struct AiStudio;
pub struct VertexAi;
pub type Gemini = Google<AiStudio>;
pub type Vertex = Google<VertexAi>;

impl GoogleApi for AiStudio {
    const NAME: &'static str = "gemini";

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        keys.gemini.as_deref()
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        let presented = headers
            .get(API_KEY_HEADER)
            .and_then(|value| value.to_str().ok())
            .map_or("", str::trim);
        if presented.is_empty() {
            return Err(ApiError::permission_denied(
                "Method doesn't allow unregistered callers (callers without established \
                 identity). Please use API Key or other form of API consumer identity to call \
                 this API.",
            ));
        }
        if !is_expected_key(presented, expected_key) {
            return Err(ApiError::invalid_request(
                "API key not valid. Please pass a valid API key.",
            )
            .with_code(API_KEY_INVALID));
        }
        Ok(())
    }

    fn check_part(_part: &Value, _at: &str) -> Result<(), ApiError> {
        Ok(())
    }
}

impl GoogleApi for VertexAi {
    const NAME: &'static str = "vertex";

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        keys.vertex.as_deref()
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map_or("", str::trim);
        if !is_expected_key(presented, expected_key) {
            return Err(ApiError::authentication(
                "Request had invalid authentication credentials. Expected OAuth 2 access \
                 token, login cookie or other valid authentication credential. See \
                 https://developers.google.com/identity/sign-in/web/devconsole-project.",
            ));
        }
        Ok(())
    }

    /// Vertex has no `id` on function calls and responses.
    fn check_part(part: &Value, at: &str) -> Result<(), ApiError> {
        for (key, field) in [
            ("functionCall", "function_call"),
            ("functionResponse", "function_response"),
        ] {
            if part[key].get("id").is_some() {
                return Err(unknown_field("id", Some(&format!("{at}.{field}"))));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    contents: Option<Vec<Content>>,
    tools: Option<Vec<Tool>>,
    #[serde(alias = "generation_config")]
    generation_config: Option<Map<String, Value>>,
    /// Every other field, checked against the API's field names.
    #[serde(flatten)]
    other: Map<String, Value>,
    #[serde(skip)]
    model: String,
    #[serde(skip)]
    stream: bool,
}

#[derive(Deserialize)]
struct Content {
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tool {
    #[serde(alias = "function_declarations")]
    function_declarations: Option<Vec<Declaration>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Declaration {
    name: String,
    #[serde(alias = "parameters_json_schema")]
    parameters_json_schema: Option<Value>,
    parameters: Option<Value>,
}

impl<A: GoogleApi> WireFormat for Google<A> {
    const NAME: &'static str = A::NAME;
    type Request = GenerateContentRequest;

    fn expected_key(keys: &ExpectedKeys) -> Option<&str> {
        A::expected_key(keys)
    }

    fn authorize(headers: &HeaderMap, expected_key: Option<&str>) -> Result<(), ApiError> {
        A::authorize(headers, expected_key)
    }

    fn prompt(request: &GenerateContentRequest) -> Result<Prompt<'_>, ApiError> {
        check_fields(request)?;
        let contents = request
            .contents
            .as_deref()
            .filter(|contents| !contents.is_empty())
            .ok_or_else(|| {
                ApiError::invalid_request(
                    "* GenerateContentRequest.contents: contents is not specified",
                )
            })?;
        for (i, content) in contents.iter().enumerate() {
            check_content::<A>(content, i, &request.model)?;
        }
        let declarations = (request.tools.iter().flatten())
            .flat_map(|tool| tool.function_declarations.iter().flatten());
        Ok(Prompt {
            last_user_text: last_user_text(contents),
            tools: declarations
                .map(|declaration| ToolSpec {
                    name: &declaration.name,
                    schema: declaration
                        .parameters_json_schema
                        .as_ref()
                        .or(declaration.parameters.as_ref()),
                })
                .collect(),
            stream: request.stream,
        })
    }

    fn undecodable(error: serde_json::Error) -> ApiError {
        ApiError::invalid_request(format!("Invalid JSON payload received. {error}"))
    }

    fn message(request: &GenerateContentRequest, reply: &Reply) -> String {
        let candidates = reply.usage.output.saturating_sub(reply.usage.reasoning);
        let chunk = Chunk::new(request, reply);
        let mut response = chunk.render(reply_part(reply), true, candidates);
        if matches!(reply.content, ReplyContent::ToolCall(_)) && !chunk.legacy {
            response["candidates"][0]["finishMessage"] = json!("Model generated function call(s).");
        }
        response.to_string()
    }

    fn stream(request: &GenerateContentRequest, reply: &Reply) -> Vec<Event> {
        let chunk = Chunk::new(request, reply);
        match &reply.content {
            ReplyContent::Text(_) => {
                let pieces: Vec<&str> = reply.content.deltas().collect();
                let last = pieces.len().saturating_sub(1);
                pieces
                    .iter()
                    .enumerate()
                    .map(|(i, piece)| {
                        let part = json!({"text": piece});
                        chunk.event(part, i == last, i as u64 + 1).with_content()
                    })
                    .collect()
            }
            ReplyContent::ToolCall(_) => {
                let candidates = reply.usage.output.saturating_sub(reply.usage.reasoning);
                vec![
                    chunk
                        .event(reply_part(reply), false, candidates)
                        .with_content(),
                    chunk.event(json!({"text": ""}), true, candidates),
                ]
            }
        }
    }

    fn stream_error() -> Event {
        Event::data_crlf(OVERLOADED)
    }

    fn error_body(error: &ApiError) -> String {
        let status = match error.kind {
            ErrorKind::InvalidRequest => "INVALID_ARGUMENT",
            ErrorKind::Authentication => "UNAUTHENTICATED",
            ErrorKind::PermissionDenied => "PERMISSION_DENIED",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::RateLimited => "RESOURCE_EXHAUSTED",
            ErrorKind::Overloaded => "UNAVAILABLE",
            ErrorKind::Server => "INTERNAL",
        };
        let mut body = json!({"error": {
            "code": error.status.as_u16(), "message": error.message, "status": status,
        }});
        if error.code == Some(API_KEY_INVALID) {
            body["error"]["details"] = json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": API_KEY_INVALID,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }]);
        }
        body.to_string()
    }

    fn route(request: &mut GenerateContentRequest, route: Route) {
        request.model = route.model;
        request.stream = route.stream;
    }
}

/// `POST /v1beta/models/{model}:{method}` (AI Studio).
pub async fn ai_studio(
    State(keys): State<Arc<ExpectedKeys>>,
    Path(call): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(model) = call.strip_suffix(":batchEmbedContents") {
        return embeddings::gemini_batch(&keys, model, &headers, &body);
    }
    handle::<Gemini>(&keys, &call, &query, &headers, &body)
}

/// `POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`.
pub async fn vertex(
    State(keys): State<Arc<ExpectedKeys>>,
    Path((_project, _location, call)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if call.ends_with(":predict") {
        return embeddings::vertex_predict(&keys, &headers, &body);
    }
    handle::<Vertex>(&keys, &call, &query, &headers, &body)
}

fn handle<F: WireFormat>(
    keys: &ExpectedKeys,
    call: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    match route(call, query) {
        Ok(route) => complete_routed::<F>(keys, headers, body, Some(route)),
        Err(error) => error_response::<F>(&error),
    }
}

/// `{model}:{method}` and the query → model and streaming.
fn route(call: &str, query: &HashMap<String, String>) -> Result<Route, ApiError> {
    let not_found = || ApiError::not_found(format!("Method not found: {call}"));
    let (model, method) = call.split_once(':').ok_or_else(not_found)?;
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" if query.get("alt").map(String::as_str) == Some("sse") => true,
        "streamGenerateContent" => {
            return Err(ApiError::invalid_request(
                "the mock streams only server-sent events: add alt=sse",
            ))
        }
        _ => return Err(not_found()),
    };
    Ok(Route {
        model: model.to_owned(),
        stream,
    })
}

/// Whether an unrouted request was meant for a Google API (for its 404's dialect).
pub fn is_google_call(uri: &Uri, headers: &HeaderMap) -> bool {
    headers.contains_key(API_KEY_HEADER)
        || uri.path().starts_with("/v1beta/")
        || uri.path().contains("/publishers/google/")
}

/// The camelCase spelling of a protobuf JSON field name.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub fn unknown_field(name: &str, at: Option<&str>) -> ApiError {
    let at = at.map(|at| format!(" at '{at}'")).unwrap_or_default();
    ApiError::invalid_request(format!(
        "Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field."
    ))
}

fn check_fields(request: &GenerateContentRequest) -> Result<(), ApiError> {
    if let Some(name) = (request.other.keys()).find(|k| !OTHER_FIELDS.contains(&camel(k).as_str()))
    {
        return Err(unknown_field(name, None));
    }
    let config = request.generation_config.iter().flatten();
    for (name, value) in config {
        let name_camel = camel(name);
        if !GENERATION_CONFIG_FIELDS.contains(&name_camel.as_str()) {
            return Err(unknown_field(name, Some("generation_config")));
        }
        if name_camel == "temperature" && value.as_f64().is_some_and(|t| !(0.0..=2.0).contains(&t))
        {
            return Err(ApiError::invalid_request(
                "* GenerateContentRequest.generation_config.temperature: must be in the range [0.0, 2.0]",
            ));
        }
    }
    Ok(())
}

fn check_content<A: GoogleApi>(content: &Content, i: usize, model: &str) -> Result<(), ApiError> {
    let role = content.role.as_deref().unwrap_or("user");
    if role != "user" && role != "model" {
        return Err(ApiError::invalid_request(
            "Please use a valid role: user, model.",
        ));
    }
    for (j, part) in content.parts.iter().enumerate() {
        A::check_part(part, &format!("contents[{i}].parts[{j}]"))?;
    }
    // Gemini 3 validates thought signatures: the first call of a model turn must bring its
    // signature back (any turn here; Gemini checks the current turn).
    let first_call = content
        .parts
        .iter()
        .find(|part| part.get("functionCall").is_some());
    if let Some(call) = first_call.filter(|_| role == "model" && model.starts_with("gemini-3")) {
        let signed = (call
            .get("thoughtSignature")
            .or_else(|| call.get("thought_signature")))
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
        if !signed {
            let name = call["functionCall"]["name"].as_str().unwrap_or_default();
            return Err(ApiError::invalid_request(format!(
                "Function call `{name}` in the {}. content block is missing a `thought_signature`. \
                 Learn more: https://ai.google.dev/gemini-api/docs/thought-signatures",
                i + 1
            )));
        }
    }
    Ok(())
}

/// Text parts of the last user content, joined; "" when it has none (function responses).
fn last_user_text(contents: &[Content]) -> String {
    let Some(content) = contents
        .iter()
        .rev()
        .find(|c| c.role.as_deref().unwrap_or("user") == "user")
    else {
        return String::new();
    };
    let texts: Vec<&str> = content
        .parts
        .iter()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect();
    texts.join(" ")
}

/// The reply's content part: text, or a whole function call with its signature.
fn reply_part(reply: &Reply) -> Value {
    match &reply.content {
        ReplyContent::Text(text) => json!({"text": text}),
        ReplyContent::ToolCall(call) => json!({
            "functionCall": {"name": call.name, "args": call.input},
            "thoughtSignature": thought_signature(reply),
        }),
    }
}

/// A deterministic stand-in for Gemini's opaque signature: standard base64 with `+` and
/// `/`, so gateways meet both characters that are not URL-safe.
fn thought_signature(reply: &Reply) -> String {
    format!("TW9jaw+/{:016}", reply.serial)
}

/// What every chunk of one reply shares.
struct Chunk<'a> {
    model: &'a str,
    id: String,
    usage: Usage,
    /// The response shape of `gemini-1.x`/`gemini-2.0` (see the module docs).
    legacy: bool,
}

impl<'a> Chunk<'a> {
    fn new(request: &'a GenerateContentRequest, reply: &Reply) -> Self {
        let model = request.model.as_str();
        Chunk {
            model,
            id: format!("tgMock{:016}", reply.serial),
            usage: reply.usage,
            legacy: model.starts_with("gemini-1.") || model.starts_with("gemini-2.0"),
        }
    }

    fn event(&self, part: Value, last: bool, candidates: u64) -> Event {
        Event::data_crlf(self.render(part, last, candidates))
    }

    /// One `GenerateContentResponse` with `part`; `last` adds the finish reason.
    fn render(&self, part: Value, last: bool, candidates: u64) -> Value {
        let mut candidate = json!({"content": {"parts": [part], "role": "model"}});
        if last {
            candidate["finishReason"] = json!("STOP");
        }
        if !self.legacy {
            candidate["index"] = json!(0);
        }
        // The older models count candidates only once they are done.
        let candidates = if self.legacy && !last { 0 } else { candidates };
        json!({
            "candidates": [candidate],
            "usageMetadata": self.usage_metadata(candidates, last && self.legacy),
            "modelVersion": self.model,
            "responseId": self.id,
        })
    }

    /// Cumulative counts, zeros left out as protobuf JSON does.
    fn usage_metadata(&self, candidates: u64, with_details: bool) -> Value {
        let prompt = self.usage.total_input();
        let thoughts = self.usage.reasoning;
        let mut usage = Map::new();
        let mut count = |key: &str, n: u64| {
            if n > 0 {
                usage.insert(key.into(), json!(n));
            }
        };
        count("promptTokenCount", prompt);
        count("cachedContentTokenCount", self.usage.cache_read);
        count("candidatesTokenCount", candidates);
        count("thoughtsTokenCount", thoughts);
        count("totalTokenCount", prompt + candidates + thoughts);
        usage.insert(
            "promptTokensDetails".into(),
            json!([{"modality": "TEXT", "tokenCount": prompt}]),
        );
        if with_details {
            usage.insert(
                "candidatesTokensDetails".into(),
                json!([{"modality": "TEXT", "tokenCount": candidates}]),
            );
        }
        Value::Object(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_read_model_and_streaming() {
        let sse = HashMap::from([("alt".to_owned(), "sse".to_owned())]);
        let route = super::route("gemini-2.5-flash:streamGenerateContent", &sse).unwrap();
        assert_eq!(
            (route.model.as_str(), route.stream),
            ("gemini-2.5-flash", true)
        );
        let route = super::route("m:generateContent", &HashMap::new()).unwrap();
        assert!(!route.stream);
        assert!(super::route("m:streamGenerateContent", &HashMap::new()).is_err());
        let unknown = super::route("m:countTokens", &HashMap::new()).unwrap_err();
        assert_eq!(unknown.kind, ErrorKind::NotFound);
    }

    #[test]
    fn field_names_in_either_spelling() {
        assert_eq!(camel("generation_config"), "generationConfig");
        assert_eq!(camel("maxOutputTokens"), "maxOutputTokens");
    }
}
