//! Shared helpers for the integration tests.
//!
//! The reassemblers here read wire output with plain `serde_json::Value` code of their own,
//! independent of the crate's decoders, so a decoding bug cannot hide itself in the oracle.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use serde_json::Value;
use tollgate_core::eventstream::EventStreamParser;
use tollgate_core::formats::WireFormat;
use tollgate_core::sse::SseParser;
use tollgate_core::translate::ResponseTranslator;

/// A payload-only recording (one JSON event per line, SSE framing removed by the recorder)
/// framed again the way Cohere sends it: `event: <type>` and `data: <line>`.
pub fn frame_cohere_payloads(lines: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(lines).lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(line).expect("payload line is JSON");
        let name = event["type"].as_str().unwrap_or("message");
        out.extend_from_slice(format!("event: {name}\ndata: {line}\n\n").as_bytes());
    }
    out
}

/// A payload-only recording framed again the way Gemini sends it: `data: <line>` and CRLF
/// separators.
pub fn frame_gemini_payloads(lines: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(lines)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .flat_map(|line| format!("data: {line}\r\n\r\n").into_bytes())
        .collect()
}

/// Suffix of stream recordings and fixtures: Bedrock's event streams are binary `.bin`
/// files, the others SSE text.
pub fn stream_suffix(format: WireFormat) -> &'static str {
    match format {
        WireFormat::Bedrock => ".bin",
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere | WireFormat::Gemini => {
            ".sse"
        }
    }
}

/// Every wire format.
pub const FORMATS: [WireFormat; 5] = [
    WireFormat::OpenAi,
    WireFormat::Anthropic,
    WireFormat::Cohere,
    WireFormat::Gemini,
    WireFormat::Bedrock,
];

/// The shared fixtures' folders of recordings, with the format each speaks.
pub fn format_dirs(root: &std::path::Path) -> Vec<(WireFormat, PathBuf)> {
    [
        (WireFormat::OpenAi, "openai"),
        (WireFormat::OpenAi, "openai/compat"),
        (WireFormat::Anthropic, "anthropic"),
        (WireFormat::Cohere, "cohere"),
        (WireFormat::Gemini, "gemini"),
        (WireFormat::Bedrock, "bedrock"),
    ]
    .into_iter()
    .map(|(format, dir)| (format, root.join(dir)))
    .collect()
}

/// Every recorded provider stream under the shared fixtures, as the provider sent it:
/// `(format, path, body)`. Payload-only Cohere and Gemini recordings are framed again.
pub fn recorded_streams(root: &std::path::Path) -> Vec<(WireFormat, PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for (format, dir) in format_dirs(root) {
        for path in files(&dir, stream_suffix(format)) {
            let body = read(&path);
            out.push((format, path, body));
        }
    }
    for path in files(&root.join("cohere/payload-chunks"), ".chunks.jsonl") {
        let body = frame_cohere_payloads(&read(&path));
        out.push((WireFormat::Cohere, path, body));
    }
    for path in files(&root.join("gemini/payload-chunks"), ".chunks.jsonl") {
        let body = frame_gemini_payloads(&read(&path));
        out.push((WireFormat::Gemini, path, body));
    }
    out
}

/// The shared recorded fixtures, when present.
pub fn shared_fixtures() -> Option<PathBuf> {
    let dir = match std::env::var_os("TOLLGATE_SHARED_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: shared fixtures not found at {}", dir.display());
        None
    }
}

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Files in `dir` whose name ends with `suffix`, sorted.
pub fn files(dir: &std::path::Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Settings of one response translation.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub client: WireFormat,
    pub provider: WireFormat,
    pub stream: bool,
    pub wants_usage: bool,
    pub status: u16,
}

impl Run {
    pub fn stream(client: WireFormat, provider: WireFormat, wants_usage: bool) -> Run {
        Run {
            client,
            provider,
            stream: true,
            wants_usage,
            status: 200,
        }
    }

