//! Decisions the gateway filter makes once per client request: which endpoint was
//! called, who is calling, and which model alias the request may use.
//!
//! The wasm shell feeds headers and the body in and turns the results into local replies
//! or routing headers; nothing here touches the host.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::json;

use crate::config::CompiledGateway;
use crate::error::{ErrorKind, GatewayError};
use crate::formats::WireFormat;
use crate::keys::{presented_key, Refusal, VirtualKey};

/// An endpoint of the client-facing API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `GET /v1/models`
    Models,
    /// `POST /v1/messages` (Anthropic Messages)
    Messages,
    /// `POST /v1/embeddings`
    Embeddings,
    /// `/mcp/{server}` (and below, for a legacy server's messages), any method: routed by
    /// path to the server's cluster, whose MCP filter reads the messages.
    Mcp,
}

impl Endpoint {
    /// Resolves a request line to an endpoint. The query string is ignored.
    pub fn classify(method: &str, path: &str) -> Result<Endpoint, GatewayError> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if path.starts_with("/mcp/") {
            return Ok(Endpoint::Mcp);
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let (endpoint, allowed) = match path {
            "/v1/chat/completions" | "/chat/completions" => (Endpoint::ChatCompletions, "POST"),
            "/v1/models" | "/models" => (Endpoint::Models, "GET"),
            "/v1/messages" => (Endpoint::Messages, "POST"),
            "/v1/embeddings" | "/embeddings" => (Endpoint::Embeddings, "POST"),
            _ => {
                return Err(GatewayError::new(
                    ErrorKind::NotFound,
                    "unknown_endpoint",
                    format!("Tollgate does not serve {method} {path}"),
                ))
            }
        };
        if method != allowed {
            return Err(GatewayError::new(
                ErrorKind::MethodNotAllowed,
                "method_not_allowed",
                format!("{path} accepts {allowed} only"),
            ));
        }
        Ok(endpoint)
    }

    /// The wire format clients of this endpoint speak, for errors and translation.
    pub fn client_format(self) -> WireFormat {
        match self {
            Endpoint::Messages => WireFormat::Anthropic,
            Endpoint::ChatCompletions | Endpoint::Models | Endpoint::Embeddings | Endpoint::Mcp => {
                WireFormat::OpenAi
            }
        }
    }

    /// What the provider filter must do with the request (sent as `x-tollgate-operation`).
    pub fn operation(self) -> Operation {
        match self {
            Endpoint::Embeddings => Operation::Embeddings,
            Endpoint::Mcp => Operation::Mcp,
            Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Models => Operation::Chat,
        }
    }

    /// Whether the endpoint needs the request body before it can be routed.
    pub fn needs_body(self) -> bool {
        matches!(
            self,
            Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Embeddings
        )
    }
}

/// The kind of work a routed request asks of its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Embeddings,
    /// MCP messages to one server (read by the MCP filter, never by a provider's).
    Mcp,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
            Operation::Mcp => "mcp",
        }
    }

    pub fn parse(name: &str) -> Option<Operation> {
        match name {
            "chat" => Some(Operation::Chat),
            "embeddings" => Some(Operation::Embeddings),
            "mcp" => Some(Operation::Mcp),
            _ => None,
        }
    }
}

/// Finds the virtual key presented in `Authorization: Bearer …` or `x-api-key`, refusing
/// one that has expired by `now_unix_ms`.
pub fn authenticate<'a>(
    gateway: &'a CompiledGateway,
    authorization: Option<&str>,
    x_api_key: Option<&str>,
    now_unix_ms: u64,
) -> Result<&'a VirtualKey, GatewayError> {
    let Some(presented) = presented_key(authorization, x_api_key) else {
        return Err(GatewayError::new(
            ErrorKind::Authentication,
            "missing_api_key",
            "No API key provided. Send your Tollgate virtual key as 'Authorization: Bearer <key>'.",
        ));
    };
    gateway
        .keys
        .verify(presented, now_unix_ms)
        .map_err(|refusal| match refusal {
            Refusal::Unknown => GatewayError::new(
                ErrorKind::Authentication,
                "invalid_api_key",
                "Incorrect API key provided. Use a Tollgate virtual key issued for this gateway.",
            ),
            Refusal::Expired => GatewayError::new(
                ErrorKind::Authentication,
                "expired_api_key",
                "This API key has expired. Ask the gateway's operator for a new one.",
            ),
        })
}

