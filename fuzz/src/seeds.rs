//! Seeds from the fixtures: every recorded or hand-written request, response and stream,
//! prefixed with the header bytes that make a target read it as what it is.
//!
//! The fixtures are read where they are, never copied into the repository: when
//! `TOLLGATE_FUZZ_SEED_DIR` is set, a target's start-up writes its seeds there (libFuzzer
//! reads its corpus directories only after that), from the fixture trees listed in
//! `TOLLGATE_FUZZ_FIXTURES` (separated by `:`). `make fuzz` sets both.

use std::path::{Path, PathBuf};

use tollgate_core::formats::{codec, WireFormat};
use tollgate_core::framing::Framing;

use crate::{embeddings, push_parser, request, response, FORMATS};

/// What a fixture file holds, from its name and place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request body in `format`, as a client (or the gateway) sends it.
    Request,
    /// A non-streaming response body.
    Response,
    /// A provider stream as sent (`.sse`, or `.bin` for AWS event streams).
    Stream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub kind: Kind,
    pub format: WireFormat,
    /// From an `error-<status>-…` name, else 200.
    pub status: u16,
    pub path: PathBuf,
}

/// Fixture layouts, in-tree and shared:
/// `<…>/<format>/<case>.<ext>` (the case is in `format`),
/// `<…>/<format>/<case>.<target>.<ext>` (an expected translation, so in `target`),
/// requests under a `requests/` directory or named `*.request.json`.
/// Summaries, notes and files of unknown formats are skipped.
pub fn classify(path: &Path) -> Option<Fixture> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let request_named = stem.ends_with(".request");
    let kind = match ext {
        "sse" | "bin" => Kind::Stream,
        "json" if stem.ends_with(".summary") => return None,
        "json" if request_named || in_dir(path, "requests") => Kind::Request,
        "json" => Kind::Response,
        _ => return None,
    };
    let translated_to = stem
        .rsplit_once('.')
        .and_then(|(_, t)| WireFormat::parse(t));
    let format = translated_to.or_else(|| {
        path.ancestors()
            .skip(1)
            .filter_map(|dir| dir.file_name()?.to_str())
            .find_map(WireFormat::parse)
    })?;
    Some(Fixture {
        kind,
        format,
        status: status_of(stem),
        path: path.to_owned(),
    })
}

fn in_dir(path: &Path, dir: &str) -> bool {
    path.ancestors()
        .skip(1)
        .any(|a| a.file_name().is_some_and(|n| n == dir))
}