    pub fn body(client: WireFormat, provider: WireFormat, status: u16) -> Run {
        Run {
            client,
            provider,
            stream: false,
            wants_usage: false,
            status,
        }
    }

    pub fn translator(&self) -> ResponseTranslator {
        ResponseTranslator::new(
            self.client,
            self.provider,
            self.stream,
            self.wants_usage,
            self.status,
        )
        .with_created(1_700_000_000)
        .with_model("upstream-model")
    }

    /// Feeds `pieces` in order (the last one with end of stream) and returns the output.
    pub fn feed<'a>(
        &self,
        pieces: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<u8>, ResponseTranslator) {
        let mut translator = self.translator();
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = pieces.into_iter().collect();
        let last = pieces.len().saturating_sub(1);
        for (i, piece) in pieces.iter().enumerate() {
            out.extend(translator.feed(piece, i == last));
        }
        if pieces.is_empty() {
            out.extend(translator.feed(&[], true));
        }
        (out, translator)
    }

    pub fn one_shot(&self, body: &[u8]) -> (Vec<u8>, ResponseTranslator) {
        self.feed([body])
    }
}

/// `(event name, data)` of every data-carrying SSE event.
pub fn sse_events(bytes: &[u8]) -> Vec<(Option<String>, String)> {
    let mut parser = SseParser::new(usize::MAX);
    let mut events = Vec::new();
    parser.push(bytes, &mut events).expect("parse output");
    parser.finish(&mut events).expect("finish output");
    events
        .into_iter()
        .filter_map(|e| Some((e.event, e.data?)))
        .collect()
}

/// Output events with their JSON parsed (`[DONE]` as the string "[DONE]"), for structural
/// comparison.
pub fn sse_json(bytes: &[u8]) -> Vec<(Option<String>, Value)> {
    sse_events(bytes)
        .into_iter()
        .map(|(name, data)| {
            let value = serde_json::from_str(&data).unwrap_or(Value::String(data.trim().into()));
            (name, value)
        })
        .collect()
}

/// What a client would assemble from a response.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Assembled {
    pub text: String,
    pub thinking: String,
    pub signatures: Vec<String>,
    /// `(id, name, arguments)` of client tool calls, in order.
    pub tool_calls: Vec<(String, String, String)>,
    pub stop: Option<String>,
    pub usage: Option<Value>,
    pub error: Option<Value>,
    /// The stream ended with its proper terminator (`[DONE]` / `message_stop`).
    pub terminated: bool,
}

impl Assembled {
    /// Tool calls without ids (ids may be rewritten between formats).
    pub fn calls(&self) -> Vec<(String, String)> {
        self.tool_calls
            .iter()
            .map(|(_, name, args)| (name.clone(), args.clone()))
            .collect()
    }
}

pub fn assemble_stream(format: WireFormat, bytes: &[u8]) -> Assembled {
    match format {
        WireFormat::OpenAi => assemble_openai_stream(bytes),
        WireFormat::Anthropic => assemble_anthropic_stream(bytes),
        WireFormat::Cohere => assemble_cohere_stream(bytes),
        WireFormat::Gemini => assemble_gemini_stream(bytes),
        WireFormat::Bedrock => assemble_bedrock_stream(bytes),
    }
}

pub fn assemble_body(format: WireFormat, bytes: &[u8]) -> Assembled {
    let body: Value = serde_json::from_slice(bytes).expect("response body is JSON");
    match format {
        WireFormat::OpenAi => assemble_openai_body(&body),
        WireFormat::Anthropic => assemble_anthropic_body(&body),
        WireFormat::Cohere => assemble_cohere_body(&body),
        WireFormat::Gemini => assemble_gemini_body(&body),
        WireFormat::Bedrock => assemble_bedrock_body(&body),
    }
}

fn text_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

