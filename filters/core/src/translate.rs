//! Request and response translation between a client's wire format and a provider's.
//!
//! Same-format traffic takes a passthrough path: the request only gets its model replaced
//! (and, for OpenAI streams, `stream_options.include_usage` forced on so tokens can be
//! counted); responses are forwarded byte for byte, event by event, and only parsed for usage.
//! Cross-format traffic is decoded into the canonical model and encoded again.
//!
//! [`ResponseTranslator`] is a push state machine: the shell feeds body chunks as Envoy hands
//! them over, split anywhere, and forwards whatever comes back at once.

use serde::de::IgnoredAny;

use crate::error::GatewayError;
use crate::formats::codec::{self, StreamDecoder, StreamEncoder};
use crate::formats::fields::{parse_object, Fields};
use crate::formats::path::PathContext;
use crate::formats::tool_names::ToolNameMap;
use crate::formats::WireFormat;
use crate::framing::{Frame, FrameParser};
use crate::guardrails::{denied_error, OutputGuard, Stage};
use crate::model::{ApiError, BlockStart, ContentPart, Request, StopReason, StreamEvent, Usage};
use crate::sse::DEFAULT_MAX_EVENT_BYTES;
use crate::tool_calls::{self, ToolCall, ToolCallLog};
use crate::usage_estimate;

// === requests ===

/// Where a request goes.
#[derive(Debug, Clone, Copy)]
pub struct ProviderTarget<'a> {
    pub format: WireFormat,
    /// Path prefix of the provider's API, e.g. `/v1`, without trailing slash.
    pub base_path: &'a str,
    /// Model name the provider knows.
    pub upstream_model: &'a str,
    /// API version the provider is configured with (Azure OpenAI's `api-version`), which
    /// some formats put into the endpoint path.
    pub api_version: Option<&'a str>,
}

/// A request ready for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// Full path (and query, when the format needs one): the base path, then the format's
    /// endpoint for this model and request, e.g. `{base_path}/chat/completions`.
    pub path: String,
    /// Provider-format JSON with the model replaced.
    pub body: Vec<u8>,
    /// Headers the provider needs besides authentication; set them, replacing client values.
    pub headers: Vec<(&'static str, String)>,
    pub stream: bool,
    /// An OpenAI client asked for `stream_options.include_usage`.
    pub client_wants_stream_usage: bool,
    /// Tool names the provider sees in place of the client's; hand it to
    /// [`ResponseTranslator::with_tool_names`].
    pub tool_names: ToolNameMap,
    /// Characters of text in the client's request, for estimating its input tokens should
    /// the provider not report them (see [`usage_estimate`]).
    pub input_chars: u64,
    /// Ids of the tool calls whose results this request brings back (see
    /// [`tool_calls::new_tool_results`]).
    pub tool_results: Vec<String>,
}

/// Translates a client request body for `target`.
///
/// Errors are `InvalidRequest` and name the offending field; they never quote request
/// content.
pub fn translate_request(
    client: WireFormat,
    target: &ProviderTarget,
    body: &[u8],
) -> Result<UpstreamRequest, GatewayError> {
    translate_request_inspected(client, target, body, None)
}

/// Inspects the canonical request (input guardrails) before it is encoded for the
/// provider: `inspect` may change it and returns whether it did. The request is decoded
/// even for a same-format provider; it stays byte-for-byte passthrough unless changed.
pub type Inspect<'a> = &'a mut dyn FnMut(&mut Request) -> Result<bool, GatewayError>;

