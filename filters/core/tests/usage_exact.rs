//! Exact usage, per provider, for every recorded response and stream in the shared
//! fixtures (`$TOLLGATE_SHARED_FIXTURES`, or `shared/fixtures` next to the repository).
//!
//! Unlike `conformance.rs`, which derives its expectations from the recordings with an
//! independent reader, this file states the normalised numbers outright, worked out by hand
//! from each recording: `[input excluding cache, cache read, cache write, output including
//! reasoning, reasoning]`, `None` where the provider did not say. Every recording must be
//! listed, so a new one cannot go unchecked; each is translated for a client of its own
//! format (passthrough) and of every other format, and the usage must be the same.

mod common;

use std::path::Path;

use common::*;
use tollgate_core::formats::WireFormat;
use tollgate_core::model::Usage;

type Numbers = [Option<u64>; 5];

const fn n(
    input: u64,
    read: Option<u64>,
    write: Option<u64>,
    output: u64,
    reasoning: Option<u64>,
) -> Numbers {
    [Some(input), read, write, Some(output), reasoning]
}

const Z: Option<u64> = Some(0);
const U: Option<u64> = None;

/// Whole (non-streaming) answers, by path under the fixtures.
const WHOLE: &[(&str, Numbers)] = &[
    (
        "anthropic/message-cache-usage.json",
        n(3, Some(1111), Some(418), 33, U),
    ),
    (
        "anthropic/message-text-after-tool-result.json",
        n(566, Z, Z, 126, U),
    ),
    (
        "anthropic/message-thinking-tool-use.json",
        n(398, Z, Z, 155, U),
    ),
    (
        "bedrock/converse-cache-read.json",
        n(2, Some(1322), Z, 5, U),
    ),
    ("bedrock/converse-text.json", n(7, U, U, 30, U)),
    // Cohere: `tokens` (what the model read, preamble included), not `billed_units`.
    ("cohere/chat-v2-text.json", n(70, U, U, 28, U)),
    ("cohere/chat-v2-tool-calls.json", n(906, U, U, 77, U)),
    // Gemini: thoughts are outside the candidates count.
    (
        "gemini/generate-content-function-call.json",
        n(83, Z, U, 220, Some(190)),
    ),
    (
        "gemini/generate-content-text.json",
        n(9, Z, U, 43, Some(34)),
    ),
    ("openai/chat-completion-text.json", n(75, Z, U, 15, Z)),
    ("openai/chat-completion-tool-calls.json", n(50, Z, U, 15, Z)),
    // 62 thinking tokens appear only in `total_tokens` (109 = 35 + 12 + 62).
    (
        "openai/compat/gemini-openai-endpoint-tool-calls.json",
        n(35, U, U, 74, Some(62)),
    ),
];