pub fn assemble_openai_stream(bytes: &[u8]) -> Assembled {
    let mut out = Assembled::default();
    // OpenAI tool-call index -> position in out.tool_calls
    let mut slots: Vec<(u64, usize)> = Vec::new();
    for (name, data) in sse_events(bytes) {
        if data.trim() == "[DONE]" {
            out.terminated = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(&data).expect("chunk is JSON");
        if name.as_deref() == Some("error") || chunk.get("error").is_some() {
            out.error = Some(chunk.get("error").cloned().unwrap_or(chunk.clone()));
        }
        if chunk.get("usage").is_some_and(|u| u.is_object()) {
            out.usage = chunk.get("usage").cloned();
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            let delta = &choice["delta"];
            out.text.push_str(text_of(&delta["content"]));
            out.text.push_str(text_of(&delta["refusal"]));
            let reasoning = if delta["reasoning_content"].is_string() {
                &delta["reasoning_content"]
            } else {
                &delta["reasoning"]
            };
            out.thinking.push_str(text_of(reasoning));
            collect_signatures(&delta["thinking_blocks"], &mut out.signatures);
            for (position, call) in delta["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let index = call["index"].as_u64().unwrap_or(position as u64);
                let id = text_of(&call["id"]);
                let known = slots
                    .iter()
                    .rev()
                    .find(|(i, slot)| {
                        *i == index && (id.is_empty() || out.tool_calls[*slot].0 == id)
                    })
                    .map(|(_, slot)| *slot);
                let slot = match known {
                    Some(slot) => slot,
                    None => {
                        out.tool_calls.push((
                            id.to_owned(),
                            text_of(&call["function"]["name"]).to_owned(),
                            String::new(),
                        ));
                        slots.push((index, out.tool_calls.len() - 1));
                        out.tool_calls.len() - 1
                    }
                };
                out.tool_calls[slot]
                    .2
                    .push_str(text_of(&call["function"]["arguments"]));
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                out.stop = Some(reason.to_owned());
            }
        }
    }
    out
}

pub fn assemble_anthropic_stream(bytes: &[u8]) -> Assembled {
    let mut out = Assembled::default();
    // Anthropic block index -> (kind, position in tool_calls)
    let mut blocks: Vec<(u64, String, Option<usize>)> = Vec::new();
    let mut usage = serde_json::Map::new();
    for (_, data) in sse_events(bytes) {
        let event: Value = serde_json::from_str(&data).expect("event is JSON");
        let index = event["index"].as_u64();
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => {
                if let Some(u) = event["message"]["usage"].as_object() {
                    usage.extend(u.clone());
                }
            }
            "content_block_start" => {
                let block = &event["content_block"];
                let kind = text_of(&block["type"]).to_owned();
                let mut slot = None;
                match kind.as_str() {
                    "tool_use" => {
                        out.tool_calls.push((
                            text_of(&block["id"]).to_owned(),
                            text_of(&block["name"]).to_owned(),
                            String::new(),
                        ));
                        slot = Some(out.tool_calls.len() - 1);
                    }
                    "text" => out.text.push_str(text_of(&block["text"])),
                    "thinking" => out.thinking.push_str(text_of(&block["thinking"])),
                    "redacted_thinking" => out.signatures.push(text_of(&block["data"]).to_owned()),
                    _ => {}
                }
                blocks.push((index.unwrap_or(u64::MAX), kind, slot));
            }
            "content_block_delta" => {
                let Some((_, kind, slot)) = blocks.iter().rev().find(|b| Some(b.0) == index) else {
                    panic!("delta for unknown block {index:?}");
                };
                let delta = &event["delta"];
                match (kind.as_str(), delta["type"].as_str().unwrap_or_default()) {
                    ("text", "text_delta") => out.text.push_str(text_of(&delta["text"])),
                    ("thinking", "thinking_delta") => {
                        out.thinking.push_str(text_of(&delta["thinking"]))
                    }
                    ("thinking", "signature_delta") => {
                        out.signatures.push(text_of(&delta["signature"]).to_owned())
                    }
                    ("tool_use", "input_json_delta") => {
                        if let Some(slot) = slot {
                            out.tool_calls[*slot]
                                .2
                                .push_str(text_of(&delta["partial_json"]));
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                    out.stop = Some(reason.to_owned());
                }
                if let Some(u) = event["usage"].as_object() {
                    usage.extend(u.clone());
                }
            }
            "message_stop" => out.terminated = true,
            "error" => out.error = Some(event["error"].clone()),
            _ => {}
        }
    }
    if !usage.is_empty() {
        out.usage = Some(Value::Object(usage));
    }
    out
}

/// `(event or exception type, payload JSON)` of every event-stream message.
pub fn bedrock_messages(bytes: &[u8]) -> Vec<(String, bool, Value)> {
    let mut parser = EventStreamParser::new(usize::MAX);
    let mut messages = Vec::new();
    parser
        .push(bytes, &mut messages)
        .expect("parse event stream");
    messages
        .into_iter()
        .map(|m| {
            let exception = m.header_str(":message-type") == Some("exception");
            let kind = m
                .header_str(if exception {
                    ":exception-type"
                } else {
                    ":event-type"
                })
                .unwrap_or_default()
                .to_owned();
            let payload = serde_json::from_slice(&m.payload).expect("payload is JSON");
            (kind, exception, payload)
        })
        .collect()
}

pub fn assemble_bedrock_stream(bytes: &[u8]) -> Assembled {
    let mut out = Assembled::default();
    // contentBlockIndex -> position in out.tool_calls
    let mut slots: Vec<(u64, usize)> = Vec::new();
    for (kind, exception, payload) in bedrock_messages(bytes) {
        if exception {
            out.error = Some(payload);
            continue;
        }
        let index = payload["contentBlockIndex"].as_u64().unwrap_or(u64::MAX);
        match kind.as_str() {
            "contentBlockStart" => {
                let tool = &payload["start"]["toolUse"];
                out.tool_calls.push((
                    text_of(&tool["toolUseId"]).to_owned(),
                    text_of(&tool["name"]).to_owned(),
                    String::new(),
                ));
                slots.push((index, out.tool_calls.len() - 1));
            }
            "contentBlockDelta" => {
                let delta = &payload["delta"];
                out.text.push_str(text_of(&delta["text"]));
                let reasoning = &delta["reasoningContent"];
                out.thinking.push_str(text_of(&reasoning["text"]));
                for key in ["signature", "redactedContent"] {
                    if let Some(s) = reasoning[key].as_str() {
                        out.signatures.push(s.to_owned());
                    }
                }
                if let Some(input) = delta["toolUse"]["input"].as_str() {
                    let slot = slots.iter().rev().find(|(i, _)| *i == index);
                    let (_, slot) = slot.expect("tool delta after its start");
                    out.tool_calls[*slot].2.push_str(input);
                }
            }
            "messageStop" => out.stop = payload["stopReason"].as_str().map(str::to_owned),
            "metadata" => {
                out.usage = payload.get("usage").cloned();
                out.terminated = true;
            }
            _ => {}
        }
    }
    out
}

/// A Cohere v2 stream. The tool plan is the text that accompanies tool calls, so it counts
/// as text; `finish_reason` `ERROR`/`TIMEOUT` on `message-end` is an error.
pub fn assemble_cohere_stream(bytes: &[u8]) -> Assembled {
    let mut out = Assembled::default();
    // Cohere tool-call index -> position in tool_calls
    let mut slots: Vec<(u64, usize)> = Vec::new();
    for (_, data) in sse_events(bytes) {
        if data.trim() == "[DONE]" {
            out.terminated = true;
            continue;
        }
        let event: Value = serde_json::from_str(&data).expect("event is JSON");
        let message = &event["delta"]["message"];
        let index = event["index"].as_u64();
        match event["type"].as_str().unwrap_or_default() {
            "content-start" | "content-delta" => {
                out.text.push_str(text_of(&message["content"]["text"]));
                out.thinking
                    .push_str(text_of(&message["content"]["thinking"]));
            }
            "tool-plan-delta" => out.text.push_str(text_of(&message["tool_plan"])),
            "tool-call-start" => {
                let call = &message["tool_calls"];
                out.tool_calls.push((
                    text_of(&call["id"]).to_owned(),
                    text_of(&call["function"]["name"]).to_owned(),
                    text_of(&call["function"]["arguments"]).to_owned(),
                ));
                slots.push((index.unwrap_or(u64::MAX), out.tool_calls.len() - 1));
            }
            "tool-call-delta" => {
                let slot = slots.iter().rev().find(|(i, _)| Some(*i) == index);
                let Some(&(_, slot)) = slot else {
                    panic!("arguments for unknown tool call {index:?}");
                };
                out.tool_calls[slot]
                    .2
                    .push_str(text_of(&message["tool_calls"]["function"]["arguments"]));
            }
            "message-end" => {
                let delta = &event["delta"];
                let reason = text_of(&delta["finish_reason"]).to_owned();
                if reason == "ERROR" || reason == "TIMEOUT" {
                    out.error = Some(delta.clone());
                } else {
                    out.stop = Some(reason);
                }
                out.usage = delta.get("usage").cloned();
            }
            _ => {}
        }
    }
    out
}

pub fn assemble_bedrock_body(body: &Value) -> Assembled {
    let mut out = Assembled {
        terminated: true,
        ..Assembled::default()
    };
    if body.get("output").is_none() {
        out.error = Some(body.clone());
        return out;
    }
    for block in body["output"]["message"]["content"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.text.push_str(text_of(&block["text"]));
        let reasoning = &block["reasoningContent"];
        out.thinking
            .push_str(text_of(&reasoning["reasoningText"]["text"]));
        if let Some(s) = reasoning["reasoningText"]["signature"].as_str() {
            out.signatures.push(s.to_owned());
        }
        if let Some(s) = reasoning["redactedContent"].as_str() {
            out.signatures.push(s.to_owned());
        }
        if let Some(tool) = block.get("toolUse") {
            out.tool_calls.push((
                text_of(&tool["toolUseId"]).to_owned(),
                text_of(&tool["name"]).to_owned(),
                tool["input"].to_string(),
            ));
        }
    }
    out.stop = body["stopReason"].as_str().map(str::to_owned);
    out.usage = body.get("usage").cloned();
    out
}

pub fn assemble_cohere_body(body: &Value) -> Assembled {
    let mut out = Assembled {
        terminated: true,
        ..Assembled::default()
    };
    let message = &body["message"];
    if message.is_string() || body.get("finish_reason").is_none() {
        out.error = Some(body.clone());
        return out;
    }
    for block in message["content"].as_array().into_iter().flatten() {
        match text_of(&block["type"]) {
            "text" => out.text.push_str(text_of(&block["text"])),
            "thinking" => out.thinking.push_str(text_of(&block["thinking"])),
            _ => {}
        }
    }
    out.text.push_str(text_of(&message["tool_plan"]));
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        out.tool_calls.push((
            text_of(&call["id"]).to_owned(),
            text_of(&call["function"]["name"]).to_owned(),
            text_of(&call["function"]["arguments"]).to_owned(),
        ));
    }
    out.stop = body["finish_reason"].as_str().map(str::to_owned);
    out.usage = body.get("usage").cloned();
    out
}

/// Normalised usage from a Bedrock usage object (input already excludes cache).
pub fn bedrock_usage_numbers(usage: &Value) -> [Option<u64>; 5] {
    let either = |a: &str, b: &str| usage[a].as_u64().or(usage[b].as_u64());
    [
        usage["inputTokens"].as_u64(),
        either("cacheReadInputTokens", "cacheReadInputTokenCount"),
        either("cacheWriteInputTokens", "cacheWriteInputTokenCount"),
        usage["outputTokens"].as_u64(),
        None,
    ]
}

/// Signatures of `thinking_blocks` entries (the data of redacted ones).
fn collect_signatures(blocks: &Value, out: &mut Vec<String>) {
    for block in blocks.as_array().into_iter().flatten() {
        if let Some(sig) = block["signature"].as_str().or(block["data"].as_str()) {
            out.push(sig.to_owned());
        }
    }
}

pub fn assemble_openai_body(body: &Value) -> Assembled {
    let mut out = Assembled {
        terminated: true,
        ..Assembled::default()
    };
    if body.get("error").is_some() && body.get("choices").is_none() {
        out.error = Some(body["error"].clone());
        return out;
    }
    let message = &body["choices"][0]["message"];
    match &message["content"] {
        Value::String(s) => out.text.push_str(s),
        Value::Array(parts) => parts
            .iter()
            .for_each(|p| out.text.push_str(text_of(&p["text"]))),
        _ => {}
    }
    out.text.push_str(text_of(&message["refusal"]));
    out.thinking
        .push_str(text_of(&message["reasoning_content"]));
    collect_signatures(&message["thinking_blocks"], &mut out.signatures);
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let args = match &call["function"]["arguments"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.tool_calls.push((
            text_of(&call["id"]).to_owned(),
            text_of(&call["function"]["name"]).to_owned(),
            args,
        ));
    }
    out.stop = body["choices"][0]["finish_reason"]
        .as_str()
        .map(str::to_owned);
    out.usage = body.get("usage").cloned();
    out
}

pub fn assemble_anthropic_body(body: &Value) -> Assembled {
    let mut out = Assembled {
        terminated: true,
        ..Assembled::default()
    };
    if body["type"] == "error" {
        out.error = Some(body["error"].clone());
        return out;
    }
    for block in body["content"].as_array().into_iter().flatten() {
        match text_of(&block["type"]) {
            "text" => out.text.push_str(text_of(&block["text"])),
            "thinking" => {
                out.thinking.push_str(text_of(&block["thinking"]));
                out.signatures.push(text_of(&block["signature"]).to_owned());
            }
            "redacted_thinking" => out.signatures.push(text_of(&block["data"]).to_owned()),
            "tool_use" => out.tool_calls.push((
                text_of(&block["id"]).to_owned(),
                text_of(&block["name"]).to_owned(),
                block["input"].to_string(),
            )),
            _ => {}
        }
    }
    out.stop = body["stop_reason"].as_str().map(str::to_owned);
    out.usage = body.get("usage").cloned();
    out
}

/// Normalised usage `(input excl. cache, cache read, cache write, output, reasoning)` read
/// from an OpenAI usage object.
pub fn openai_usage_numbers(usage: &Value) -> [Option<u64>; 5] {
    let prompt = usage["prompt_tokens"].as_u64();
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .or(usage["prompt_cache_hit_tokens"].as_u64());
    let write = usage["prompt_tokens_details"]["cache_write_tokens"].as_u64();
    let completion = usage["completion_tokens"].as_u64();
    let reasoning = usage["completion_tokens_details"]["reasoning_tokens"].as_u64();
    // Thinking that only the total counts (Gemini's OpenAI-compatible endpoint).
    let hidden = match (usage["total_tokens"].as_u64(), prompt, completion) {
        (Some(t), Some(p), Some(c)) if t > p + c => Some(t - p - c),
        _ => None,
    };
    [
        prompt.map(|p| p - cached.unwrap_or(0) - write.unwrap_or(0)),
        cached,
        write,
        completion.map(|c| c + hidden.unwrap_or(0)),
        reasoning.or(hidden),
    ]
}

/// The same from a Cohere usage object: `tokens` preferred per counter over
/// `billed_units`; `cached_tokens` is inside `tokens.input_tokens`.
pub fn cohere_usage_numbers(usage: &Value) -> [Option<u64>; 5] {
    let cached = usage["cached_tokens"].as_u64();
    let input = match usage["tokens"]["input_tokens"].as_u64() {
        Some(all) => Some(all - cached.unwrap_or(0)),
        None => usage["billed_units"]["input_tokens"].as_u64(),
    };
    let output = usage["tokens"]["output_tokens"]
        .as_u64()
        .or(usage["billed_units"]["output_tokens"].as_u64());
    [input, cached, None, output, None]
}

/// The same from an Anthropic usage object (summing compaction iterations).
pub fn anthropic_usage_numbers(usage: &Value) -> [Option<u64>; 5] {
    let read = |u: &Value| {
        [
            u["input_tokens"].as_u64(),
            u["cache_read_input_tokens"].as_u64(),
            u["cache_creation_input_tokens"].as_u64(),
            u["output_tokens"].as_u64(),
            None,
        ]
    };
    match usage["iterations"].as_array().filter(|i| !i.is_empty()) {
        Some(iterations) => iterations.iter().map(read).fold([None; 5], |acc, it| {
            let mut sum = acc;
            for k in 0..5 {
                sum[k] = match (acc[k], it[k]) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
                };
            }
            sum
        }),
        None => read(usage),
    }
}

