//! Dispatch on [`WireFormat`]: the one place that lists every format. Adding a format means
//! adding its module and one arm to each function here; the other formats stay untouched.

use serde_json::Value;

use super::fields::FieldError;
use super::path::PathContext;
use super::tool_names::ToolNameMap;
use super::{anthropic, bedrock, cohere, gemini, openai, WireFormat};
use crate::framing::{Frame, Framing};
use crate::model::{
    ApiError, EmbeddingsRequest, EmbeddingsResponse, Request, Response, StreamEvent,
};
use crate::translate::ProviderTarget;

/// Path (and query) of the chat endpoint below a provider's base path.
pub fn endpoint_path(format: WireFormat, context: &PathContext) -> String {
    match format {
        WireFormat::OpenAi => openai::endpoint_path(context),
        WireFormat::Anthropic => anthropic::MESSAGES_PATH.to_owned(),
        WireFormat::Cohere => cohere::CHAT_PATH.to_owned(),
        WireFormat::Gemini => gemini::endpoint_path(context),
        WireFormat::Bedrock => bedrock::endpoint_path(context),
    }
}

/// How the format frames a streamed answer.
pub fn stream_framing(format: WireFormat) -> Framing {
    match format {
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere | WireFormat::Gemini => {
            Framing::Sse
        }
        WireFormat::Bedrock => Framing::EventStream,
    }
}

/// Tool names the format rewrites in `request`, to give the answer's tool calls their
/// client names back.
pub fn tool_names(format: WireFormat, request: &Request) -> ToolNameMap {
    match format {
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere | WireFormat::Gemini => {
            ToolNameMap::default()
        }
        WireFormat::Bedrock => {
            ToolNameMap::for_request(request, |name| bedrock::tool_name(name).into_owned())
        }
    }
}

/// Response header that carries the error type of an HTTP error, for formats whose error
/// bodies do not.
pub fn error_type_header(format: WireFormat) -> Option<&'static str> {
    match format {
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere | WireFormat::Gemini => {
            None
        }
        WireFormat::Bedrock => Some(bedrock::ERROR_TYPE_HEADER),
    }
}

/// Headers the provider needs besides authentication.
pub fn upstream_headers(format: WireFormat) -> Vec<(&'static str, String)> {
    match format {
        WireFormat::OpenAi => openai::upstream_headers(),
        WireFormat::Anthropic => anthropic::upstream_headers(),
        WireFormat::Cohere => cohere::upstream_headers(),
        WireFormat::Gemini => gemini::upstream_headers(),
        WireFormat::Bedrock => bedrock::upstream_headers(),
    }
}

pub fn decode_request(format: WireFormat, body: &Value) -> Result<Request, FieldError> {
    match format {
        WireFormat::OpenAi => openai::request::decode(body),
        WireFormat::Anthropic => anthropic::request::decode(body),
        WireFormat::Cohere => cohere::request::decode(body),
        WireFormat::Gemini => gemini::request::decode(body),
        WireFormat::Bedrock => bedrock::request::decode(body),
    }
}

pub fn encode_request(
    format: WireFormat,
    request: &Request,
    model: &str,
) -> Result<Value, FieldError> {
    match format {
        WireFormat::OpenAi => Ok(openai::request::encode(request, model)),
        WireFormat::Anthropic => anthropic::request::encode(request, model),
        WireFormat::Cohere => cohere::request::encode(request, model),
        // The model is part of the path (`endpoint_path`).
        WireFormat::Gemini => gemini::request::encode(request),
        WireFormat::Bedrock => bedrock::request::encode(request, model),
    }
}

/// Same-format request: rewrite what must change and keep everything else.
pub fn prepare_passthrough(format: WireFormat, body: &mut Value, model: &str, stream: bool) {
    match format {
        WireFormat::OpenAi => openai::request::prepare_passthrough(body, model, stream),
        WireFormat::Anthropic => anthropic::request::prepare_passthrough(body, model),
        WireFormat::Cohere => cohere::request::prepare_passthrough(body, model),
        // Model and streaming are in the path; the body names neither.
        WireFormat::Gemini | WireFormat::Bedrock => {}
    }
}

pub fn decode_response(format: WireFormat, body: &[u8]) -> Result<Response, ApiError> {
    match format {
        WireFormat::OpenAi => openai::response::decode(body),
        WireFormat::Anthropic => anthropic::response::decode(body),
        WireFormat::Cohere => cohere::response::decode(body),
        WireFormat::Gemini => gemini::response::decode(body),
        WireFormat::Bedrock => bedrock::response::decode(body),
    }
}