/// The OpenAI-shaped `GET /v1/models` answer: the aliases this key may use.
pub fn list_models(gateway: &CompiledGateway, key: &VirtualKey) -> Vec<u8> {
    let data: Vec<_> = gateway
        .models()
        .iter()
        .filter(|m| key.allows_model(&m.alias))
        .map(|m| json!({"id": m.alias, "object": "model", "created": 0, "owned_by": m.provider}))
        .collect();
    json!({"object": "list", "data": data})
        .to_string()
        .into_bytes()
}

/// What the gateway learned from a chat request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub alias: String,
    pub provider: String,
    pub stream: bool,
    /// The most output the client allows (`max_tokens`, or OpenAI's
    /// `max_completion_tokens`), for budget estimates; `None` when it sets no limit.
    pub max_output_tokens: Option<u64>,
}

/// The fields the gateway needs before routing; the provider filter parses the rest.
/// Unknown fields and message contents are skipped without being materialised.
#[derive(Deserialize)]
struct Envelope {
    model: Option<serde_json::Value>,
    messages: Option<Shape>,
    input: Option<Shape>,
    stream: Option<serde_json::Value>,
    max_tokens: Option<serde_json::Value>,
    max_completion_tokens: Option<serde_json::Value>,
}

/// The JSON type of a value, and an array's length, without keeping its contents.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Array(usize),
    Other,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Shape, A::Error> {
                let mut len = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    len += 1;
                }
                Ok(Shape::Array(len))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Shape, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Shape::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
        }
        d.deserialize_any(ShapeVisitor)
    }
}

/// Checks that a chat request has a non-empty `messages` array.
fn check_messages(messages: Option<Shape>) -> Result<(), GatewayError> {
    let problem = match messages {
        Some(Shape::Array(len)) if len > 0 => return Ok(()),
        Some(Shape::Array(_)) => "'messages' must not be empty",
        Some(_) => "'messages' must be an array",
        None => "Missing required parameter: 'messages'",
    };
    Err(GatewayError::invalid_request(problem).with_param("messages"))
}