/// Streams, by path under the fixtures; `None` when the stream reports no usage.
const STREAMS: &[(&str, Option<Numbers>)] = &[
    // Compaction: the two iterations are summed (100 + 181 input, 83 + 8 output).
    (
        "anthropic/stream-cache-read-usage.sse",
        Some(n(281, Some(55096), Z, 91, U)),
    ),
    (
        "anthropic/stream-redacted-thinking.sse",
        Some(n(92, Z, Z, 189, U)),
    ),
    (
        "anthropic/stream-server-tool-then-client-tool.sse",
        Some(n(1591, Z, Z, 175, U)),
    ),
    // message_delta reports output only; the input stays message_start's.
    (
        "anthropic/stream-text-then-tool-use.sse",
        Some(n(377, Z, Z, 65, U)),
    ),
    ("anthropic/stream-text.sse", Some(n(20, Z, Z, 5, U))),
    ("anthropic/stream-thinking.sse", Some(n(43, Z, Z, 282, U))),
    ("anthropic/stream-tool-use.sse", Some(n(656, Z, Z, 74, U))),
    (
        "bedrock/converse-stream-empty-text-delta.bin",
        Some(n(70, U, U, 43, U)),
    ),
    (
        "bedrock/converse-stream-reasoning.bin",
        Some(n(36, U, U, 73, U)),
    ),
    ("bedrock/converse-stream-text.bin", Some(n(13, U, U, 82, U))),
    (
        "bedrock/converse-stream-tool-use.bin",
        Some(n(471, U, U, 91, U)),
    ),
    ("cohere/chat-v2-stream-text.sse", Some(n(70, U, U, 69, U))),
    (
        "cohere/chat-v2-stream-tool-call.sse",
        Some(n(906, U, U, 77, U)),
    ),
    // `cached_tokens` is inside `tokens.input_tokens` (1394 - 1360, 1549 - 1504).
    (
        "cohere/payload-chunks/chat-v2-stream-reasoning.chunks.jsonl",
        Some(n(34, Some(1360), U, 54, U)),
    ),
    (
        "cohere/payload-chunks/chat-v2-stream-tool-call.chunks.jsonl",
        Some(n(45, Some(1504), U, 95, U)),
    ),
    (
        "gemini/stream-function-call.sse",
        Some(n(29, Z, U, 212, Some(202))),
    ),
    // Cumulative reports: the last one (13 prompt, 8 candidates) wins.
    ("gemini/stream-text.sse", Some(n(13, Z, U, 8, Z))),
    (
        "gemini/stream-thoughts-token-count.sse",
        Some(n(18, Z, U, 115, Some(35))),
    ),
    (
        "gemini/payload-chunks/vertex-stream-function-call-partial-args.chunks.jsonl",
        Some(n(26, Z, U, 155, Some(132))),
    ),
    (
        "openai/compat/deepseek-stream-reasoning-usage-on-finish-chunk.sse",
        Some(n(6, Z, U, 212, Some(198))),
    ),
    ("openai/compat/groq-stream-mid-stream-error-event.sse", None),
    (
        "openai/compat/groq-stream-usage-in-x_groq-and-usage.sse",
        Some(n(304, U, U, 49, Some(23))),
    ),
    // As recorded: OpenRouter reports more reasoning than completion tokens here.
    (
        "openai/compat/openrouter-stream-comments-and-error-chunk.sse",
        Some(n(43, Z, U, 10, Some(11))),
    ),
    (
        "openai/compat/openrouter-stream-usage-empty-choices.sse",
        Some(n(254, Z, Z, 5, Z)),
    ),
    ("openai/stream-text-gpt-5.sse", Some(n(13, Z, U, 11, Z))),
    (
        "openai/stream-text-include-usage.sse",
        Some(n(14, Z, U, 8, Z)),
    ),
    (
        "openai/stream-tool-call-args-fragments.sse",
        Some(n(423, Z, U, 15, Z)),
    ),
    (
        "openai/stream-tool-call-gpt-4o-mini.sse",
        Some(n(53, Z, U, 15, Z)),
    ),
    (
        "openai/stream-tool-calls-parallel.sse",
        Some(n(364, Z, U, 40, Z)),
    ),
];

fn numbers(usage: Option<&Usage>) -> Option<Numbers> {
    usage.map(|u| {
        [
            u.input_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.output_tokens,
            u.reasoning_tokens,
        ]
    })
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn every_recorded_stream_reports_its_exact_usage() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    let recorded = recorded_streams(&root);
    assert_eq!(
        recorded.len(),
        STREAMS.len(),
        "every recorded stream is listed"
    );
    for (provider, path, body) in recorded {
        let name = relative(&root, &path);
        let Some((_, expected)) = STREAMS.iter().find(|(p, _)| *p == name) else {
            panic!("{name}: not listed in STREAMS");
        };
        for client in FORMATS {
            for wants_usage in [false, true] {
                let (_, translator) = Run::stream(client, provider, wants_usage).one_shot(&body);
                assert_eq!(
                    numbers(translator.usage()),
                    *expected,
                    "{name} for a {client:?} client"
                );
            }
        }
    }
}

#[test]
fn every_recorded_answer_reports_its_exact_usage() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    let mut seen = 0;
    for (provider, dir) in format_dirs(&root) {
        for path in files(&dir, ".json") {
            let name = relative(&root, &path);
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            if file.ends_with(".request.json") || file.contains("error-") {
                continue;
            }
            let Some((_, expected)) = WHOLE.iter().find(|(p, _)| *p == name) else {
                panic!("{name}: not listed in WHOLE");
            };
            seen += 1;
            let body = read(&path);
            for client in FORMATS {
                let (_, translator) = Run::body(client, provider, 200).one_shot(&body);
                assert_eq!(
                    numbers(translator.usage()),
                    Some(*expected),
                    "{name} for a {client:?} client"
                );
            }
        }
    }
    assert_eq!(seen, WHOLE.len(), "every listed answer was found");
}

#[test]
fn streams_split_anywhere_report_the_same_usage() {
    let Some(root) = shared_fixtures() else {
        return;
    };
    for (provider, path, body) in recorded_streams(&root) {
        let name = relative(&root, &path);
        let expected = STREAMS
            .iter()
            .find(|(p, _)| *p == name)
            .and_then(|(_, e)| *e);
        // One byte at a time: the hardest split for the framing parsers.
        let pieces: Vec<&[u8]> = body.chunks(1).collect();
        let (_, translator) = Run::stream(WireFormat::OpenAi, provider, false).feed(pieces);
        assert_eq!(
            numbers(translator.usage()),
            expected,
            "{name}: byte by byte"
        );
    }
}
