//! Translation micro-benchmark: what the provider filter spends per request, per
//! non-streaming response and per stream chunk, for each provider format, natively.
//!
//! `cargo bench -p tollgate-core --bench translate` (part of `make bench`). Plain
//! `std::time::Instant` rather than a benchmark framework, to keep the build light; each
//! figure is the median of several timed batches, each batch long enough to dwarf the
//! clock's resolution. Inputs are the in-tree fixtures, read at start-up:
//!
//! - request: the OpenAI client body [`REQUEST`] (about 2 KB: tools, images, tool history)
//!   translated for the provider ([`BEDROCK_REQUEST`] for Bedrock);
//! - response: the provider's non-streaming answer translated for an OpenAI client;
//! - stream: the provider's stream fed one frame at a time (as providers flush them: an SSE
//!   event, or for Bedrock one binary event-stream message) and translated for an OpenAI
//!   client that asked for the usage chunk; the figure is the whole stream's cost,
//!   translator included, divided by its number of frames.
//!
//! An OpenAI provider is the same-format passthrough path (model rewrite, usage parsing).

use std::hint::black_box;
use std::path::PathBuf;

use tollgate_core::formats::{codec, WireFormat};
use tollgate_core::framing::FrameParser;
use tollgate_core::translate::{translate_request, Outcome, ProviderTarget, ResponseTranslator};

/// A provider format, the client request it gets and its sample answers, relative to
/// `testdata/`.
struct Provider {
    format: WireFormat,
    request: &'static str,
    response: &'static str,
    stream: &'static str,
}

/// One line per provider format.
#[rustfmt::skip]
const PROVIDERS: &[Provider] = &[
    Provider { format: WireFormat::OpenAi, request: REQUEST, response: "responses/openai/tool-calls-cached.json", stream: "streams/openai/parallel-tools-crlf.sse" },
    Provider { format: WireFormat::Anthropic, request: REQUEST, response: "responses/anthropic/thinking-text-tool.json", stream: "streams/anthropic/thinking-text-tool.sse" },
    Provider { format: WireFormat::Gemini, request: REQUEST, response: "responses/gemini/thinking-text-calls.json", stream: "streams/gemini/thoughts-text-calls.sse" },
    Provider { format: WireFormat::Bedrock, request: BEDROCK_REQUEST, response: "responses/bedrock/thinking-text-tool.json", stream: "streams/bedrock/thinking-text-tool.bin" },
    Provider { format: WireFormat::Cohere, request: REQUEST, response: "responses/cohere/tool-plan-parallel.json", stream: "streams/cohere/tool-plan-parallel.sse" },
];

/// The client request every provider gets, in OpenAI's format.
const REQUEST: &str = "requests/openai/tools-multiturn.json";
/// Bedrock's: Converse takes no http(s) image URLs, which REQUEST has.
const BEDROCK_REQUEST: &str = "requests/openai/mcp-tools-images.json";

#[path = "support/timing.rs"]
mod timing;

use timing::{per_op, BATCHES, BATCH_TIME};

fn main() {
    println!(
        "translation cost per operation (median of {BATCHES} batches of >= {} ms)",
        BATCH_TIME.as_millis(),
    );
    println!(
        "{:<10} {:>12} {:>14} {:>15}  stream (frames, bytes)",
        "provider", "request µs", "response µs", "stream µs/chunk"
    );
    for provider in PROVIDERS {
        let request = fixture(provider.request);
        let response = fixture(provider.response);
        let stream = frames(provider.format, &fixture(provider.stream));
        check(provider, &request, &response, &stream);

        let request_us = per_op(|| {
            black_box(translate_request(
                WireFormat::OpenAi,
                &target(provider.format),
                black_box(&request),
            ))
        });
        let response_us = per_op(|| {
            let mut translator = body_translator(provider.format);
            black_box(translator.feed(black_box(&response), true))
        });
        let stream_us =
            per_op(|| black_box(translate_stream(provider.format, &stream))) / stream.len() as f64;
        let stream_bytes: usize = stream.iter().map(Vec::len).sum();
        println!(
            "{:<10} {request_us:>12.2} {response_us:>14.2} {stream_us:>15.2}  {} ({} frames, {stream_bytes} bytes); request {} ({} bytes)",
            provider.format.as_str(),
            provider.stream,
            stream.len(),
            provider.request,
            request.len(),
        );
    }
}

fn fixture(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The stream cut into the frames of the provider's framing, raw bytes as sent.
fn frames(provider: WireFormat, body: &[u8]) -> Vec<Vec<u8>> {
    let mut parser = FrameParser::new(codec::stream_framing(provider), usize::MAX).keeping_raw();
    let mut frames = Vec::new();
    parser
        .push(body, &mut frames)
        .expect("fixture stream parses");
    parser.finish(&mut frames).expect("fixture stream parses");
    frames.iter().map(|f| f.raw().to_vec()).collect()
}

fn target(format: WireFormat) -> ProviderTarget<'static> {
    ProviderTarget {
        format,
        base_path: "/v1",
        upstream_model: "upstream-model",
        api_version: None,
    }
}

fn body_translator(provider: WireFormat) -> ResponseTranslator {
    ResponseTranslator::new(WireFormat::OpenAi, provider, false, false, 200)
        .with_created(1_700_000_000)
        .with_model("upstream-model")
}

fn translate_stream(provider: WireFormat, frames: &[Vec<u8>]) -> (usize, Outcome) {
    let mut translator = ResponseTranslator::new(WireFormat::OpenAi, provider, true, true, 200)
        .with_created(1_700_000_000)
        .with_model("upstream-model");
    let mut bytes = 0;
    for (i, frame) in frames.iter().enumerate() {
        bytes += translator.feed(frame, i + 1 == frames.len()).len();
    }
    (bytes, translator.outcome())
}

/// Refuses to time an error path: every sample must translate cleanly.
fn check(provider: &Provider, request: &[u8], response: &[u8], stream: &[Vec<u8>]) {
    let name = provider.format.as_str();
    if let Err(err) = translate_request(WireFormat::OpenAi, &target(provider.format), request) {
        panic!("{name}: request does not translate: {err}");
    }
    let mut translator = body_translator(provider.format);
    translator.feed(response, true);
    assert_eq!(
        translator.outcome(),
        Outcome::Completed,
        "{name}: {}",
        provider.response
    );
    let (_, outcome) = translate_stream(provider.format, stream);
    assert_eq!(outcome, Outcome::Completed, "{name}: {}", provider.stream);
}
