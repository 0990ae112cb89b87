//! Split invariance: Envoy hands bodies over in arbitrary chunks, so the translated output
//! must not depend on where a provider stream is cut.
//!
//! For every stream fixture (the in-tree ones and the shared recordings when present, the
//! payload-only Cohere and Gemini recordings framed as SSE, Bedrock's binary event streams), in every direction (translated
//! to each other client format, and same-format passthrough with usage-chunk stripping), the
//! output of feeding the stream byte by byte, and of feeding it in two pieces cut at a byte
//! boundary, must equal the one-shot output byte for byte (so the event sequence is equal
//! too), with the same usage and outcome.
//!
//! Two-piece cuts are exhaustive (every byte boundary) for the in-tree fixtures and for
//! recordings up to [`EXHAUSTIVE_BYTES`]; that costs O(n²), so longer recordings get a fixed
//! sample of cuts around line ends (inside CRLF, at blank lines) and across the body. Set
//! `TOLLGATE_EXHAUSTIVE_SPLITS=1` to cut every recording at every byte boundary (minutes in
//! a debug build; use `--release`).

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::*;
use tollgate_core::formats::WireFormat;

/// Recordings up to this size are cut at every byte boundary by default.
const EXHAUSTIVE_BYTES: usize = 2560;
/// Cuts tried on longer streams by default.
const SAMPLED_CUTS: usize = 150;

struct Fixture {
    provider: WireFormat,
    path: PathBuf,
    body: Vec<u8>,
    /// Cut at every byte boundary whatever its size.
    exhaustive: bool,
}

fn stream_fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for format in FORMATS {
        let dir = testdata().join("streams").join(format.as_str());
        for path in files(&dir, stream_suffix(format)) {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            if stem.is_some_and(|s| !s.contains('.')) {
                // inputs only, not expectations
                out.push(Fixture {
                    provider: format,
                    body: read(&path),
                    path,
                    exhaustive: true,
                });
            }
        }
    }
    if let Some(root) = shared_fixtures() {
        out.extend(
            recorded_streams(&root)
                .into_iter()
                .map(|(provider, path, body)| Fixture {
                    provider,
                    path,
                    body,
                    exhaustive: false,
                }),
        );
    }
    out
}

fn exhaustive_requested() -> bool {
    std::env::var_os("TOLLGATE_EXHAUSTIVE_SPLITS").is_some()
}

/// Byte offsets where a line ends (just past each `\n` or lone `\r`).
fn line_ends(body: &[u8]) -> Vec<usize> {
    body.iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && body.get(i + 1) != Some(&b'\n')))
        .map(|(i, _)| i + 1)
        .collect()
}

/// For an event stream (it starts with a big-endian length, so a zero byte): every offset
/// inside each frame's 12-byte prelude and around its 4-byte message checksum.
fn frame_bounds(body: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut start = 0usize;
    while let Some(length) = body.get(start..start + 4) {
        let total = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        out.extend(start..=start + 13);
        out.extend((start + total).saturating_sub(5)..=start + total);
        start += total.max(1);
    }
    out
}

/// The cuts to try on `body`.
fn cuts(body: &[u8], exhaustive: bool) -> Vec<usize> {
    let len = body.len();
    if exhaustive || exhaustive_requested() || len <= EXHAUSTIVE_BYTES {
        return (0..=len).collect();
    }
    let mut cuts: Vec<usize> = (0..16).chain(len.saturating_sub(16)..=len).collect();
    // Around line ends (inside CRLF, at blank lines), at evenly spread ones; for binary
    // event streams, inside and around every frame's prelude and checksum.
    let ends = if body.starts_with(b"\0") {
        frame_bounds(body)
    } else {
        line_ends(body)
    };
    let step = if body.starts_with(b"\0") {
        1
    } else {
        (ends.len() / (SAMPLED_CUTS / 6)).max(1)
    };
    for end in ends.iter().step_by(step) {
        cuts.extend(end.saturating_sub(2)..=(end + 1).min(len));
    }
    // Across the body, at varying phases.
    let stride = (len / (SAMPLED_CUTS / 3)).max(1);
    cuts.extend(
        (0..len)
            .step_by(stride)
            .enumerate()
            .map(|(i, c)| (c + i * 7) % len),
    );
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn check(fixture: &Fixture) {
    let Fixture {
        provider,
        path,
        body,
        exhaustive,
    } = fixture;
    let provider = *provider;
    // To every other client format, and same-format passthrough.
    let runs = FORMATS.map(|client| Run::stream(client, provider, client != provider));
    let cuts = cuts(body, *exhaustive);
    for run in runs {
        let context = format!("{} as {:?}", path.display(), run.client);
        let (whole, reference) = run.one_shot(body);
        let same = |out: &[u8], t: &tollgate_core::translate::ResponseTranslator, how: &str| {
            assert!(out == whole, "{context}: {how} differs from one-shot");
            assert_eq!(t.usage(), reference.usage(), "{context}: {how} usage");
            assert_eq!(t.outcome(), reference.outcome(), "{context}: {how} outcome");
        };
        let (out, t) = run.feed(body.chunks(1));
        same(&out, &t, "byte by byte");
        for &cut in &cuts {
            let (head, tail) = body.split_at(cut);
            let (out, t) = run.feed([head, tail]);
            same(&out, &t, &format!("cut at {cut}"));
        }
    }
}

#[test]
fn output_does_not_depend_on_where_the_stream_is_cut() {
    let fixtures = stream_fixtures();
    assert!(fixtures.len() >= 16, "stream fixtures missing");
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(fixture) = fixtures.get(i) else {
                    break;
                };
                let result = std::panic::catch_unwind(|| check(fixture));
                if let Err(panic) = result {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(message);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sampled_cuts_cover_line_ends_and_both_ends() {
    let body = b"data: 1\r\n\r\ndata: 2\n\n".repeat(400);
    let cuts = cuts(&body, false);
    assert!(cuts.contains(&0) && cuts.contains(&body.len()));
    // a cut between a CR and its LF
    assert!(cuts
        .iter()
        .any(|&c| c > 0 && body[c - 1] == b'\r' && body.get(c) == Some(&b'\n')));
    assert!(cuts.len() < body.len() / 4 || exhaustive_requested());
}