/// [`translate_request`] with the canonical request shown to `inspect` first.
pub fn translate_request_inspected(
    client: WireFormat,
    target: &ProviderTarget,
    body: &[u8],
    inspect: Option<Inspect>,
) -> Result<UpstreamRequest, GatewayError> {
    let mut value = parse_object(body)?;
    let input_chars = usage_estimate::request_chars(&value);
    let stream = Fields::new(&value, "")?.bool("stream")?.unwrap_or(false);
    let client_wants_stream_usage = client == WireFormat::OpenAi
        && stream
        && crate::formats::openai::request::wants_stream_usage(&value);
    // The canonical request, when it was needed (inspection) and whether inspection changed it.
    let (decoded, changed) = match inspect {
        Some(inspect) => {
            let mut request = codec::decode_request(client, &value)?;
            let changed = inspect(&mut request)?;
            (Some(request), changed)
        }
        None => (None, false),
    };
    let (upstream, tool_names, tool_results) = if client == target.format && !changed {
        // Decoded only for the tool results the step record links; a request the canonical
        // model cannot read still passes through, unlinked.
        let tool_results = match decoded {
            Some(request) => tool_calls::new_tool_results(&request),
            None => tool_calls::new_tool_results_raw(client, &value).unwrap_or_else(|| {
                codec::decode_request(client, &value)
                    .map(|request| tool_calls::new_tool_results(&request))
                    .unwrap_or_default()
            }),
        };
        codec::prepare_passthrough(target.format, &mut value, target.upstream_model, stream);
        (value, ToolNameMap::default(), tool_results)
    } else {
        let request = match decoded {
            Some(request) => request,
            None => codec::decode_request(client, &value)?,
        };
        let body = codec::encode_request(target.format, &request, target.upstream_model)?;
        let tool_results = tool_calls::new_tool_results(&request);
        (
            body,
            codec::tool_names(target.format, &request),
            tool_results,
        )
    };
    let context = PathContext {
        model: target.upstream_model,
        stream,
        api_version: target.api_version,
    };
    Ok(UpstreamRequest {
        path: format!(
            "{}{}",
            target.base_path,
            codec::endpoint_path(target.format, &context)
        ),
        body: upstream.to_string().into_bytes(),
        headers: codec::upstream_headers(target.format),
        stream,
        client_wants_stream_usage,
        tool_names,
        input_chars,
        tool_results,
    })
}

// === responses ===

/// How a response has gone so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// More body is expected.
    InProgress,
    /// The provider finished the answer.
    Completed,
    /// The provider reported an error, sent something unreadable, or cut the stream short;
    /// [`ResponseTranslator::error`] says which.
    Failed,
}

/// Translates one response body, chunk by chunk.
#[derive(Debug)]
pub struct ResponseTranslator {
    client: WireFormat,
    provider: WireFormat,
    status: u16,
    client_status: u16,
    client_wants_stream_usage: bool,
    /// The body is an event stream (the request streamed and the provider said yes).
    streaming: bool,
    created: u64,
    /// Reported as the model when the provider's answer names none.
    model: String,
    state: State,
    usage: Usage,
    /// Characters of generated text seen, for estimating output tokens.
    output_chars: u64,
    /// The provider finished its answer (a stream's end, a whole body decoded), so its last
    /// usage report is final, whatever the gateway then did with the answer.
    provider_finished: bool,
    stop_reason: Option<StopReason>,
    outcome: Outcome,
    error: Option<ApiError>,
    tool_names: ToolNameMap,
    /// The tool calls the answer asks for, under the client's tool names.
    tool_calls: ToolCallLog,
    /// The provider's error type from a response header, for formats that put it there.
    error_type: Option<String>,
    /// Reported as the answer's id when the provider's answer names none (Bedrock's).
    fallback_id: String,
    /// Output guardrails; a guarded stream is re-encoded from canonical events.
    guard: Option<OutputGuard>,
}

#[derive(Debug)]
enum State {
    /// Non-streaming or error response: collected until the end.
    Buffering(Vec<u8>),
    Streaming(Box<Stream>),
    Closed,
}

#[derive(Debug)]
struct Stream {
    parser: FrameParser,
    decoder: StreamDecoder,
    output: Output,
}

