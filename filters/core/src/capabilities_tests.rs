//! Keeps the table honest: for every format and feature, an OpenAI-client request using the
//! feature is translated for that format, and it reaches the provider iff the table says so.

use serde_json::{json, Value};

use super::*;
use crate::embeddings;
use crate::translate::{translate_request, ProviderTarget};

/// A PNG's first bytes, base64: unique enough to find in a translated body.
const PIXEL: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ";
const IMAGE_URL: &str = "https://example.com/capability-probe.png";

fn target(format: WireFormat, model: &str) -> ProviderTarget<'_> {
    ProviderTarget {
        format,
        base_path: "/v1",
        upstream_model: model,
        api_version: None,
    }
}

fn chat_with(extra: Value, content: Value) -> Vec<u8> {
    let mut body = json!({
        "model": "alias",
        "messages": [{"role": "user", "content": content}],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    serde_json::to_vec(&body).unwrap()
}

fn image(url: &str) -> Value {
    json!([{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": url}}])
}

/// The request the client sends to use `feature`, and a text that shows, in the provider's
/// body, that the feature reached it.
fn probe(feature: Feature) -> (Vec<u8>, &'static str) {
    let text = json!("hi");
    match feature {
        Feature::Tools => (
            chat_with(
                json!({"tools": [{"type": "function", "function": {"name": "probe_tool", "parameters": {"type": "object"}}}]}),
                text,
            ),
            "probe_tool",
        ),
        Feature::Images => (
            chat_with(json!({}), image(&format!("data:image/png;base64,{PIXEL}"))),
            PIXEL,
        ),
        Feature::ImageUrls => (chat_with(json!({}), image(IMAGE_URL)), IMAGE_URL),
        Feature::JsonSchema => (
            chat_with(
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "probe",
                    "schema": {"type": "object", "properties": {"probe_field": {"type": "string"}}}}}}),
                text,
            ),
            "probe_field",
        ),
        // OpenAI and Cohere name the mode, Gemini asks for a JSON MIME type.
        Feature::JsonObject => (
            chat_with(json!({"response_format": {"type": "json_object"}}), text),
            "json",
        ),
        Feature::Embeddings => unreachable!("embeddings have their own endpoint"),
    }
}

/// Whether the translated body shows the JSON-object mode (`json_object`, or Gemini's
/// `application/json`), not merely the word "json" elsewhere.
fn carries(body: &str, feature: Feature, marker: &str) -> bool {
    match feature {
        Feature::JsonObject => body.contains("json_object") || body.contains("application/json"),
        _ => body.contains(marker),
    }
}

#[test]
fn chat_features_reach_the_provider_iff_the_table_says_so() {
    for format in WireFormat::ALL {
        for feature in Feature::ALL
            .into_iter()
            .filter(|f| *f != Feature::Embeddings)
        {
            let (body, marker) = probe(feature);
            let translated = translate_request(WireFormat::OpenAi, &target(format, "m"), &body);
            let reached = match &translated {
                Ok(upstream) => carries(&String::from_utf8_lossy(&upstream.body), feature, marker),
                Err(e) => {
                    assert_eq!(e.status(), 400, "{format:?} {feature}: {e:?}");
                    false
                }
            };
            assert_eq!(
                reached,
                supports(format, feature),
                "{format:?} {feature}: {translated:?}"
            );
        }
    }
}

#[test]
fn embeddings_translate_iff_the_table_says_so() {
    let body = br#"{"model":"alias","input":"hello"}"#;
    for format in WireFormat::ALL {
        // Bedrock picks its embeddings API by model family.
        let model = match format {
            WireFormat::Bedrock => "amazon.titan-embed-text-v2:0",
            _ => "embed-model",
        };
        let translated = embeddings::translate_request(&target(format, model), body);
        assert_eq!(
            translated.is_ok(),
            supports(format, Feature::Embeddings),
            "{format:?}: {translated:?}"
        );
    }
}

#[test]
fn names_round_trip() {
    for feature in Feature::ALL {
        assert_eq!(Feature::parse(feature.name()), Some(feature));
    }
    assert_eq!(Feature::parse("vision"), None);
    assert_eq!(
        lacking(WireFormat::Anthropic, &Feature::ALL),
        [Feature::JsonObject, Feature::Embeddings]
    );
    assert_eq!(of(WireFormat::OpenAi), Feature::ALL);
}