fn status_of(stem: &str) -> u16 {
    stem.strip_prefix("error-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|code| code.parse().ok())
        .unwrap_or(200)
}

/// Every fixture under `root`, sorted.
pub fn fixtures(root: &Path) -> Vec<Fixture> {
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    files.iter().filter_map(|p| classify(p)).collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Which kind of target the seeds are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A framing parser ([`push_parser`]): every stream fixture in its framing.
    FrameParser(Framing),
    ResponseTranslator,
    RequestTranslator,
    /// Embeddings answers: the harness's own samples ([`embeddings::SAMPLES`]), as no
    /// fixture tree holds any.
    EmbeddingsResponse,
}

/// Header bytes under which `fixture` is an input of `target`: one per case worth starting
/// from (each client format, whole and cut small).
pub fn headers(target: Target, fixture: &Fixture) -> Vec<Vec<u8>> {
    const WHOLE: u16 = 0;
    const SMALL: u16 = 5; // chunks of up to 32 bytes; the fuzzer goes finer from there
    match (target, fixture.kind) {
        (Target::FrameParser(framing), Kind::Stream)
            if codec::stream_framing(fixture.format) == framing =>
        {
            [WHOLE, SMALL]
                .into_iter()
                .map(push_parser::seed_header)
                .collect()
        }
        (Target::ResponseTranslator, Kind::Stream | Kind::Response) => {
            let case = match fixture.kind {
                Kind::Stream => response::Case::stream,
                _ => response::Case::body,
            };
            FORMATS
                .iter()
                .flat_map(|&client| {
                    [WHOLE, SMALL].map(|split| case(fixture.format, client, fixture.status, split))
                })
                .map(|case| case.header())
                .collect()
        }
        (Target::RequestTranslator, Kind::Request) => FORMATS
            .iter()
            .map(|&provider| {
                let case = request::Case {
                    client: fixture.format,
                    provider,
                    flags: 0,
                };
                case.header()
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Writes the seeds of `target` as `TOLLGATE_FUZZ_SEED_DIR` and `TOLLGATE_FUZZ_FIXTURES`
/// say; does nothing when the former is unset. Failures are reported, not fatal: fuzzing
/// without seeds still works.
pub fn write_from_env(target: Target) {
    let Some(dir) = std::env::var_os("TOLLGATE_FUZZ_SEED_DIR") else {
        return;
    };
    let roots = std::env::var_os("TOLLGATE_FUZZ_FIXTURES").unwrap_or_default();
    let dir = PathBuf::from(dir);
    let mut seeds = Vec::new();
    if target == Target::EmbeddingsResponse {
        seeds.extend(embeddings::seeds());
    }
    for root in std::env::split_paths(&roots) {
        for fixture in fixtures(&root) {
            let Ok(body) = std::fs::read(&fixture.path) else {
                eprintln!("seeds: cannot read {}", fixture.path.display());
                continue;
            };
            for mut seed in headers(target, &fixture) {
                seed.extend_from_slice(&body);
                seeds.push(seed);
            }
        }
    }
    let mut written = 0usize;
    for seed in seeds {
        match std::fs::write(dir.join(format!("seed-{written:05}")), &seed) {
            Ok(()) => written += 1,
            Err(err) => eprintln!("seeds: cannot write to {}: {err}", dir.display()),
        }
    }
    eprintln!("seeds: {written} {target:?} seeds in {}", dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_format_status(path: &str) -> Option<(Kind, WireFormat, u16)> {
        classify(Path::new(path)).map(|f| (f.kind, f.format, f.status))
    }

    #[test]
    fn fixture_names_say_what_they_hold() {
        use Kind::*;
        use WireFormat::*;
        let cases = [
            (
                "t/streams/openai/truncated.sse",
                Some((Stream, OpenAi, 200)),
            ),
            (
                "t/streams/openai/truncated.anthropic.sse",
                Some((Stream, Anthropic, 200)),
            ),
            ("t/streams/openai/truncated.anthropic.summary.json", None),
            ("t/requests/cohere/tools.json", Some((Request, Cohere, 200))),
            (
                "t/requests/openai/minimal.cohere.json",
                Some((Request, Cohere, 200)),
            ),
            (
                "t/responses/cohere/error-429-trial-key.json",
                Some((Response, Cohere, 429)),
            ),
            (
                "t/responses/cohere/error-429-x.openai.json",
                Some((Response, OpenAi, 429)),
            ),
            (
                "s/anthropic/message-cache-usage.request.json",
                Some((Request, Anthropic, 200)),
            ),
            ("s/openai/compat/chunks.sse", Some((Stream, OpenAi, 200))),
            ("s/cohere/error-finish.sse", Some((Stream, Cohere, 200))),
            ("s/nosuchformat/stream.sse", None),
            ("s/SOURCES.md", None),
        ];
        for (path, expected) in cases {
            assert_eq!(kind_format_status(path), expected, "{path}");
        }
    }

    #[test]
    fn frame_parsers_get_the_streams_of_their_framing() {
        let sse = classify(Path::new("t/streams/bedrock/x.openai.sse")).unwrap();
        let bin = classify(Path::new("t/streams/bedrock/x.bin")).unwrap();
        for (framing, fixture, seeds) in [
            (Framing::Sse, &sse, 2),
            (Framing::Sse, &bin, 0),
            (Framing::EventStream, &bin, 2),
            (Framing::EventStream, &sse, 0),
        ] {
            let target = Target::FrameParser(framing);
            assert_eq!(
                headers(target, fixture).len(),
                seeds,
                "{framing:?} {fixture:?}"
            );
        }
    }

    #[test]
    fn seeds_cover_every_pair() {
        let fixture = classify(Path::new("t/streams/anthropic/x.sse")).unwrap();
        let headers = headers(Target::ResponseTranslator, &fixture);
        assert_eq!(headers.len(), FORMATS.len() * 2);
        for (header, &client) in headers.iter().step_by(2).zip(FORMATS) {
            let (case, _) = response::Case::read(header);
            assert_eq!(
                (case.provider, case.client),
                (WireFormat::Anthropic, client)
            );
        }
    }
}