// `Stream` is boxed once per response, so the encoder's size does not matter here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Output {
    /// Same format: forward each event's bytes as received.
    Forward {
        /// Drop chunks that only carry usage (the client did not ask for them; the gateway
        /// did, to count tokens).
        strip_usage_only: bool,
    },
    Translate(StreamEncoder),
}

impl ResponseTranslator {
    /// `stream`: the request streamed. `client_wants_stream_usage`: from
    /// [`UpstreamRequest`]. `status`: the provider's HTTP status.
    pub fn new(
        client: WireFormat,
        provider: WireFormat,
        stream: bool,
        client_wants_stream_usage: bool,
        status: u16,
    ) -> ResponseTranslator {
        let streaming = stream && is_success(status);
        let mut translator = ResponseTranslator {
            client,
            provider,
            status,
            client_status: status,
            client_wants_stream_usage,
            streaming,
            created: 0,
            model: String::new(),
            state: State::Buffering(Vec::new()),
            usage: Usage::default(),
            output_chars: 0,
            provider_finished: false,
            stop_reason: None,
            outcome: Outcome::InProgress,
            error: None,
            tool_names: ToolNameMap::default(),
            tool_calls: ToolCallLog::default(),
            error_type: None,
            fallback_id: String::new(),
            guard: None,
        };
        if streaming {
            let stream = translator.new_stream(DEFAULT_MAX_EVENT_BYTES);
            translator.state = State::Streaming(Box::new(stream));
        }
        translator
    }

    /// Unix seconds to put in OpenAI `created` fields when the provider gives none
    /// (Anthropic never does). The core has no clock; the shell passes the time in.
    /// Builder: call before the first [`feed`](Self::feed).
    pub fn with_created(mut self, unix_secs: u64) -> ResponseTranslator {
        self.created = unix_secs;
        self.rebuild_stream(DEFAULT_MAX_EVENT_BYTES);
        self
    }

    /// The model name to report when the provider's answer names none (Cohere and Bedrock
    /// never do; the gateway knows which model it asked for). Builder: call before the first
    /// [`feed`](Self::feed).
    pub fn with_model(mut self, model: &str) -> ResponseTranslator {
        self.model = model.to_owned();
        self
    }

    /// Bound on one provider stream event; a larger one ends the stream with an error.
    /// Builder: call before the first [`feed`](Self::feed).
    pub fn with_max_event_bytes(mut self, max: usize) -> ResponseTranslator {
        self.rebuild_stream(max);
        self
    }

    /// Gives tool calls in the answer the names the client used (from
    /// [`UpstreamRequest::tool_names`]). Builder: call before the first [`feed`](Self::feed).
    pub fn with_tool_names(mut self, tool_names: ToolNameMap) -> ResponseTranslator {
        self.tool_names = tool_names;
        self
    }

    /// The value of the provider format's error-type response header
    /// ([`codec::error_type_header`]), when it has one. Builder: call before the first
    /// [`feed`](Self::feed).
    pub fn with_error_type(mut self, error_type: Option<String>) -> ResponseTranslator {
        self.error_type = error_type;
        self
    }

    /// The id to report when the provider's answer names none (Bedrock never does; the
    /// shell passes Envoy's request id). Builder: call before the first [`feed`](Self::feed).
    pub fn with_fallback_id(mut self, id: &str) -> ResponseTranslator {
        id.clone_into(&mut self.fallback_id);
        self
    }

    /// Runs the answer through output guardrails (and unmasking) before it is encoded.
    /// Builder: call before the first [`feed`](Self::feed).
    pub fn with_guard(mut self, guard: OutputGuard) -> ResponseTranslator {
        self.guard = Some(guard);
        self.rebuild_stream(DEFAULT_MAX_EVENT_BYTES);
        self
    }

    /// The output guard, to read its findings once the answer is through.
    pub fn guard(&self) -> Option<&OutputGuard> {
        self.guard.as_ref()
    }

    /// The output guard, to take the texts it collected for output callouts.
    pub fn guard_mut(&mut self) -> Option<&mut OutputGuard> {
        self.guard.as_mut()
    }

