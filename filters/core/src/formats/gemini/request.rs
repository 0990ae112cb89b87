//! Gemini `GenerateContentRequest` bodies.
//!
//! Encoding (canonical → Gemini), the direction the gateway uses:
//! - The model and streaming are in the URL ([`super::endpoint_path`]), not in the body.
//! - System prompts become `systemInstruction`. Turns use roles `user` and `model`;
//!   consecutive same-role turns merge (Gemini wants alternation), and function responses
//!   open the user turn that answers the calls.
//! - `functionResponse` needs the function's name, which canonical tool results do not
//!   carry: it is looked up from the call with the same id in the history, and a result
//!   whose call is not in the request is refused. No ids are sent (see [`super::ids`]);
//!   Gemini pairs calls and responses by order and name, so the responses of a turn are put
//!   in the order of the calls they answer, whatever order the client sent them in. The
//!   result text goes in
//!   `response.output` (`response.error` for failed calls), as Google's docs suggest.
//!   Images inside tool results follow the function responses as `inlineData` parts.
//! - `functionCall.args` must be an object: empty arguments become `{}`, and arguments that
//!   are not a JSON object (malformed model output from another provider) are sent as
//!   `{"arguments": "<text>"}` rather than dropped or replaced by an invented object.
//! - Thought signatures: a call's signature comes from its id ([`super::ids`]); a signed
//!   thinking part lends its signature to the part that follows it, which is where Gemini
//!   put it; the first call of a model turn without any signature gets Google's documented
//!   placeholder ([`super::ids::SKIP_SIGNATURE`]), which Gemini 3 needs when the history
//!   came from another provider or a client dropped the signature. Thinking text goes back
//!   as `thought` parts; Anthropic's redacted thinking is left out.
//! - Tools: `functionDeclarations` with `parametersJsonSchema` (full JSON Schema, see the
//!   module docs of [`super`]); `tool_choice` → `functionCallingConfig` (`required` → `ANY`,
//!   a named tool → `ANY` with `allowedFunctionNames`).
//! - `generationConfig`: `maxOutputTokens` (thinking included, as in the canonical model),
//!   temperature clamped to 0–2, `topP`, `topK`, at most 5 `stopSequences`, JSON modes as
//!   `responseMimeType` + `responseJsonSchema`, reasoning as `thinkingConfig`
//!   (`thinkingBudget` from the effort's budget, with `includeThoughts` so the reasoning
//!   summary reaches the client; `none` → budget 0, which models that always think refuse).
//! - Dropped, as Gemini cannot express them: cache markers (Gemini caches through separate
//!   `cachedContents` resources), `parallel_tool_calls`, `user`. More than one candidate is
//!   refused: only one answer can be translated back.
//! - Image URLs become `fileData` with a MIME type guessed from the extension (JPEG when
//!   there is none); the URL must be one Gemini can read (File API, Cloud Storage on Vertex,
//!   public URLs where supported). Data URLs become `inlineData`.
//!
//! Decoding (Gemini → canonical) exists for round trips and mirrors the encoder. Calls
//! without an id get `call_gemini_<n>`; a `functionResponse` is paired with its call by id,
//! or else with the first unanswered call of that name (Gemini's own positional pairing).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::ids::{self, SKIP_SIGNATURE};
use crate::formats::fields::{FieldError, Fields};
use crate::model::{
    ContentPart, ImageSource, Message, Reasoning, ReasoningEffort, Request, ResponseFormat, Role,
    SystemPart, ToolChoice, ToolDefinition, ToolResultPart,
};

/// Gemini's temperature range is 0–2.
const MAX_TEMPERATURE: f64 = 2.0;
/// Gemini accepts at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 5;
/// Key of a tool's output in `functionResponse.response`.
const OUTPUT_KEY: &str = "output";
/// Key of a failed tool's error in `functionResponse.response`.
const ERROR_KEY: &str = "error";
/// Wraps arguments that are not a JSON object.
const RAW_ARGUMENTS_KEY: &str = "arguments";

// === encode ===

/// Encodes a canonical request as a `generateContent` body.
pub fn encode(request: &Request) -> Result<Value, FieldError> {
    if request.candidate_count.is_some_and(|n| n > 1) {
        return Err(FieldError::unsupported(
            "n",
            "greater than 1 is not supported by this provider",
        ));
    }
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(encode_contents(request)?));
    let system: Vec<Value> = request
        .system
        .iter()
        .filter(|p| !p.text.is_empty())
        .map(|p| json!({"text": p.text}))
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request.tools.iter().map(encode_tool).collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        if let Some(choice) = &request.tool_choice {
            body.insert(
                "toolConfig".into(),
                json!({"functionCallingConfig": encode_tool_choice(choice)}),
            );
        }
    }
    let config = generation_config(request);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(body))
}