/// Checks a request's envelope (`model`, then `messages` for chat endpoints or `input` for
/// embeddings, and `stream`) and that the key may use its model.
pub fn admit(
    endpoint: Endpoint,
    gateway: &CompiledGateway,
    key: &VirtualKey,
    body: &[u8],
) -> Result<Admission, GatewayError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        // serde_json's message names a position and an expectation, never the input text.
        GatewayError::invalid_request(format!("The request body is not valid JSON: {e}"))
    })?;
    let alias = match envelope.model {
        Some(serde_json::Value::String(s)) if !s.is_empty() => s,
        Some(_) => {
            return Err(
                GatewayError::invalid_request("'model' must be a non-empty string")
                    .with_param("model"),
            )
        }
        None => {
            return Err(
                GatewayError::invalid_request("Missing required parameter: 'model'")
                    .with_param("model"),
            )
        }
    };
    if endpoint.operation() == Operation::Embeddings {
        if envelope.input.is_none() {
            return Err(
                GatewayError::invalid_request("Missing required parameter: 'input'")
                    .with_param("input"),
            );
        }
    } else {
        check_messages(envelope.messages)?;
    }
    let stream = match envelope.stream {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => {
            return Err(
                GatewayError::invalid_request("'stream' must be a boolean").with_param("stream")
            )
        }
    };
    let Some(route) = gateway.model(&alias) else {
        return Err(GatewayError::new(
            ErrorKind::NotFound,
            "model_not_found",
            format!("The model '{alias}' does not exist on this gateway."),
        )
        .with_param("model"));
    };
    if !key.allows_model(&alias) {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            "model_not_allowed",
            format!("This API key is not allowed to use the model '{alias}'."),
        )
        .with_param("model"));
    }
    // The translator checks these fields' types; a limit that is not a count limits nothing
    // here. Of both, the smaller binds.
    let max_output_tokens = [envelope.max_tokens, envelope.max_completion_tokens]
        .iter()
        .filter_map(|v| v.as_ref().and_then(serde_json::Value::as_u64))
        .min();
    Ok(Admission {
        alias,
        provider: route.provider.clone(),
        stream,
        max_output_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GatewayConfig, ModelRoute, VirtualKeyConfig, CONFIG_VERSION};
    use crate::keys::hash_hex;

    const NOW: u64 = 1_700_000_000_000;

    fn gateway() -> CompiledGateway {
        let key = |id: &str, plain: &str, models: &[&str]| VirtualKeyConfig {
            id: id.into(),
            sha256: hash_hex(plain),
            models: models.iter().map(|s| s.to_string()).collect(),
            team: None,
            owner: None,
            metadata: Default::default(),
            rate_limits: None,
            expires_unix_ms: None,
            previous_secrets: vec![],
            payload_capture: None,
        };
        let route = |alias: &str, provider: &str| ModelRoute {
            alias: alias.into(),
            provider: provider.into(),
            rules: vec![],
            upstream_models: vec![],
            payload_capture: None,
        };
        CompiledGateway::try_from(GatewayConfig {
            version: CONFIG_VERSION,
            keys: vec![
                key("all", "tg-all", &["*"]),
                key("one", "tg-one", &["gpt"]),
                VirtualKeyConfig {
                    expires_unix_ms: Some(NOW),
                    ..key("gone", "tg-gone", &["*"])
                },
            ],
            models: vec![route("gpt", "openai"), route("claude", "anthropic")],
            usage_shipping: None,
            guardrails: vec![],
            budgets: None,
        })
        .unwrap()
    }

    #[test]
    fn classifies_endpoints() {
        assert_eq!(
            Endpoint::classify("POST", "/v1/chat/completions"),
            Ok(Endpoint::ChatCompletions)
        );
        assert_eq!(
            Endpoint::classify("POST", "/v1/chat/completions?x=1"),
            Ok(Endpoint::ChatCompletions)
        );
        assert_eq!(
            Endpoint::classify("GET", "/v1/models/"),
            Ok(Endpoint::Models)
        );
        assert_eq!(
            Endpoint::classify("GET", "/v1/chat/completions")
                .unwrap_err()
                .status(),
            405
        );
        assert_eq!(
            Endpoint::classify("POST", "/v1/other")
                .unwrap_err()
                .status(),
            404
        );
        for method in ["GET", "POST", "DELETE"] {
            assert_eq!(
                Endpoint::classify(method, "/mcp/github?x=1"),
                Ok(Endpoint::Mcp)
            );
        }
        assert_eq!(
            Endpoint::classify("POST", "/mcp/old/messages/"),
            Ok(Endpoint::Mcp)
        );
        assert!(Endpoint::classify("POST", "/mcpx").is_err());
    }

    #[test]
    fn authentication() {
        let gw = gateway();
        assert_eq!(
            authenticate(&gw, Some("Bearer tg-all"), None, NOW)
                .unwrap()
                .config
                .id,
            "all"
        );
        assert_eq!(
            authenticate(&gw, None, Some("tg-one"), NOW)
                .unwrap()
                .config
                .id,
            "one"
        );
        let missing = authenticate(&gw, None, None, NOW).unwrap_err();
        assert_eq!((missing.status(), missing.code), (401, "missing_api_key"));
        let wrong = authenticate(&gw, Some("Bearer tg-nope"), None, NOW).unwrap_err();
        assert_eq!((wrong.status(), wrong.code), (401, "invalid_api_key"));
        assert!(
            !wrong.message.contains("tg-nope"),
            "errors never echo the presented key"
        );
        let expired = authenticate(&gw, Some("Bearer tg-gone"), None, NOW).unwrap_err();
        assert_eq!((expired.status(), expired.code), (401, "expired_api_key"));
        let earlier = authenticate(&gw, Some("Bearer tg-gone"), None, NOW - 1);
        assert_eq!(earlier.unwrap().config.id, "gone");
    }

    #[test]
    fn models_are_scoped_to_the_key() {
        let gw = gateway();
        let list = |plain| {
            let key = gw.keys.verify(plain, NOW).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&list_models(&gw, key)).unwrap();
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(list("tg-all"), ["gpt", "claude"]);
        assert_eq!(list("tg-one"), ["gpt"]);
    }

    #[test]
    fn admits_valid_requests() {
        let gw = gateway();
        let key = gw.keys.verify("tg-one", NOW).unwrap();
        let body = br#"{"model":"gpt","messages":[{"role":"user","content":"hi"}],"stream":true,"extra":{"x":[1,2]}}"#;
        assert_eq!(
            admit(Endpoint::ChatCompletions, &gw, key, body),
            Ok(Admission {
                alias: "gpt".into(),
                provider: "openai".into(),
                stream: true,
                max_output_tokens: None,
            })
        );
        let limited = br#"{"model":"gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":300,"max_completion_tokens":200}"#;
        let admission = admit(Endpoint::ChatCompletions, &gw, key, limited).unwrap();
        assert_eq!(admission.max_output_tokens, Some(200));
    }

    #[test]
    fn refuses_bad_requests_with_the_right_status() {
        let gw = gateway();
        let key = gw.keys.verify("tg-one", NOW).unwrap();
        let status = |body: &[u8]| {
            admit(Endpoint::ChatCompletions, &gw, key, body)
                .unwrap_err()
                .status()
        };
        assert_eq!(status(b"{not json"), 400);
        assert_eq!(
            status(br#"{"messages":[{"role":"user","content":"x"}]}"#),
            400
        );
        assert_eq!(status(br#"{"model":"gpt"}"#), 400);
        assert_eq!(status(br#"{"model":"gpt","messages":[]}"#), 400);
        assert_eq!(status(br#"{"model":7,"messages":[{}]}"#), 400);
        assert_eq!(
            status(br#"{"model":"gpt","messages":[{}],"stream":"yes"}"#),
            400
        );
        assert_eq!(status(br#"{"model":"nope","messages":[{}]}"#), 404);
        assert_eq!(status(br#"{"model":"claude","messages":[{}]}"#), 403);
    }

    #[test]
    fn embeddings_need_input_not_messages() {
        let gw = gateway();
        let key = gw.keys.verify("tg-one", NOW).unwrap();
        let admit_embeddings = |body: &[u8]| admit(Endpoint::Embeddings, &gw, key, body);
        assert_eq!(
            admit_embeddings(br#"{"model":"gpt","input":"hello"}"#)
                .unwrap()
                .alias,
            "gpt"
        );
        let missing = admit_embeddings(br#"{"model":"gpt","messages":[{}]}"#).unwrap_err();
        assert_eq!(
            (missing.status(), missing.param.as_deref()),
            (400, Some("input"))
        );
        assert_eq!(Endpoint::Embeddings.operation(), Operation::Embeddings);
        assert_eq!(
            Operation::parse(Operation::Embeddings.as_str()),
            Some(Operation::Embeddings)
        );
    }

    #[test]
    fn json_errors_do_not_echo_the_body() {
        let gw = gateway();
        let key = gw.keys.verify("tg-one", NOW).unwrap();
        let err = admit(
            Endpoint::ChatCompletions,
            &gw,
            key,
            br#"{"model":"gpt","messages":[{"content":"secret-sk-123"#,
        )
        .unwrap_err();
        assert!(!err.message.contains("secret-sk-123"), "{}", err.message);
    }
}