    fn rebuild_stream(&mut self, max_event_bytes: usize) {
        if matches!(self.state, State::Streaming(_)) {
            self.state = State::Streaming(Box::new(self.new_stream(max_event_bytes)));
        }
    }

    fn new_stream(&self, max_event_bytes: usize) -> Stream {
        let parser = FrameParser::new(codec::stream_framing(self.provider), max_event_bytes);
        let (parser, output) = if self.client == self.provider && self.guard.is_none() {
            let strip_usage_only =
                self.client == WireFormat::OpenAi && !self.client_wants_stream_usage;
            (parser.keeping_raw(), Output::Forward { strip_usage_only })
        } else {
            let encoder =
                StreamEncoder::new(self.client, self.client_wants_stream_usage, self.created);
            (parser, Output::Translate(encoder))
        };
        Stream {
            parser,
            decoder: StreamDecoder::new(self.provider),
            output,
        }
    }

    /// True when the whole body is needed before any output (non-streaming responses and
    /// error statuses). The shell then buffers and calls [`feed`](Self::feed) once with
    /// `end_of_stream`; feeding in pieces works too.
    pub fn buffers_whole_body(&self) -> bool {
        matches!(self.state, State::Buffering(_))
    }

    /// Pushes one chunk of the provider body (split anywhere) and returns the client-format
    /// bytes to forward now. Never panics: unreadable provider output becomes a client-format
    /// error (for streams an error event; OpenAI streams then get no `[DONE]`). Input after
    /// the response is complete or failed is ignored.
    pub fn feed(&mut self, chunk: &[u8], end_of_stream: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.state = match std::mem::replace(&mut self.state, State::Closed) {
            State::Closed => State::Closed,
            State::Buffering(mut body) => {
                body.extend_from_slice(chunk);
                if end_of_stream {
                    out = self.finish_buffered(body);
                    State::Closed
                } else {
                    State::Buffering(body)
                }
            }
            State::Streaming(mut stream) => {
                if self.feed_stream(&mut stream, chunk, end_of_stream, &mut out) {
                    State::Streaming(stream)
                } else {
                    State::Closed
                }
            }
        };
        out
    }

    /// Usage as normalised so far; complete after the end of the body when the provider
    /// reported it. `None` when the provider reported nothing.
    pub fn usage(&self) -> Option<&Usage> {
        (!self.usage.is_empty()).then_some(&self.usage)
    }

    /// Characters of generated text (text, reasoning, tool arguments) the provider sent so
    /// far, for estimating output tokens when it reports none.
    pub fn output_chars(&self) -> u64 {
        self.output_chars
    }

    /// The usage to record once the answer is over (or abandoned): what the provider
    /// reported when the answer completed with it, else an estimate (see
    /// [`usage_estimate::settle`]); `input_chars` from [`UpstreamRequest`]. `None` for an
    /// error status: the provider charges nothing for those, and reports nothing.
    pub fn settled_usage(&self, input_chars: u64) -> Option<usage_estimate::Settled> {
        if !is_success(self.status) {
            return None;
        }
        Some(usage_estimate::settle(
            self.usage(),
            self.provider_finished,
            input_chars,
            self.output_chars,
        ))
    }