/// `created` is used by formats that need a timestamp the provider did not give.
pub fn encode_response(format: WireFormat, response: &Response, created: u64) -> Value {
    match format {
        WireFormat::OpenAi => openai::response::encode(response, created),
        WireFormat::Anthropic => anthropic::response::encode(response),
        WireFormat::Cohere => cohere::response::encode(response),
        WireFormat::Gemini => gemini::response::encode(response),
        WireFormat::Bedrock => bedrock::response::encode(response),
    }
}

/// Decodes an HTTP error body. `error_type`: the [`error_type_header`], when the host has it.
pub fn decode_error(
    format: WireFormat,
    body: &[u8],
    status: u16,
    error_type: Option<&str>,
) -> ApiError {
    match format {
        WireFormat::OpenAi => openai::error::decode(body, status),
        WireFormat::Anthropic => anthropic::error::decode(body, status),
        WireFormat::Cohere => cohere::error::decode(body, status),
        WireFormat::Gemini => gemini::error::decode(body, status),
        WireFormat::Bedrock => bedrock::error::decode(body, status, error_type),
    }
}

/// An error as an HTTP error body.
pub fn encode_error(format: WireFormat, err: &ApiError) -> Value {
    match format {
        WireFormat::OpenAi => openai::error::encode(err),
        WireFormat::Anthropic => anthropic::error::encode(err),
        WireFormat::Cohere => cohere::error::encode(err),
        WireFormat::Gemini => gemini::error::encode(err),
        WireFormat::Bedrock => bedrock::error::encode(err),
    }
}

/// An error as the stream event that ends a client stream.
pub fn stream_error(format: WireFormat, err: &ApiError) -> Vec<u8> {
    let mut out = Vec::new();
    StreamEncoder::new(format, false, 0).encode(&StreamEvent::Error(err.clone()), &mut out);
    out
}

/// A provider stream decoder.
#[derive(Debug)]
pub enum StreamDecoder {
    OpenAi(openai::stream::ChunkDecoder),
    Anthropic(anthropic::stream::EventDecoder),
    Cohere(cohere::stream::EventDecoder),
    Gemini(gemini::stream::ChunkDecoder),
    Bedrock(bedrock::stream::MessageDecoder),
}

impl StreamDecoder {
    pub fn new(format: WireFormat) -> StreamDecoder {
        match format {
            WireFormat::OpenAi => StreamDecoder::OpenAi(openai::stream::ChunkDecoder::new()),
            WireFormat::Anthropic => {
                StreamDecoder::Anthropic(anthropic::stream::EventDecoder::new())
            }
            WireFormat::Cohere => StreamDecoder::Cohere(cohere::stream::EventDecoder::new()),
            WireFormat::Gemini => StreamDecoder::Gemini(gemini::stream::ChunkDecoder::new()),
            WireFormat::Bedrock => StreamDecoder::Bedrock(bedrock::stream::MessageDecoder::new()),
        }
    }

    /// Decodes one frame of the format's [`stream_framing`].
    pub fn on_frame(&mut self, frame: &Frame, out: &mut Vec<StreamEvent>) {
        match (self, frame) {
            (StreamDecoder::OpenAi(d), Frame::Sse(event)) => d.on_event(event, out),
            (StreamDecoder::Anthropic(d), Frame::Sse(event)) => d.on_event(event, out),
            (StreamDecoder::Cohere(d), Frame::Sse(event)) => d.on_event(event, out),
            (StreamDecoder::Gemini(d), Frame::Sse(event)) => d.on_event(event, out),
            (StreamDecoder::Bedrock(d), Frame::EventStream(message)) => d.on_message(message, out),
            // The translator parses with the decoder's own framing, so this cannot happen.
            (
                StreamDecoder::OpenAi(_)
                | StreamDecoder::Anthropic(_)
                | StreamDecoder::Cohere(_)
                | StreamDecoder::Gemini(_)
                | StreamDecoder::Bedrock(_),
                _,
            ) => out.push(StreamEvent::Error(ApiError::bad_upstream(
                "a stream frame of another framing reached the decoder",
            ))),
        }
    }

    /// The provider body ended. Emits `End` when the stream completed without its final
    /// marker, nothing when it was cut short.
    pub fn on_end(&mut self, out: &mut Vec<StreamEvent>) {
        match self {
            StreamDecoder::OpenAi(d) => d.on_end(out),
            StreamDecoder::Anthropic(d) => d.on_end(out),
            StreamDecoder::Cohere(d) => d.on_end(out),
            StreamDecoder::Gemini(d) => d.on_end(out),
            StreamDecoder::Bedrock(d) => d.on_end(out),
        }
    }
}