/// Gemini streams have no end marker: a stream is complete when a chunk gave a finish
/// reason and no error followed. Usage is cumulative, so the last report is the usage.
pub fn assemble_gemini_stream(bytes: &[u8]) -> Assembled {
    let mut out = Assembled::default();
    for (_, data) in sse_events(bytes) {
        let chunk: Value = serde_json::from_str(&data).expect("chunk is JSON");
        add_gemini_response(&chunk, &mut out);
    }
    out.terminated = out.stop.is_some() && out.error.is_none();
    out
}

pub fn assemble_gemini_body(body: &Value) -> Assembled {
    let mut out = Assembled {
        terminated: true,
        ..Assembled::default()
    };
    add_gemini_response(body, &mut out);
    out
}

/// Adds one `GenerateContentResponse` (first candidate only). Gemini pairs calls with
/// responses by name and usually gives no id, so a call's "id" here is its `id` or, without
/// one, its name.
fn add_gemini_response(response: &Value, out: &mut Assembled) {
    if let Some(error) = response.get("error") {
        out.error = Some(error.clone());
        return;
    }
    if response["usageMetadata"]["promptTokenCount"].is_u64() {
        out.usage = Some(response["usageMetadata"].clone());
    }
    if let Some(reason) = response["promptFeedback"]["blockReason"].as_str() {
        out.stop = Some(reason.to_owned());
    }
    let candidate = &response["candidates"][0];
    for part in candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(signature) = part["thoughtSignature"].as_str() {
            out.signatures.push(signature.to_owned());
        }
        let call = &part["functionCall"];
        if call.is_object() {
            let name = text_of(&call["name"]).to_owned();
            let id = call["id"]
                .as_str()
                .map_or_else(|| name.clone(), str::to_owned);
            out.tool_calls.push((id, name, call["args"].to_string()));
        } else if part["thought"] == true {
            out.thinking.push_str(text_of(&part["text"]));
        } else {
            out.text.push_str(text_of(&part["text"]));
        }
    }
    if let Some(reason) = candidate["finishReason"].as_str() {
        out.stop = Some(reason.to_owned());
    }
}

/// Normalised usage read from a Gemini `usageMetadata`: the prompt count includes cached
/// tokens, thoughts are outside the candidates count, and omitted counts are zeros.
pub fn gemini_usage_numbers(usage: &Value) -> [Option<u64>; 5] {
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    let cached = count("cachedContentTokenCount");
    let thoughts = count("thoughtsTokenCount");
    [
        Some(count("promptTokenCount") + count("toolUsePromptTokenCount") - cached),
        Some(cached),
        None,
        Some(count("candidatesTokenCount") + thoughts),
        Some(thoughts),
    ]
}