    /// The tool calls the answer asked for so far, under the client's tool names.
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.tool_calls.calls()
    }

    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stop_reason.as_ref()
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The first error seen: reported by the provider, or detected by the gateway (code
    /// `bad_upstream_response` for unreadable output, `stream_truncated` for a cut stream).
    pub fn error(&self) -> Option<&ApiError> {
        self.error.as_ref()
    }

    /// The HTTP status to send the client: the provider's, except that an unreadable
    /// non-streaming answer becomes 502 (a streaming answer's status is already sent).
    pub fn client_status(&self) -> u16 {
        self.client_status
    }

    /// Content type of the body [`feed`](Self::feed) returns.
    pub fn content_type(&self) -> &'static str {
        if self.streaming {
            codec::stream_framing(self.client).content_type()
        } else {
            "application/json"
        }
    }

    // --- buffered bodies ---

    fn finish_buffered(&mut self, body: Vec<u8>) -> Vec<u8> {
        let same_format = self.client == self.provider;
        if !is_success(self.status) {
            let err = codec::decode_error(
                self.provider,
                &body,
                self.status,
                self.error_type.as_deref(),
            );
            self.record_error(err.clone());
            if same_format && is_json(&body) {
                return body;
            }
            return codec::encode_error(self.client, &err)
                .to_string()
                .into_bytes();
        }
        match codec::decode_response(self.provider, &body) {
            Ok(mut response) => {
                self.fill_identity(&mut response.id, &mut response.model);
                for part in &mut response.content {
                    if let ContentPart::ToolCall { name, .. } = part {
                        self.tool_names.restore(name);
                    }
                }
                self.tool_calls.observe_content(&response.content);
                self.usage = response.usage;
                self.output_chars = usage_estimate::content_chars(&response.content);
                self.provider_finished = true;
                self.stop_reason.clone_from(&response.stop_reason);
                let guarded = self.guard.as_mut().map(|g| g.whole(&mut response));
                if let Some(denial) = guarded.as_ref().and_then(|g| g.denied.as_ref()) {
                    let err = ApiError::from(&denied_error(Stage::Output, denial));
                    self.record_error(err.clone());
                    self.client_status = err.class.status();
                    return codec::encode_error(self.client, &err)
                        .to_string()
                        .into_bytes();
                }
                self.outcome = Outcome::Completed;
                if same_format && !guarded.is_some_and(|g| g.changed) {
                    body
                } else {
                    codec::encode_response(self.client, &response, self.created)
                        .to_string()
                        .into_bytes()
                }
            }
            Err(err) => {
                self.record_error(err.clone());
                // The client can read its own format, whatever the gateway made of it.
                if same_format && is_json(&body) {
                    return body;
                }
                self.client_status = if err.code.as_deref() == Some(BAD_UPSTREAM) {
                    502
                } else {
                    err.class.status()
                };
                codec::encode_error(self.client, &err)
                    .to_string()
                    .into_bytes()
            }
        }
    }

    // --- streams ---

    /// Returns false when the stream is over.
    fn feed_stream(
        &mut self,
        stream: &mut Stream,
        chunk: &[u8],
        end_of_stream: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        let mut events = Vec::new();
        let mut framing = stream.parser.push(chunk, &mut events);
        if end_of_stream && framing.is_ok() {
            framing = stream.parser.finish(&mut events);
        }
        for event in events {
            self.on_event(stream, &event, out);
            if self.translation_failed(stream) {
                return false;
            }
        }
        if let Err(err) = framing {
            self.fail(stream, ApiError::bad_upstream(err.to_string()), out);
            return false;
        }
        if !end_of_stream {
            return true;
        }
        let mut tail = Vec::new();
        stream.decoder.on_end(&mut tail);
        self.emit(stream, &tail, out);
        if self.outcome == Outcome::InProgress {
            let err = ApiError {
                code: Some(TRUNCATED.to_owned()),
                ..ApiError::bad_upstream(
                    "the provider's stream ended before the answer was complete",
                )
            };
            self.fail(stream, err, out);
        }
        false
    }

    fn on_event(&mut self, stream: &mut Stream, frame: &Frame, out: &mut Vec<u8>) {
        let mut canonical = Vec::new();
        stream.decoder.on_frame(frame, &mut canonical);
        for event in &mut canonical {
            match event {
                StreamEvent::BlockStart {
                    block: BlockStart::ToolCall { name, .. },
                    ..
                } => self.tool_names.restore(name),
                StreamEvent::Start { id, model, .. } => self.fill_identity(id, model),
                _ => {}
            }
        }
        self.observe(&canonical);
        let canonical = self.guarded(canonical);
        match &mut stream.output {
            Output::Forward { strip_usage_only } => {
                let usage_only = !canonical.is_empty()
                    && canonical.iter().all(|e| matches!(e, StreamEvent::Usage(_)));
                if !(*strip_usage_only && usage_only) {
                    out.extend_from_slice(frame.raw());
                }
            }
            Output::Translate(encoder) => {
                for e in &canonical {
                    encoder.encode(e, out);
                }
            }
        }
    }

    /// Events after the output guard; its denial is recorded as the stream's error.
    fn guarded(&mut self, events: Vec<StreamEvent>) -> Vec<StreamEvent> {
        let Some(guard) = &mut self.guard else {
            return events;
        };
        let events = guard.process(events);
        if guard.denied().is_some() {
            if let Some(StreamEvent::Error(err)) = events.last() {
                self.record_error(err.clone());
            }
        }
        events
    }

    /// Emits events the gateway produced itself (not carried by a provider event).
    fn emit(&mut self, stream: &mut Stream, events: &[StreamEvent], out: &mut Vec<u8>) {
        self.observe(events);
        let events = &self.guarded(events.to_vec());
        for event in events {
            match (&mut stream.output, event) {
                (Output::Translate(encoder), _) => encoder.encode(event, out),
                (Output::Forward { .. }, StreamEvent::Error(err)) => {
                    out.extend(codec::stream_error(self.client, err));
                }
                (Output::Forward { .. }, _) => {}
            }
        }
    }

    fn fail(&mut self, stream: &mut Stream, err: ApiError, out: &mut Vec<u8>) {
        self.emit(stream, &[StreamEvent::Error(err)], out);
    }

    /// A translated stream ends at its first error; a forwarded one goes on carrying what
    /// the provider sends (OpenRouter, for one, sends `[DONE]` after an error chunk).
    fn translation_failed(&self, stream: &Stream) -> bool {
        matches!(stream.output, Output::Translate(_)) && self.outcome == Outcome::Failed
    }

    fn fill_identity(&self, id: &mut String, model: &mut String) {
        if id.is_empty() {
            id.clone_from(&self.fallback_id);
        }
        if model.is_empty() {
            model.clone_from(&self.model);
        }
    }

    fn observe(&mut self, events: &[StreamEvent]) {
        for event in events {
            self.tool_calls.observe_event(event);
            match event {
                StreamEvent::Start { usage, .. } | StreamEvent::Usage(usage) => {
                    self.usage.update(usage);
                }
                StreamEvent::Finish { reason, .. } => self.stop_reason = Some(reason.clone()),
                StreamEvent::BlockDelta { delta, .. } => {
                    self.output_chars = self
                        .output_chars
                        .saturating_add(usage_estimate::delta_chars(delta));
                }
                StreamEvent::End => {
                    self.provider_finished = true;
                    if self.outcome == Outcome::InProgress {
                        self.outcome = Outcome::Completed;
                    }
                }
                StreamEvent::Error(err) => self.record_error(err.clone()),
                StreamEvent::BlockStart { .. } | StreamEvent::BlockStop { .. } => {}
            }
        }
    }

    fn record_error(&mut self, err: ApiError) {
        self.outcome = Outcome::Failed;
        if self.error.is_none() {
            self.error = Some(err);
        }
    }
}

/// Whether a provider response with this `content-type` is a stream in the provider's
/// framing (a provider answering a stream request with JSON is sending an error).
pub fn is_stream_response(provider: WireFormat, content_type: &str) -> bool {
    codec::stream_framing(provider).matches(content_type)
}

/// Code of gateway-detected unreadable provider output.
const BAD_UPSTREAM: &str = "bad_upstream_response";
/// Code of a provider stream that ended before the answer was complete.
const TRUNCATED: &str = "stream_truncated";

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(body).is_ok()
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