fn generation_config(request: &Request) -> Map<String, Value> {
    let mut config = Map::new();
    if let Some(max) = request.max_output_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(temperature) = request.temperature {
        config.insert(
            "temperature".into(),
            json!(temperature.clamp(0.0, MAX_TEMPERATURE)),
        );
    }
    if let Some(top_p) = request.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if let Some(top_k) = request.top_k {
        config.insert("topK".into(), json!(top_k));
    }
    if !request.stop_sequences.is_empty() {
        let stop: Vec<&String> = request
            .stop_sequences
            .iter()
            .take(MAX_STOP_SEQUENCES)
            .collect();
        config.insert("stopSequences".into(), json!(stop));
    }
    if let Some(n) = request.candidate_count {
        config.insert("candidateCount".into(), json!(n));
    }
    match &request.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseJsonSchema".into(), schema.clone());
        }
    }
    match request.reasoning {
        None => {}
        Some(Reasoning::Disabled) => {
            config.insert("thinkingConfig".into(), json!({"thinkingBudget": 0}));
        }
        Some(reasoning) => {
            let budget = reasoning.budget_tokens().unwrap_or_default();
            config.insert(
                "thinkingConfig".into(),
                json!({"thinkingBudget": budget, "includeThoughts": true}),
            );
        }
    }
    config
}

fn encode_tool(tool: &ToolDefinition) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(tool.name));
    if let Some(description) = &tool.description {
        out.insert("description".into(), json!(description));
    }
    out.insert("parametersJsonSchema".into(), tool.parameters.clone());
    Value::Object(out)
}

fn encode_tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    }
}

/// Turns with something Gemini can take, merged so that roles alternate.
fn encode_contents(request: &Request) -> Result<Vec<Value>, FieldError> {
    let calls = known_calls(&request.messages);
    let mut turns: Vec<(Role, Vec<&ContentPart>)> = Vec::new();
    for message in &request.messages {
        let parts: Vec<&ContentPart> = message.content.iter().filter(|p| is_sent(p)).collect();
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((role, existing)) if *role == message.role => existing.extend(parts),
            _ => turns.push((message.role, parts)),
        }
    }
    turns
        .into_iter()
        .map(|(role, parts)| {
            let role = match role {
                Role::User => "user",
                Role::Assistant => "model",
            };
            Ok(json!({"role": role, "parts": encode_parts(&parts, &calls)?}))
        })
        .collect()
}

/// Whether a part produces anything for Gemini.
fn is_sent(part: &ContentPart) -> bool {
    match part {
        ContentPart::Text { text, .. } => !text.is_empty(),
        ContentPart::Thinking { text, signature } => {
            !text.is_empty() || signature.as_ref().is_some_and(|s| !s.is_empty())
        }
        ContentPart::RedactedThinking { .. } => false,
        ContentPart::Image { .. }
        | ContentPart::ToolCall { .. }
        | ContentPart::ToolResult { .. } => true,
    }
}

/// Call id → (position among the conversation's calls, function name), for the
/// `functionResponse` parts.
fn known_calls(messages: &[Message]) -> HashMap<&str, (usize, &str)> {
    messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|part| match part {
            ContentPart::ToolCall { id, name, .. } => Some((id.as_str(), name.as_str())),
            _ => None,
        })
        .enumerate()
        .map(|(position, (id, name))| (id, (position, name)))
        .collect()
}