/// A client stream encoder.
#[derive(Debug)]
pub enum StreamEncoder {
    OpenAi(openai::stream::ChunkEncoder),
    Anthropic(anthropic::stream::EventEncoder),
    Cohere(cohere::stream::EventEncoder),
    Gemini(gemini::stream::ChunkEncoder),
    Bedrock(bedrock::stream::FrameEncoder),
}

impl StreamEncoder {
    /// `include_usage`: an OpenAI client asked for the usage chunk. `created`: timestamp for
    /// formats that need one the provider did not give.
    pub fn new(format: WireFormat, include_usage: bool, created: u64) -> StreamEncoder {
        match format {
            WireFormat::OpenAi => {
                StreamEncoder::OpenAi(openai::stream::ChunkEncoder::new(include_usage, created))
            }
            WireFormat::Anthropic => {
                StreamEncoder::Anthropic(anthropic::stream::EventEncoder::new())
            }
            WireFormat::Cohere => StreamEncoder::Cohere(cohere::stream::EventEncoder::new()),
            WireFormat::Gemini => StreamEncoder::Gemini(gemini::stream::ChunkEncoder::new()),
            WireFormat::Bedrock => StreamEncoder::Bedrock(bedrock::stream::FrameEncoder::new()),
        }
    }

    pub fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match self {
            StreamEncoder::OpenAi(e) => e.encode(event, out),
            StreamEncoder::Anthropic(e) => e.encode(event, out),
            StreamEncoder::Cohere(e) => e.encode(event, out),
            StreamEncoder::Gemini(e) => e.encode(event, out),
            StreamEncoder::Bedrock(e) => e.encode(event, out),
        }
    }
}

// === embeddings ===
// Formats without an embeddings API (Anthropic) answer `None` or an error; a format that
// gains one adds its arms here. The target, not only the format, decides: Gemini's method
// depends on the API (AI Studio or Vertex), Bedrock's body on the model family.

/// Path of the embeddings endpoint below a provider's base path, when the format has one.
pub fn embeddings_path(target: &ProviderTarget) -> Option<String> {
    let model = target.upstream_model;
    match target.format {
        WireFormat::OpenAi => Some(openai::operation_path(
            &PathContext {
                model,
                stream: false,
                api_version: target.api_version,
            },
            openai::embeddings::EMBEDDINGS_PATH,
        )),
        WireFormat::Cohere => Some(cohere::embeddings::EMBED_PATH.to_owned()),
        WireFormat::Gemini => Some(gemini::embeddings::path(
            gemini::embeddings::Api::of(target.base_path),
            model,
        )),
        WireFormat::Bedrock => Some(bedrock::embeddings::path(model)),
        WireFormat::Anthropic => None,
    }
}

pub fn encode_embeddings_request(
    target: &ProviderTarget,
    request: &EmbeddingsRequest,
) -> Result<Value, FieldError> {
    let model = target.upstream_model;
    match target.format {
        WireFormat::OpenAi => Ok(openai::embeddings::encode_request(request, model)),
        WireFormat::Cohere => cohere::embeddings::encode_request(request, model),
        WireFormat::Gemini => Ok(gemini::embeddings::encode_request(
            gemini::embeddings::Api::of(target.base_path),
            request,
            model,
        )),
        WireFormat::Bedrock => bedrock::embeddings::encode_request(request, model),
        WireFormat::Anthropic => Err(FieldError::unsupported(
            "model",
            "is served by a provider without embeddings",
        )),
    }
}

pub fn decode_embeddings_response(
    target: &ProviderTarget,
    body: &[u8],
) -> Result<EmbeddingsResponse, ApiError> {
    match target.format {
        WireFormat::OpenAi => openai::embeddings::decode_response(body),
        WireFormat::Cohere => cohere::embeddings::decode_response(body),
        WireFormat::Gemini => {
            gemini::embeddings::decode_response(gemini::embeddings::Api::of(target.base_path), body)
        }
        WireFormat::Bedrock => bedrock::embeddings::decode_response(body, target.upstream_model),
        WireFormat::Anthropic => Err(ApiError::bad_upstream(
            "this provider format has no embeddings",
        )),
    }
}

/// Response header with the input token count, for formats whose embeddings answers may
/// carry none in the body.
pub fn embeddings_tokens_header(format: WireFormat) -> Option<&'static str> {
    match format {
        WireFormat::Bedrock => Some(bedrock::embeddings::INPUT_TOKENS_HEADER),
        WireFormat::OpenAi | WireFormat::Anthropic | WireFormat::Cohere | WireFormat::Gemini => {
            None
        }
    }
}
