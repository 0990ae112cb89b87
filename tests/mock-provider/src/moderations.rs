//! OpenAI `/v1/moderations`: one result per input with every category of the omni
//! moderation models, as `{"id", "model", "results": [{"flagged", "categories",
//! "category_scores", "category_applied_input_types"}]}`.
//!
//! Everything scores low unless an input carries a marker, so tests choose what fires:
//! `moderate:<category>` flags the category (score 0.91), `moderate:<category>@<score>`
//! scores it as given (flagged from 0.5, like the real endpoint's own cut-off), and
//! `moderate:fail` answers 500.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::completion::{error_response, json_response, WireFormat};
use crate::embeddings::admit;
use crate::error::ApiError;
use crate::openai::OpenAi;
use crate::ExpectedKeys;

/// The categories of `omni-moderation-latest`.
const CATEGORIES: &[&str] = &[
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];
const MARKER: &str = "moderate:";
const BASELINE: f64 = 0.000_012;
const FIRED: f64 = 0.91;
/// The score from which the mock, like the endpoint, sets a category's flag.
const FLAGGED_FROM: f64 = 0.5;

#[derive(Deserialize)]
struct ModerationRequest {
    model: Option<String>,
    input: Option<Value>,
}

pub async fn moderate(
    State(keys): State<Arc<ExpectedKeys>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&keys, &headers, &body).unwrap_or_else(|error| error_response::<OpenAi>(&error))
}

fn respond(keys: &ExpectedKeys, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    admit::<OpenAi>(keys, headers)?;
    let request: ModerationRequest = serde_json::from_slice(body).map_err(OpenAi::undecodable)?;
    let texts = inputs(request.input)?;
    if texts.iter().any(|t| t.contains("moderate:fail")) {
        return Err(ApiError::injected(StatusCode::INTERNAL_SERVER_ERROR));
    }
    let results: Vec<Value> = texts.iter().map(|text| result(text)).collect();
    let model = request
        .model
        .unwrap_or_else(|| "omni-moderation-latest".to_owned());
    let body = json!({"id": format!("modr-{}", results.len()), "model": model, "results": results});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `input`: a string, an array of strings, or an array of `{"type": "text", "text"}` and
/// `{"type": "image_url", ...}` parts (images score like empty text).
fn inputs(input: Option<Value>) -> Result<Vec<String>, ApiError> {
    let missing =
        || ApiError::invalid_request("'input' is a required property").with_param("input");
    match input.ok_or_else(missing)? {
        Value::String(text) => Ok(vec![text]),
        Value::Array(items) if !items.is_empty() => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                Value::Object(part) => Ok(part
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()),
                _ => {
                    Err(ApiError::invalid_request("Invalid type for 'input'.").with_param("input"))
                }
            })
            .collect(),
        _ => Err(missing()),
    }
}

fn result(text: &str) -> Value {
    let mut categories = Map::new();
    let mut scores = Map::new();
    let mut applied = Map::new();
    for &name in CATEGORIES {
        let score = marked_score(text, name).unwrap_or(BASELINE);
        categories.insert(name.to_owned(), json!(score >= FLAGGED_FROM));
        scores.insert(name.to_owned(), json!(score));
        applied.insert(name.to_owned(), json!(["text"]));
    }
    let flagged = categories.values().any(|v| v == &json!(true));
    json!({
        "flagged": flagged,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    })
}

/// The score a `moderate:<category>[@score]` marker asks for.
fn marked_score(text: &str, category: &str) -> Option<f64> {
    text.match_indices(MARKER).find_map(|(at, _)| {
        let rest = &text[at + MARKER.len()..];
        let word = rest.split_whitespace().next().unwrap_or_default();
        let (name, score) = word.split_once('@').unwrap_or((word, ""));
        (name == category).then(|| score.parse().unwrap_or(FIRED))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_choose_the_scores() {
        assert_eq!(
            marked_score("moderate:violence now", "violence"),
            Some(FIRED)
        );
        assert_eq!(marked_score("x moderate:hate@0.3", "hate"), Some(0.3));
        assert_eq!(marked_score("moderate:violence/graphic", "violence"), None);
        let fired = result("moderate:self-harm/intent");
        assert_eq!(fired["flagged"], true);
        assert_eq!(fired["categories"]["self-harm/intent"], true);
        let low = result("moderate:hate@0.3");
        assert_eq!(
            (
                low["flagged"].clone(),
                low["category_scores"]["hate"].clone()
            ),
            (json!(false), json!(0.3))
        );
    }
}