/// One turn's parts. Function responses come first, in the order of their calls, then
/// everything else in order.
fn encode_parts(
    parts: &[&ContentPart],
    calls: &HashMap<&str, (usize, &str)>,
) -> Result<Vec<Value>, FieldError> {
    let mut responses: Vec<(usize, Value)> = Vec::new();
    let mut out = Vec::new();
    let mut signatures = Signatures::default();
    for part in parts {
        match part {
            ContentPart::Text { text, .. } => out.push(signatures.on(json!({"text": text}))),
            ContentPart::Image { source, .. } => out.push(signatures.on(image_part(source))),
            ContentPart::Thinking { text, signature } => {
                if !text.is_empty() {
                    out.push(json!({"text": text, "thought": true}));
                }
                if let Some(signature) = signature.as_deref().filter(|s| !s.is_empty()) {
                    out.extend(signatures.hold(signature));
                }
            }
            ContentPart::ToolCall {
                id,
                name,
                arguments,
            } => {
                let (_, packed) = ids::unpack(id);
                let signature = signatures.for_call(packed, &mut out);
                let mut call =
                    json!({"functionCall": {"name": name, "args": arguments_to_args(arguments)}});
                if let (Some(map), Some(signature)) = (call.as_object_mut(), signature) {
                    map.insert("thoughtSignature".into(), json!(signature));
                }
                out.push(call);
            }
            ContentPart::ToolResult {
                call_id,
                content,
                is_error,
                ..
            } => {
                let (position, name) = calls.get(call_id.as_str()).ok_or_else(|| {
                    FieldError::unsupported(
                        "messages",
                        "has a tool result whose tool call is not in the conversation; this provider needs the call to name the function",
                    )
                })?;
                let mut text = String::new();
                for item in content {
                    match item {
                        ToolResultPart::Text(t) => text.push_str(t),
                        ToolResultPart::Image(source) => out.push(image_part(source)),
                    }
                }
                let key = if *is_error { ERROR_KEY } else { OUTPUT_KEY };
                let response = json!({"functionResponse": {"name": name, "response": {key: text}}});
                responses.push((*position, response));
            }
            ContentPart::RedactedThinking { .. } => {}
        }
    }
    out.extend(signatures.release());
    responses.sort_by_key(|(position, _)| *position);
    Ok(responses
        .into_iter()
        .map(|(_, response)| response)
        .chain(out)
        .collect())
}

/// Where the thought signatures of a turn go.
#[derive(Default)]
struct Signatures {
    /// From a thinking part, for the next part.
    held: Option<String>,
    /// A function call was already placed in this turn.
    call_seen: bool,
}

impl Signatures {
    /// `part` with the held signature, if any.
    fn on(&mut self, mut part: Value) -> Value {
        if let (Some(map), Some(signature)) = (part.as_object_mut(), self.held.take()) {
            map.insert("thoughtSignature".into(), json!(signature));
        }
        part
    }

    /// Holds `signature` for the next part; returns a part for a signature already held
    /// that no part took.
    fn hold(&mut self, signature: &str) -> Option<Value> {
        let orphan = self.release();
        self.held = Some(signature.to_owned());
        orphan
    }

    /// A held signature nothing took, on an empty text part (as Gemini itself sends it at
    /// the end of a stream).
    fn release(&mut self) -> Option<Value> {
        self.held
            .take()
            .map(|signature| json!({"text": "", "thoughtSignature": signature}))
    }

    /// The signature of a call: the one packed in its id (a held one then goes on its own
    /// part, before the call), else the held one, else for the first call of the turn the
    /// placeholder.
    fn for_call(&mut self, packed: Option<String>, out: &mut Vec<Value>) -> Option<String> {
        let first = !self.call_seen;
        self.call_seen = true;
        match packed {
            Some(signature) => {
                out.extend(self.release());
                Some(signature)
            }
            None => self
                .held
                .take()
                .or_else(|| first.then(|| SKIP_SIGNATURE.to_owned())),
        }
    }
}

fn image_part(source: &ImageSource) -> Value {
    match source {
        ImageSource::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        ImageSource::Url(url) => {
            json!({"fileData": {"mimeType": guess_image_type(url), "fileUri": url}})
        }
    }
}

/// MIME type of an image URL from its extension; JPEG when it has none Gemini supports.
fn guess_image_type(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => "image/jpeg",
    }
}

/// Tool arguments as Gemini's `args` object.
fn arguments_to_args(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => json!({RAW_ARGUMENTS_KEY: arguments}),
    }
}

// === decode ===

/// Decodes a `generateContent` body. The model and streaming come from the URL, so they are
/// left empty and `false`.
pub fn decode(body: &Value) -> Result<Request, FieldError> {
    let root = Fields::new(body, "")?;
    let mut request = Request::default();
    if let Some(system) = root.object("systemInstruction")? {
        for (path, part) in system.items("parts")? {
            let part = Fields::new(part, path)?;
            request.system.push(SystemPart {
                text: part.required_str("text")?.to_owned(),
                cache_control: None,
            });
        }
    }
    if root.get("contents").is_none() {
        return Err(root.missing("contents"));
    }
    let mut calls = CallLedger::default();
    for (path, content) in root.items("contents")? {
        request
            .messages
            .push(decode_content(&Fields::new(content, path)?, &mut calls)?);
    }
    for (path, tool) in root.items("tools")? {
        let tool = Fields::new(tool, path.clone())?;
        if tool.get("functionDeclarations").is_none() {
            return Err(FieldError::unsupported(
                path,
                "must declare functions; other tools cannot be translated",
            ));
        }
        for (path, declaration) in tool.items("functionDeclarations")? {
            request
                .tools
                .push(decode_declaration(&Fields::new(declaration, path)?)?);
        }
    }
    if let Some(config) = root.object("toolConfig")? {
        if let Some(calling) = config.object("functionCallingConfig")? {
            request.tool_choice = decode_tool_choice(&calling)?;
        }
    }
    if let Some(config) = root.object("generationConfig")? {
        decode_generation_config(&config, &mut request)?;
    }
    Ok(request)
}

fn decode_generation_config(config: &Fields, request: &mut Request) -> Result<(), FieldError> {
    request.max_output_tokens = config.u64("maxOutputTokens")?;
    request.temperature = config.f64("temperature")?;
    request.top_p = config.f64("topP")?;
    request.top_k = config.u64("topK")?;
    request.candidate_count = config.u64("candidateCount")?;
    request.stop_sequences = config.strings("stopSequences")?;
    let schema = config
        .get("responseJsonSchema")
        .or_else(|| config.get("responseSchema"));
    request.response_format = match (config.str("responseMimeType")?, schema) {
        (Some("application/json"), Some(schema)) => Some(ResponseFormat::JsonSchema {
            name: "response".to_owned(),
            schema: schema.clone(),
            strict: None,
        }),
        (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
        _ => None,
    };
    if let Some(thinking) = config.object("thinkingConfig")? {
        let level = thinking.str("thinkingLevel")?;
        request.reasoning = match (
            thinking.get("thinkingBudget").and_then(Value::as_i64),
            level,
        ) {
            (Some(0), _) => Some(Reasoning::Disabled),
            (Some(budget), _) if budget > 0 => Some(Reasoning::Budget(budget.unsigned_abs())),
            (_, Some(level)) => Some(Reasoning::Effort(
                ReasoningEffort::parse(&level.to_ascii_lowercase()).ok_or_else(|| {
                    FieldError::unsupported(
                        thinking.path("thinkingLevel"),
                        "must be minimal, low, medium or high",
                    )
                })?,
            )),
            // -1 is Gemini's "dynamic" budget: the model decides.
            (Some(_), None) => Some(Reasoning::Effort(ReasoningEffort::Medium)),
            (None, None) => None,
        };
    }
    Ok(())
}

fn decode_declaration(declaration: &Fields) -> Result<ToolDefinition, FieldError> {
    Ok(ToolDefinition {
        name: declaration.required_str("name")?.to_owned(),
        description: declaration.str("description")?.map(str::to_owned),
        // Protobuf JSON also accepts snake_case names; google-genai sends this one so.
        parameters: declaration
            .get("parametersJsonSchema")
            .or_else(|| declaration.get("parameters_json_schema"))
            .or_else(|| declaration.get("parameters"))
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        strict: None,
        cache_control: None,
    })
}

fn decode_tool_choice(calling: &Fields) -> Result<Option<ToolChoice>, FieldError> {
    let allowed: Vec<&str> = calling
        .items("allowedFunctionNames")?
        .filter_map(|(_, name)| name.as_str())
        .collect();
    Ok(match calling.str("mode")? {
        None => None,
        Some("AUTO" | "VALIDATED") => Some(ToolChoice::Auto),
        Some("NONE") => Some(ToolChoice::None),
        Some("ANY") => Some(match allowed.as_slice() {
            [only] => ToolChoice::Tool((*only).to_owned()),
            _ => ToolChoice::Required,
        }),
        Some(_) => {
            return Err(FieldError::unsupported(
                calling.path("mode"),
                "must be AUTO, ANY, NONE or VALIDATED",
            ))
        }
    })
}

/// The calls of a conversation so far, for pairing `functionResponse` parts with them.
#[derive(Default)]
struct CallLedger {
    /// `(Gemini's id, name, canonical id, answered)` in order.
    calls: Vec<(Option<String>, String, String, bool)>,
}

impl CallLedger {
    fn call(&mut self, gemini_id: Option<&str>, name: &str, signature: Option<&str>) -> String {
        let base = match gemini_id.filter(|id| !id.is_empty()) {
            Some(id) => id.to_owned(),
            None => ids::synthesize("", self.calls.len()),
        };
        let id = ids::pack(&base, signature.filter(|s| *s != SKIP_SIGNATURE));
        let entry = (
            gemini_id.map(str::to_owned),
            name.to_owned(),
            id.clone(),
            false,
        );
        self.calls.push(entry);
        id
    }

    /// The canonical id of the call a response answers: by id, else the first unanswered
    /// call of that name.
    fn answer(&mut self, gemini_id: Option<&str>, name: &str) -> Option<String> {
        let by_id = gemini_id.and_then(|id| {
            self.calls
                .iter()
                .position(|(call_id, ..)| call_id.as_deref() == Some(id))
        });
        let at = by_id.or_else(|| {
            self.calls
                .iter()
                .position(|(_, call_name, _, answered)| !answered && call_name == name)
        })?;
        let entry = self.calls.get_mut(at)?;
        entry.3 = true;
        Some(entry.2.clone())
    }
}

fn decode_content(content: &Fields, calls: &mut CallLedger) -> Result<Message, FieldError> {
    let role = match content.str("role")? {
        None | Some("user" | "function") => Role::User,
        Some("model") => Role::Assistant,
        Some(_) => {
            return Err(FieldError::unsupported(
                content.path("role"),
                "must be 'user' or 'model'",
            ))
        }
    };
    let mut parts: Vec<ContentPart> = Vec::new();
    for (path, part) in content.items("parts")? {
        decode_part(&Fields::new(part, path.clone())?, &path, calls, &mut parts)?;
    }
    Ok(Message {
        role,
        content: parts,
    })
}

fn decode_part(
    part: &Fields,
    path: &str,
    calls: &mut CallLedger,
    out: &mut Vec<ContentPart>,
) -> Result<(), FieldError> {
    let signature = part.str("thoughtSignature")?;
    if let Some(call) = part.object("functionCall")? {
        let arguments = call
            .get("args")
            .map_or_else(|| "{}".to_owned(), Value::to_string);
        let name = call.required_str("name")?;
        let id = calls.call(call.str("id")?, name, signature);
        out.push(ContentPart::ToolCall {
            id,
            name: name.to_owned(),
            arguments,
        });
        return Ok(());
    }
    if part.bool("thought")? == Some(true) {
        out.push(ContentPart::Thinking {
            text: part.str("text")?.unwrap_or_default().to_owned(),
            signature: signature.map(str::to_owned),
        });
        return Ok(());
    }
    // A signature on any other part was held by the thinking before it (see `encode`).
    if let Some(signature) = signature.filter(|s| *s != SKIP_SIGNATURE) {
        match out.last_mut() {
            Some(ContentPart::Thinking {
                signature: slot @ None,
                ..
            }) => *slot = Some(signature.to_owned()),
            _ => out.push(ContentPart::Thinking {
                text: String::new(),
                signature: Some(signature.to_owned()),
            }),
        }
    }
    if let Some(text) = part.str("text")? {
        if !text.is_empty() {
            out.push(ContentPart::text(text));
        }
    } else if let Some(response) = part.object("functionResponse")? {
        out.push(decode_function_response(&response, calls)?);
    } else if let Some(inline) = part.object("inlineData")? {
        out.push(ContentPart::Image {
            source: ImageSource::Base64 {
                media_type: inline.required_str("mimeType")?.to_owned(),
                data: inline.required_str("data")?.to_owned(),
            },
            cache_control: None,
        });
    } else if let Some(file) = part.object("fileData")? {
        out.push(ContentPart::Image {
            source: ImageSource::Url(file.required_str("fileUri")?.to_owned()),
            cache_control: None,
        });
    } else {
        return Err(FieldError::unsupported(
            path,
            "must be text, inlineData, fileData, functionCall or functionResponse",
        ));
    }
    Ok(())
}

fn decode_function_response(
    response: &Fields,
    calls: &mut CallLedger,
) -> Result<ContentPart, FieldError> {
    let name = response.required_str("name")?;
    let call_id = calls.answer(response.str("id")?, name).ok_or_else(|| {
        FieldError::unsupported(response.path("name"), "answers no earlier functionCall")
    })?;
    let value = response.get("response").cloned().unwrap_or(Value::Null);
    let (text, is_error) = match (value.get(OUTPUT_KEY), value.get(ERROR_KEY)) {
        (Some(Value::String(output)), None) => (output.clone(), false),
        (None, Some(Value::String(error))) => (error.clone(), true),
        _ => (value.to_string(), false),
    };
    Ok(ContentPart::ToolResult {
        call_id,
        content: vec![ToolResultPart::Text(text)],
        is_error,
        cache_control: None,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
